"""translate --preprocess resize | scale_width --load_size N: each image resized (bicubic, as the reference's
test.py) before it is translated; none keeps each image's own size."""

import numpy as np
import pytest
from PIL import Image

from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.runtime.folders import translate_files, translation_size
from tf_cyclegan.translate import main


@pytest.fixture(scope="module")
def generator(tmp_path_factory):
    from tf_cyclegan.models.networks.generators import build_generator

    path = tmp_path_factory.mktemp("model") / "G.keras"
    build_generator("resnet_1blocks", ngf=4).save(path)
    return str(path)


@pytest.fixture
def picture(tmp_path):
    """A 50x30 (width x height) image with detail, so that the interpolation shows."""
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)).save(path)
    return path


def translate(generator, source, out, *flags) -> np.ndarray:
    assert main(["--model", generator, "--input", str(source), "--output", str(out), *flags]) == 0
    return np.asarray(Image.open(out / "photo.png"))


@pytest.mark.parametrize("flags, size", [
    ([], (50, 30)),
    (["--preprocess", "none", "--load_size", "32"], (50, 30)),
    (["--preprocess", "resize", "--load_size", "32"], (32, 32)),
    (["--preprocess", "resize_and_crop", "--load-size", "32"], (32, 32)),  # the reference's name
    (["--preprocess", "scale_width", "--load_size", "32"], (32, 20)),  # 30 * 32 / 50 = 19.2 -> 20
    (["--preprocess", "resize"], (256, 256)),  # --load_size 256, the reference's test default
])
def test_output_has_the_resized_size(generator, picture, tmp_path, flags, size):
    out = translate(generator, picture, tmp_path / "out", *flags)
    assert (out.shape[1], out.shape[0]) == size


@pytest.mark.parametrize("mode, size", [("resize", (32, 32)), ("scale_width", (32, 20))])
def test_pixels_are_those_of_the_pillow_bicubic_resized_image(generator, picture, tmp_path, mode, size):
    resized = tmp_path / "resized" / "photo.png"
    resized.parent.mkdir()
    Image.open(picture).resize(size, Image.BICUBIC).save(resized)
    expected = translate(generator, resized, tmp_path / "expected")
    got = translate(generator, picture, tmp_path / "got", "--preprocess", mode, "--load_size", "32")
    np.testing.assert_array_equal(got, expected)


def test_scale_width_rounds_the_height_to_a_multiple_of_4():
    assert translation_size(50, 30, "scale_width", 32) == (32, 20)
    assert translation_size(1000, 10, "scale_width", 256) == (256, 4)  # never below 4
    assert translation_size(640, 480, "scale_width", 256) == (256, 192)
    assert translation_size(640, 480, "none", 256) == (640, 480)


@pytest.mark.parametrize("flags, message", [
    (["--load_size", "0", "--preprocess", "resize"], "--load_size 0: must be a whole number of at least 1"),
    (["--preprocess", "fancy"], "--preprocess 'fancy': not one of none, resize, scale_width (or "
                                "resize_and_crop, which means resize)"),
    (["--preprocess", "crop"], "--preprocess crop: crops are a training augmentation; to translate, use none, "
                               "resize, scale_width (resize_and_crop means resize)"),
    (["--preprocess", "scale_width_and_crop"], "--preprocess scale_width_and_crop: crops are a training"),
])
def test_bad_values_are_one_line_before_the_model_loads(picture, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as info:
        main(["--model", str(tmp_path / "missing.keras"), "--input", str(picture), "--output",
              str(tmp_path / "out"), *flags])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"python -m tf_cyclegan.translate: error: {message}"), err
    assert not (tmp_path / "out").exists()


def test_the_python_api_takes_the_same_options(generator, picture, tmp_path):
    written, _ = translate_files(generator, picture, tmp_path / "out", log=lambda _: None, progress=False,
                                 preprocess="scale_width", load_size=32)
    assert written == 1 and Image.open(tmp_path / "out" / "photo.png").size == (32, 20)
    with pytest.raises(TranslateError, match="--load_size -3: must be"):
        translate_files(generator, picture, tmp_path / "out2", preprocess="resize", load_size=-3)
