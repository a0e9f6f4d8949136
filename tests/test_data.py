import io
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import mixed_size_folder, tiny_config, write_images
from PIL import Image

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.data import tfds as tfds_source
from tf_cyclegan.data.images import decode, load_resized
from tf_cyclegan.data.pipeline import Unpaired
from tf_cyclegan.data.sources import load_domains
from tf_cyclegan.data.unpaired import folder_domains


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


RGB = Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8))


@pytest.mark.parametrize("name, payload", [
    ("grayscale JPEG", lambda: encoded(RGB.convert("L"), "JPEG")),
    ("CMYK JPEG", lambda: encoded(RGB.convert("CMYK"), "JPEG")),
    ("RGBA PNG", lambda: encoded(RGB.convert("RGBA"), "PNG")),
    ("palette PNG", lambda: encoded(RGB.convert("P"), "PNG")),
    ("16-bit PNG", lambda: encoded(Image.fromarray((np.arange(120, dtype=np.uint16).reshape(12, 10) * 500)), "PNG")),
    ("animated GIF", lambda: encoded(RGB.convert("P"), "GIF", save_all=True, append_images=[RGB.convert("P")])),
    ("BMP", lambda: encoded(RGB, "BMP")),
    ("WebP", lambda: encoded(RGB, "WEBP")),
])
def test_every_mode_decodes_to_rgb_uint8(name, payload):
    image = decode(payload())
    assert image.mode == "RGB" and image.size == (10, 12)
    array = load_resized(payload(), 16)
    assert array.shape == (16, 16, 3) and array.dtype == np.uint8


def test_16_bit_keeps_the_top_byte():
    values = np.array([[0, 256, 65535]], np.uint16)
    assert list(np.asarray(decode(encoded(Image.fromarray(values), "PNG")))[0, :, 0]) == [0, 1, 255]


def test_folder_lists_images_of_any_case_recursively_and_counts_the_rest(tmp_path):
    write_images(tmp_path / "trainA", 2)
    write_images(tmp_path / "trainA" / "nested", 1, ext="JPG")
    write_images(tmp_path / "trainB", 1, ext="JpEg")
    (tmp_path / "trainA" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "trainB" / "README.txt").write_text("hi")
    domains = folder_domains(tmp_path)
    assert len(domains.train_a) == 3 and len(domains.train_b) == 1
    assert domains.test_a is None and domains.ignored == 2


def test_folder_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        folder_domains(tmp_path / "nope")
    write_images(tmp_path / "trainA", 1)
    with pytest.raises(DatasetError, match=r"trainB is missing"):
        folder_domains(tmp_path)
    (tmp_path / "trainB").mkdir()
    (tmp_path / "trainB" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"trainB is empty"):
        folder_domains(tmp_path)


def test_domain_names_come_from_the_folder_name(tmp_path):
    for split in ("trainA", "trainB"):
        write_images(tmp_path / "horse2zebra" / split, 1)
    domains = load_domains(str(tmp_path / "horse2zebra"))
    assert (domains.name_a, domains.name_b) == ("horse", "zebra")


def take(dataset, n):
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset.take(n)]


def test_pipeline_shapes_range_and_epoch_length(image_folder):
    config = tiny_config(batch_size=2)
    unpaired = Unpaired.from_domains(folder_domains(image_folder), config)
    assert unpaired.steps_per_epoch == 5 // 2  # max(|A|, |B|) images per epoch
    ds = unpaired.train_dataset(config)
    assert ds.element_spec[0].shape == (2, 32, 32, 3) and ds.element_spec[0].dtype == tf.float32
    batches = take(ds, 100)
    assert len(batches) == 4  # 1 + 1 epochs of 2 steps
    for x, y in batches:
        assert x.min() >= -1 and x.max() <= 1 and y.min() >= -1 and y.max() <= 1
        assert x.std() > 0.1


def test_pipeline_is_a_pure_function_of_seed_and_step(image_folder):
    config = tiny_config()
    unpaired = Unpaired.from_domains(folder_domains(image_folder), config)
    full = take(unpaired.train_dataset(config), 10)
    again = take(unpaired.train_dataset(config), 10)
    resumed = take(unpaired.train_dataset(config, start_step=4), 6)
    for a, b in zip(full, again):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    for a, b in zip(full[4:], resumed):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    other_seed = take(Unpaired.from_domains(folder_domains(image_folder), tiny_config(seed=1)).train_dataset(
        tiny_config(seed=1)), 10)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(full, other_seed))


def test_each_epoch_visits_every_image_of_the_larger_domain(tmp_path):
    # Images of one flat colour each, so a crop tells which image it came from.
    for split, n in (("trainA", 4), ("trainB", 2)):
        os.makedirs(tmp_path / split)
        for i in range(n):
            Image.new("RGB", (40, 40), (i * 60, 0, 0)).save(tmp_path / split / f"{i}.png")
    config = tiny_config(n_epochs=2, n_epochs_decay=1)
    ds = Unpaired.from_domains(folder_domains(tmp_path), config).train_dataset(config)
    xs = [int(round((x[0, 0, 0, 0] + 1) * 127.5 / 60)) for x, _ in take(ds, 12)]
    assert len(xs) == 12
    for epoch in range(3):
        assert sorted(xs[epoch * 4:(epoch + 1) * 4]) == [0, 1, 2, 3]


def test_no_flip_and_small_images_are_resized_up(tmp_path):
    for split in ("trainA", "trainB"):
        os.makedirs(tmp_path / split)
        gradient = np.tile(np.linspace(0, 255, 10, dtype=np.uint8)[None, :, None], (7, 1, 3))
        Image.fromarray(gradient).save(tmp_path / split / "tiny.png")  # 10x7, smaller than the crop
    config = tiny_config(no_flip=True)
    for x, _ in take(Unpaired.from_domains(folder_domains(tmp_path), config).train_dataset(config), 4):
        assert x.shape == (1, 32, 32, 3)
        assert x[0, 16, 0, 0] < x[0, 16, -1, 0]  # left stays dark: never flipped


def test_max_dataset_size_caps_each_domain(image_folder):
    config = tiny_config(max_dataset_size=2)
    unpaired = Unpaired.from_domains(folder_domains(image_folder), config)
    assert (len(unpaired.x), len(unpaired.y), unpaired.steps_per_epoch) == (2, 2, 2)


def test_direction_btoa_swaps_the_domains(image_folder):
    domains = folder_domains(image_folder)
    unpaired = Unpaired.from_domains(domains, tiny_config(direction="BtoA"))
    assert (len(unpaired.x), len(unpaired.y)) == (3, 5)


def test_batch_larger_than_the_data_is_an_error(image_folder):
    with pytest.raises(DatasetError, match="--batch_size 8 is larger than the dataset"):
        Unpaired.from_domains(folder_domains(image_folder), tiny_config(batch_size=8))


def test_sample_batch_uses_test_images(image_folder):
    x, y = Unpaired.from_domains(folder_domains(image_folder), tiny_config(n_samples=3)).sample_batch(tiny_config(n_samples=3))
    assert x.shape == (2, 32, 32, 3) and y.shape == (2, 32, 32, 3)  # only 2 test images each


# -- TFDS, offline through mock_data --------------------------------------------------------------
@pytest.fixture
def probes(monkeypatch):
    """Stands in for the network probe (mock_data replaces the download itself): records each host."""
    hosts = []
    monkeypatch.setattr(tfds_source, "unreachable", lambda url, **kw: hosts.append(url.split("/")[2]))
    return hosts


def test_tfds_cycle_gan_through_mock_data(probes):
    with tfds.testing.mock_data(num_examples=6):
        domains = load_domains("cycle_gan/horse2zebra")
    assert (domains.name_a, domains.name_b) == ("horse", "zebra")
    assert [len(s) for s in (domains.train_a, domains.train_b, domains.test_a, domains.test_b)] == [6, 6, 6, 6]
    config = tiny_config()
    unpaired = Unpaired.from_domains(domains, config)
    x, y = take(unpaired.train_dataset(config), 1)[0]  # mock images are 5-50 px: resized up, then cropped
    assert x.shape == (1, 32, 32, 3) and y.shape == (1, 32, 32, 3) and -1 <= x.min() and x.max() <= 1


@pytest.mark.parametrize("name", tfds_source.CYCLE_GAN_CONFIGS)
def test_every_cycle_gan_config_loads(name, probes):
    with tfds.testing.mock_data(num_examples=2):
        domains = load_domains(f"cycle_gan/{name}")
    assert len(domains.train_a) == 2 and len(domains.train_b) == 2
    assert probes == ["efrosgans.eecs.berkeley.edu"]


def test_misspelled_cycle_gan_config_lists_the_valid_ones():
    with pytest.raises(DatasetError, match="unknown cycle_gan config 'horse2zebr'; choose one of .*cycle_gan/horse2zebra"):
        load_domains("cycle_gan/horse2zebr")


def test_unknown_tfds_name_is_a_one_line_error():
    with pytest.raises(DatasetError, match="not a folder, 'seasons', or a TFDS dataset") as info:
        load_domains("no_such_dataset_xyz")
    assert "\n" not in str(info.value)


def test_offline_download_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(tfds_source, "unreachable", lambda url, **kw: "efrosgans.eecs.berkeley.edu is unreachable")
    with pytest.raises(DatasetError) as info:
        load_domains("cycle_gan/summer2winter_yosemite", data_dir=str(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert "summer2winter_yosemite.zip" in message and str(tmp_path / "downloads" / "manual") in message
    assert "--dataset /path/to/summer2winter_yosemite" in message


def test_failed_download_is_reported_not_raised(monkeypatch, tmp_path):
    monkeypatch.setattr(tfds_source, "unreachable", lambda url, **kw: None)

    def fail(self, *args, **kwargs):
        raise ConnectionError("404 Client Error: Not Found\nmore detail")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", fail)
    with pytest.raises(DatasetError, match=r"could not download it \(404 Client Error: Not Found\)\. Offline\?"):
        load_domains("cycle_gan/horse2zebra", data_dir=str(tmp_path))


# -- the embedded dataset -------------------------------------------------------------------------
def test_seasons_flows_through_the_same_pipeline():
    domains = load_domains("seasons")
    assert (domains.name_a, domains.name_b) == ("summer", "winter")
    assert len(domains.train_a) == len(domains.train_b) == 400 and len(domains.test_a) == len(domains.test_b) == 40
    assert [os.path.basename(os.path.dirname(p)) for p in (domains.train_a.items[0], domains.test_b.items[0])] == [
        "trainA", "testB"]
    config = tiny_config(load_size=72, crop_size=64)
    unpaired = Unpaired.from_domains(domains, config)
    assert unpaired.steps_per_epoch == 400
    x, y = take(unpaired.train_dataset(config), 1)[0]
    assert x.shape == y.shape == (1, 64, 64, 3)
    # Winter is brighter than summer on average (snow).
    assert y.mean() > x.mean()


def test_serial_batches_take_both_domains_in_order(tmp_path):
    for split, n in (("trainA", 4), ("trainB", 3)):
        os.makedirs(tmp_path / split)
        for i in range(n):
            Image.new("RGB", (40, 40), (i * 60, 0, 0)).save(tmp_path / split / f"{i}.png")
    config = tiny_config(serial_batches=True, n_epochs=1, n_epochs_decay=1)
    ds = Unpaired.from_domains(folder_domains(tmp_path), config).train_dataset(config)
    ids = [(int(round((x[0, 0, 0, 0] + 1) * 127.5 / 60)), int(round((y[0, 0, 0, 0] + 1) * 127.5 / 60)))
           for x, y in take(ds, 8)]
    assert ids == [(0, 0), (1, 1), (2, 2), (3, 0), (0, 0), (1, 1), (2, 2), (3, 0)]


def test_crop_preprocess_takes_an_unresized_window(tmp_path):
    rng = np.random.default_rng(5)
    original = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for split in ("trainA", "trainB"):
        os.makedirs(tmp_path / split)
        Image.fromarray(original).save(tmp_path / split / "0.png")
    config = tiny_config(preprocess="crop", no_flip=True)
    for x, _ in take(Unpaired.from_domains(folder_domains(tmp_path), config).train_dataset(config), 3):
        crop = np.round((x[0] + 1) * 127.5).astype(np.uint8)
        windows = [(r, c) for r in range(48 - 31) for c in range(64 - 31)
                   if np.array_equal(original[r:r + 32, c:c + 32], crop)]
        assert len(windows) == 1  # an exact window of the original: no resampling


@pytest.mark.parametrize("preprocess, size", [("scale_width_and_crop", (90, 30)), ("crop", (20, 12)),
                                              ("resize_and_crop", (90, 30))])
def test_every_preprocess_mode_gives_crop_size_batches(tmp_path, preprocess, size):
    for split in ("trainA", "trainB"):
        write_images(tmp_path / split, 2, size=size)
    config = tiny_config(preprocess=preprocess)
    for x, y in take(Unpaired.from_domains(folder_domains(tmp_path), config).train_dataset(config), 2):
        assert x.shape == y.shape == (1, 32, 32, 3)


def reference_make_power_2(width, height, base=4):
    """junyanz/pytorch-CycleGAN-and-pix2pix data/base_dataset.py __make_power_2 (its --preprocess none)."""
    return int(round(width / base) * base), int(round(height / base) * base)


def reference_scale_width(width, height, target, crop):
    """The reference's __scale_width."""
    if width == target and height >= crop:
        return width, height
    return target, int(max(target * height / width, crop))


# The nearest multiple of 128 on each side, at least 128 (by hand).
UNET_128_SIZES = {(256, 256): (256, 256), (500, 333): (512, 384), (30, 42): (128, 128), (10, 6): (128, 128),
                  (257, 258): (256, 256), (1023, 17): (1024, 128)}


@pytest.mark.parametrize("width, height", [(256, 256), (500, 333), (30, 42), (10, 6), (257, 258), (1023, 17)])
def test_preprocessed_sizes_follow_the_reference(width, height):
    from tf_cyclegan.data.pipeline import preprocessed_size

    none = tiny_config(preprocess="none")
    assert preprocessed_size(width, height, none) == reference_make_power_2(width, height)
    width_only = tiny_config(preprocess="scale_width", load_size=36)
    w, h = reference_scale_width(width, height, 36, 32)
    out_w, out_h = preprocessed_size(width, height, width_only)  # the reference's height, rounded to a multiple of 4
    assert out_w == 36 and out_h % 4 == 0 and abs(out_h - h) <= 2
    with_crop = tiny_config(preprocess="scale_width_and_crop", load_size=36)
    assert preprocessed_size(width, height, with_crop) == reference_scale_width(width, height, 36, 32)
    assert preprocessed_size(width, height, tiny_config()) == (36, 36)
    unet = tiny_config(preprocess="none", netG="unet_128", crop_size=128)
    assert preprocessed_size(width, height, unet) == UNET_128_SIZES[width, height]


def test_no_crop_modes_keep_each_images_own_rounded_size(tmp_path):
    folder = mixed_size_folder(tmp_path)
    config = tiny_config(preprocess="none", no_flip=True, serial_batches=True)
    unpaired = Unpaired.from_domains(folder_domains(folder), config)
    assert unpaired.image_shape is None and unpaired.max_shape == (36, 48)
    shapes = [(x.shape, y.shape) for x, y in take(unpaired.train_dataset(config), 3)]
    assert shapes == [((1, 24, 48, 3), (1, 36, 24, 3)), ((1, 32, 40, 3), (1, 36, 24, 3)),  # 000.jpg, 000.png,
                      ((1, 32, 40, 3), (1, 36, 24, 3))]  # 001.png
    x, _ = take(unpaired.train_dataset(config), 2)[1]
    original = np.asarray(Image.open(folder / "trainA" / "000.png").resize((40, 32), Image.BICUBIC))
    assert np.array_equal(np.round((x[0] + 1) * 127.5).astype(np.uint8), original)

    scale_width = tiny_config(preprocess="scale_width", load_size=40)
    unpaired = Unpaired.from_domains(folder_domains(folder), scale_width)
    assert unpaired.max_shape == (60, 40)  # 24x36 -> 40x60
    for x, y in take(unpaired.train_dataset(scale_width), 4):
        assert x.shape[2] == y.shape[2] == 40 and x.shape[1] % 4 == 0 and y.shape[1] == 60


def test_images_of_different_sizes_cannot_share_a_batch(tmp_path):
    folder = mixed_size_folder(tmp_path)
    with pytest.raises(DatasetError, match=r"--preprocess none: the training images have 3 sizes after "
                                           r"preprocessing \(48x24, 40x32, 24x36\).*use --batch_size 1"):
        Unpaired.from_domains(folder_domains(folder), tiny_config(preprocess="none", batch_size=2))


def test_no_crop_images_of_one_size_batch_at_their_own_shape(tmp_path):
    for split in ("trainA", "trainB"):
        write_images(tmp_path / split, 4, size=(42, 29))
    config = tiny_config(preprocess="none", batch_size=2)
    unpaired = Unpaired.from_domains(folder_domains(tmp_path), config)
    assert unpaired.image_shape == unpaired.max_shape == (28, 40)  # 42 -> 40: Python's round(10.5) is 10
    dataset = unpaired.train_dataset(config)
    assert dataset.element_spec[0].shape.as_list() == [2, 28, 40, 3]
    assert all(x.shape == y.shape == (2, 28, 40, 3) for x, y in take(dataset, 2))
