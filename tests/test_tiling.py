"""Large images: tiles, their blending, shared normalisation statistics, and the one-image Translator."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import load_example
from PIL import Image

import tf_cyclegan
from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.data.seasons import render_scene
from tf_cyclegan.exporting.generator import export_generator
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.models.networks.generators import build_generator
from tf_cyclegan.runtime import processing, tiling
from tf_cyclegan.runtime.shared_norm import keras_tiled_model, shared_layers
from tf_cyclegan.runtime.tiling import TileOptions
from tf_cyclegan.runtime.translator import Translator
from tf_cyclegan.translate import main as translate_main


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def untiled(generator, image):
    return np.asarray(processing.translate_uint8(generator, image[None]))[0]


@pytest.fixture(scope="module")
def generator():
    import keras

    keras.utils.set_random_seed(0)
    return build_generator("resnet_2blocks", ngf=8)


@pytest.fixture(scope="module")
def scene():
    return render_scene(7, "summer", 1024)


# -- where tiles go ----------------------------------------------------------------------------------
@pytest.mark.parametrize("length, tile, overlap", [(100, 512, 64), (512, 512, 64), (513, 512, 64),
                                                   (1024, 512, 64), (4000, 512, 64), (6000, 256, 32),
                                                   (1000, 64, 0), (777, 96, 40), (1000, 512, 64)])
def test_tiles_cover_overlap_and_their_cores_partition_the_line(length, tile, overlap):
    spans = tiling.spans(length, tile, overlap)
    assert spans[0].start == 0 and spans[-1].stop == length
    assert all(s.stop - s.start == min(tile, length) for s in spans)
    assert all(s.start % tiling.GRID == 0 for s in spans[:-1])
    for a, b in zip(spans, spans[1:]):
        assert a.stop - b.start >= overlap and a.stop - b.start == a.after == b.before
        if a.after and (length, tile) != (1000, 512):  # there three tiles overlap: windows() normalises
            np.testing.assert_allclose(tiling.window(a)[-a.after:] + tiling.window(b)[:b.before], 1, atol=1e-6)
        assert a.core_stop == b.core_start and a.core_stop % tiling.GRID == 0
        assert b.start <= b.core_start and a.core_stop <= a.stop
    assert spans[0].core_start == 0 and spans[-1].core_stop == length
    weights = np.zeros(length)
    for s, weight in zip(spans, tiling.windows(spans)):
        weights[s.start:s.stop] += weight
        assert weight.min() > 0
    np.testing.assert_allclose(weights, 1.0, atol=1e-6)


def test_combined_tile_statistics_are_the_whole_images():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (1000, 5)).astype(np.float32)
    y = rng.normal(-1.0, 0.5, (1000, 2)).astype(np.float32)
    cuts = [0, 10, 400, 401, 1000]
    parts = []
    for a, b in zip(cuts, cuts[1:]):
        stats = np.concatenate([x[a:b].mean(0), x[a:b].var(0), y[a:b].mean(0), y[a:b].var(0)])
        parts.append((stats, b - a))
    combined = tiling.combine(parts, [5, 2])
    expected = np.concatenate([x.mean(0), x.var(0), y.mean(0), y.var(0)])
    np.testing.assert_allclose(combined, expected, rtol=1e-5)


@pytest.mark.parametrize("values, message", [
    (dict(tile=30), "--tile 30: must be a multiple of 4"), (dict(tile=4), "--tile 4"),
    (dict(overlap=256), "--overlap 256: must be at least 0 and under half of --tile"),
    (dict(overlap=-1), "--overlap -1"), (dict(norm_stats="exact"), "--norm_stats exact: choose one of"),
    (dict(max_pixels_untiled=0), "--max_pixels_untiled 0"), (dict(thumbnail_pixels=100), "--thumbnail_pixels 100")])
def test_bad_tile_options_name_the_flag(values, message):
    with pytest.raises(ValueError, match=message):
        TileOptions(**values)


def test_the_untiled_limit_follows_the_machines_memory():
    gib = 1024 ** 3
    assert tiling.untiled_pixel_limit(1 * gib) == 1024 * 1024  # the floor
    assert tiling.untiled_pixel_limit(24 * gib) == 24 * gib // 4 // tiling.UNTILED_BYTES_PER_PIXEL
    assert tiling.untiled_pixel_limit(1024 * gib) == 4096 * 4096  # the ceiling
    assert TileOptions(max_pixels_untiled=100).tiles_image(10, 11)
    assert not TileOptions(max_pixels_untiled=110).tiles_image(10, 11)
    assert TileOptions(always_tile=True).tiles_image(1, 1)


# -- the generator's normalisation taken from outside --------------------------------------------------
def _pix2pix_train_mode():
    return inference_generator(build_generator("unet_128", ngf=8, norm="batch", use_dropout=False), "train")


@pytest.mark.parametrize("kind", ["resnet", "cut", "pix2pix_train_mode", "mobile"])
def test_one_tile_with_its_own_statistics_is_the_generator(generator, kind):
    """The graph walk with swapped normalisation computes the generator itself, and given its own
    statistics back gives the same image: the maths of instance norm and of test-mode batch norm."""
    model = {"resnet": lambda: generator, "cut": lambda: build_generator("resnet_1blocks", ngf=8, antialias=True,
                                                                         antialias_up=True),
             "pix2pix_train_mode": _pix2pix_train_mode,
             "mobile": lambda: build_generator("mobile_resnet_2blocks", ngf=8)}[kind]()
    tiled = keras_tiled_model(model)
    assert len(tiled.widths) == len(shared_layers(model)) > 0
    image = render_scene(3, "winter", 128)
    y, stats = tiled.run(image, None, np.array([0, 0, 1, 1], np.float32))
    expected = np.asarray(processing.translate_float(model, processing.to_float(image[None])))[0]
    np.testing.assert_allclose(y, expected, atol=2e-4)
    assert stats.shape == (2 * sum(tiled.widths),)
    again, stats_again = tiled.run(image, stats, np.array([0, 0, 1, 1], np.float32))
    np.testing.assert_allclose(again, y, atol=2e-4)
    np.testing.assert_allclose(stats_again, stats, rtol=1e-4, atol=1e-5)


def test_batch_norm_with_running_statistics_has_nothing_to_share_and_still_tiles():
    model = build_generator("unet_128", ngf=8, norm="batch")  # eval mode: the generator itself
    tiled = keras_tiled_model(model)
    assert tiled.widths == [] and tiled.multiple == 128
    image = render_scene(5, "summer", 300)[:, :200]
    out = tiling.translate_tiled(tiled, image, TileOptions(tile=128, overlap=32, always_tile=True))
    assert out.shape == image.shape and out.dtype == np.uint8
    translator = Translator.from_generator(model, "eval", tile=100, overlap=32, always_tile=True)
    assert translator.describe_tiling(300, 200) == "12 128x128 tiles (no per-image statistics to share), overlap 32"


# -- tiled against untiled ------------------------------------------------------------------------------
def test_shared_statistics_tile_a_1024_image_like_its_untiled_translation(generator, scene, record_property):
    """The issue's measure: at least 40 dB against untiled translation with the default settings (the
    image is its own thumbnail at this size); smaller thumbnails and each tile's own statistics measured
    alongside (docs/translate.md has the table for trained models)."""
    whole = untiled(generator, scene)
    model = keras_tiled_model(generator)
    figures = {}
    for name, options in {"thumbnail (default)": TileOptions(always_tile=True),
                          "thumbnail 512x512": TileOptions(always_tile=True, thumbnail_pixels=512 * 512),
                          "two-pass": TileOptions(always_tile=True, norm_stats="two-pass", thumbnail_pixels=512 * 512),
                          "tile": TileOptions(always_tile=True, norm_stats="tile")}.items():
        figures[name] = psnr(tiling.translate_tiled(model, scene, options), whole)
        record_property(f"psnr {name}", round(float(figures[name]), 2))
    print("tiled vs untiled, 1024x1024, PSNR dB:", {k: round(v, 2) for k, v in figures.items()})
    assert figures["thumbnail (default)"] >= 40
    assert figures["tile"] < figures["thumbnail 512x512"] < figures["thumbnail (default)"]
    assert np.isfinite(figures["two-pass"]) and figures["two-pass"] > figures["tile"]


def test_the_thumbnail_pass_counts_and_progress(generator, scene):
    translator = Translator.from_generator(generator, always_tile=True)
    assert translator.tile_runs(1024, 1024) == 9
    assert Translator.from_generator(generator, always_tile=True, norm_stats="two-pass").tile_runs(1024, 1024) == 18
    assert Translator.from_generator(generator).tile_runs(1024, 1024) == 0  # under this machine's limit
    seen = []
    translator.translate_array(scene[:600, :1000], progress=seen.append)
    assert sum(seen) == translator.tile_runs(600, 1000) == 2 * 3
    assert translator.describe_tiling(600, 1000) == "6 512x512 tiles, thumbnail statistics, overlap 64"


@pytest.mark.parametrize("h, w", [(1, 1), (3, 700), (37, 53)])
def test_slivers_and_specks_tile_too(generator, h, w):
    image = render_scene(2, "summer", 700)[:h, :w]
    out = Translator.from_generator(generator, tile=256, overlap=32, always_tile=True)(image)
    assert out.shape == image.shape and out.dtype == np.uint8
    if (h, w) == (37, 53):  # one tile, the whole image: its own statistics, the untiled translation
        assert psnr(out, untiled(generator, image)) > 40


# -- Translator: every input kind -------------------------------------------------------------------
def test_translator_takes_pil_arrays_paths_and_writes_files(generator, tmp_path):
    translator = tf_cyclegan.Translator.from_generator(generator)
    image = render_scene(1, "summer", 96)[:, :80]
    expected = untiled(generator, image)
    np.testing.assert_array_equal(translator(image), expected)
    pil = translator(Image.fromarray(image))
    assert isinstance(pil, Image.Image) and pil.size == (80, 96)
    np.testing.assert_array_equal(np.asarray(pil), expected)
    Image.fromarray(image).save(tmp_path / "in.png")
    np.testing.assert_array_equal(np.asarray(translator(tmp_path / "in.png")), expected)
    written = translator(str(tmp_path / "in.png"), output=tmp_path / "out" / "x.png")
    assert written == tmp_path / "out" / "x.png"
    np.testing.assert_array_equal(np.asarray(Image.open(written)), expected)
    assert Image.open(translator(image, output=tmp_path / "x.jpg")).format == "JPEG"
    assert not list(tmp_path.rglob("*.tmp"))
    grey = image[..., 0]
    np.testing.assert_array_equal(translator(grey), untiled(generator, np.repeat(grey[..., None], 3, -1)))
    deep = Image.fromarray(grey.astype(np.uint16) << 8)  # 16-bit grey: its top 8 bits, not clipped to white
    assert deep.mode.startswith("I")
    np.testing.assert_array_equal(np.asarray(translator(deep)), translator(grey))
    rgba = np.concatenate([image, np.full(image.shape[:2] + (1,), 7, np.uint8)], -1)
    np.testing.assert_array_equal(translator(rgba), expected)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((8, 8, 3), np.float32), "dtype float32: give uint8 pixels"),
    (np.zeros((8, 8, 2), np.uint8), r"shape \(8, 8, 2\): give \[H, W, 3\] RGB"),
    (np.zeros((0, 8, 3), np.uint8), "it has no pixels"), ("missing.png", "missing.png: no such file")])
def test_translator_refuses_what_is_not_an_image_in_one_line(generator, bad, message):
    with pytest.raises(TranslateError, match=message):
        Translator.from_generator(generator)(bad)


def test_translator_reports_unreadable_files_and_bad_options(generator, tmp_path):
    (tmp_path / "noise.png").write_bytes(b"not a png")
    with pytest.raises(TranslateError, match="noise.png: cannot read it as an image"):
        Translator.from_generator(generator)(tmp_path / "noise.png")
    with pytest.raises(TranslateError, match="--tile 30"):
        Translator.from_generator(generator, tile=30)
    with pytest.raises(TypeError, match="not both"):
        Translator.from_generator(generator, tiles=TileOptions(), tile=256)
    with pytest.raises(TranslateError, match="no such file or folder"):
        Translator.load(tmp_path / "nothing")


# -- exports ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def version(generator, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiling_export")
    return export_generator(generator, root / "a2b", "a2b", "A", "B", "random weights", None, 4096 * 4096,
                            variants=("float32",))


def test_the_saved_model_tiles_with_shared_statistics_like_the_keras_generator(generator, version, scene):
    contract = json.loads((version / "tf_cyclegan.json").read_text())
    assert contract["tiling"]["norm_widths"] == keras_tiled_model(generator).widths
    assert contract["tiling"]["multiple"] == 4
    options = dict(tile=256, overlap=32, always_tile=True)
    image = scene[:400, :300]
    served = Translator.load(version, **options)
    assert "thumbnail statistics" in served.describe_tiling(400, 300)
    assert np.abs(served(image).astype(int) - Translator.from_generator(generator, **options)(image)).max() <= 1


def test_files_without_tile_signatures_tile_with_their_own_statistics(generator, version, scene, tmp_path):
    image = scene[:400, :300]
    options = dict(tile=256, overlap=32, always_tile=True)
    per_tile = Translator.from_generator(generator, norm_stats="tile", **options)(image)
    lite = Translator.load(version / "a2b_float32.tflite", **options)
    assert "tiles with their own statistics" in lite.describe_tiling(400, 300)
    assert np.abs(lite(image).astype(int) - per_tile).max() <= 2
    old = tmp_path / "old"  # an export from before the tile signatures: its contract has no "tiling"
    old.mkdir()
    contract = json.loads((version / "tf_cyclegan.json").read_text())
    del contract["tiling"]
    for item in version.iterdir():
        (old / item.name).symlink_to(item)
    (old / "tf_cyclegan.json").unlink()
    (old / "tf_cyclegan.json").write_text(json.dumps(contract))
    assert "own statistics" in Translator.load(old, **options).describe_tiling(400, 300)


def test_translate_tiles_what_is_over_the_limit(version, scene, tmp_path, capsys):
    Image.fromarray(scene[:300, :400]).save(tmp_path / "big.png")
    Image.fromarray(scene[:40, :40]).save(tmp_path / "small.png")
    code = translate_main(["--model", str(version), "--input", str(tmp_path), "--output", str(tmp_path / "out"),
                           "--max_pixels_untiled", "10000", "--tile", "128", "--overlap", "16"])
    assert code == 0
    captured = capsys.readouterr()
    assert "big.png: 400x300 in 12 128x128 tiles, thumbnail statistics, overlap 16" in captured.out + captured.err
    assert "small.png" not in captured.out + captured.err
    assert Image.open(tmp_path / "out" / "big.png").size == (400, 300)
    whole = Translator.load(version)(scene[:40, :40])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "small.png")), whole)


@pytest.mark.parametrize("flags, message", [(["--tile", "30"], "--tile 30"),
                                            (["--overlap", "400"], "--overlap 400"),
                                            (["--max_pixels_untiled", "-5"], "--max_pixels_untiled -5")])
def test_translate_refuses_bad_tile_flags_in_one_line(version, tmp_path, capsys, flags, message):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as exit_:
        translate_main(["--model", str(version), "--input", str(tmp_path / "a.png"), "--output",
                        str(tmp_path / "out"), *flags])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not (tmp_path / "out").exists()


def test_the_tiled_rest_client_tiles_on_the_server_like_translate(version, scene, tmp_path):
    """export/tiled_client.py against a stand-in that answers TF Serving's columnar predict format by
    running the exported signatures."""
    import tensorflow as tf

    client = load_example("tiled_client")
    signatures = tf.saved_model.load(str(version)).signatures
    calls = []

    def call(server, model, signature, inputs):  # what TF Serving does with {"inputs": {...}}
        calls.append(signature)
        body = json.loads(json.dumps({k: np.asarray(v).tolist() for k, v in inputs.items()}))
        dtypes = {"tile": tf.uint8, "statistics": tf.float32, "core": tf.float32}
        out = signatures[signature](**{k: tf.constant(v, dtypes[k]) for k, v in body.items()})
        return {k: v.numpy().tolist() for k, v in out.items()}

    contract = json.loads((version / "tf_cyclegan.json").read_text())
    image = scene[:300, :260]
    model = client.served_model("http://localhost:8501", "a2b", contract, call)
    out = tiling.translate_tiled(model, image, TileOptions(128, 16, always_tile=True))
    expected = Translator.load(version, tile=128, overlap=16, always_tile=True)(image)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert calls == ["tile_statistics"] + ["translate_tile"] * 9


LARGE = """
import sys, numpy as np, keras
from tf_cyclegan.models.networks import build_generator
from tf_cyclegan.runtime.translator import Translator
keras.utils.set_random_seed(0)
image = np.random.default_rng(0).integers(0, 256, (4000, 6000, 3), np.uint8)
out = Translator.from_generator(build_generator("resnet_1blocks", ngf=8))(image)
assert out.shape == image.shape and out.dtype == np.uint8 and out.std() > 0
from tf_cyclegan.bench.workers import vm_hwm_mib
print("peak_rss_mib", vm_hwm_mib())
"""


@pytest.mark.slow
def test_a_6000x4000_photo_translates_in_tiles_within_3_gib():
    """Tiled by default (over this machine's limit) and within the issue's memory bound; the paper's
    generator on such a photo is measured by `python -m tf_cyclegan.bench.large` (docs/translate.md)."""
    done = subprocess.run([sys.executable, "-c", LARGE], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    peak = int(done.stdout.split("peak_rss_mib")[1])
    print("6000x4000, tiny generator: peak RSS", peak, "MiB")
    assert peak < 3 * 1024
