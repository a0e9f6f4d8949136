"""ONNX: export --onnx and export.onnx_model against the Keras generator they came from (CycleGAN's ResNet,
pix2pix's U-Net in both inference modes, CUT's anti-aliased ResNet) on odd sizes, the file's contract and
metadata, translate --model X.onnx, evaluate --variant onnx, the bench's ONNX row, and the one-line errors
without the onnx extra."""

import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from PIL import Image

from tf_cyclegan.core.errors import EvaluateError, ExportError, TranslateError
from tf_cyclegan.exporting.onnx import ONNX_OPSET, onnx_model
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.models.networks.generators import build_generator
from tf_cyclegan.runtime import processing

INSTALL = "pip install 'tf_cyclegan[onnx]'"
SIZES = [(37, 53), (64, 48), (1, 1)]


@pytest.fixture
def exported(cyclegan):
    """The shared tiny run, exported with --onnx (conftest.cyclegan)."""
    return cyclegan


@pytest.fixture(scope="module")
def models(cyclegan, generators):
    """{name: (Keras generator in its inference mode, onnxruntime session)} of the shared exports: the run's
    a2b through export --onnx, and conftest.generators' pix2pix U-Net in both modes and CUT generator."""
    found = {"cycle_gan": (cyclegan["generators"]["a2b"], cyclegan["folders"]["a2b"] / "a2b.onnx")}
    for name, (generator, mode, paths) in generators.items():
        found[name] = (inference_generator(generator, mode), paths["onnx"])
    return {name: (g, onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
            for name, (g, path) in found.items()}


def random_images(h, w, batch=2, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)


def keras_uint8(generator, images):
    """The Keras generator with the export's pre/post-processing, in eager mode: the ground truth."""
    return np.asarray(processing.translate_uint8(generator, images))


def run_onnx(session, images):
    return session.run(None, {"images": images})[0]


# Instance norm of a constant image (a 1x1 image resized up) divides rounding noise by sqrt(epsilon):
# TensorFlow's own eager and graph runs of the ResNet disagree there by tens of levels.
CONSTANT_IMAGE_IS_NOISE = {"cycle_gan", "cut"}


@pytest.mark.parametrize("name", ["cycle_gan", "pix2pix_train", "pix2pix_eval", "cut"])
@pytest.mark.parametrize("h, w", SIZES)
def test_onnx_matches_the_keras_generator_within_one_level(models, name, h, w):
    generator, session = models[name]
    images = random_images(h, w, seed=h * w)
    out = run_onnx(session, images)
    assert out.dtype == np.uint8 and out.shape == images.shape
    if (h, w) == (1, 1) and name in CONSTANT_IMAGE_IS_NOISE:
        np.testing.assert_array_equal(run_onnx(session, images), out)  # deterministic, not a parity case
        return
    diff = np.abs(out.astype(int) - keras_uint8(generator, images))
    print(f"{name} {h}x{w} batch 2: max diff {diff.max()} levels, {np.mean(diff > 0):.5f} of values differ")
    assert diff.max() <= 1, (name, h, w, diff.max())


def test_the_two_pix2pix_modes_are_two_different_models(models):
    images = random_images(64, 48, batch=1, seed=5)
    train_mode, eval_mode = (run_onnx(models[name][1], images).astype(int)
                             for name in ("pix2pix_train", "pix2pix_eval"))
    assert np.abs(train_mode - eval_mode).max() > 10  # batch norm on each image's statistics vs the running ones


def test_train_mode_dropout_stays_on_in_onnx_and_eval_mode_is_deterministic():
    G = build_generator("unet_128", ngf=8, norm="batch", use_dropout=True, name="G")
    images = random_images(40, 40, batch=1, seed=6)
    for mode, random_nodes in (("train", 2), ("eval", 0)):  # unet_128's 7 - 5 dropout levels, as the reference
        model = onnx_model(inference_generator(G, mode))
        nodes = [node.op_type for node in onnx.load_from_string(model).graph.node]
        assert nodes.count("RandomUniformLike") == random_nodes, (mode, nodes)
        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        first, second = run_onnx(session, images).astype(int), run_onnx(session, images).astype(int)
        if mode == "train":
            assert np.abs(first - second).max() > 10
        else:
            np.testing.assert_array_equal(first, second)
            assert np.abs(first - keras_uint8(G, images)).max() <= 1


def test_one_file_takes_any_batch_and_size(models):
    generator, session = models["cycle_gan"]
    [given], [returned] = session.get_inputs(), session.get_outputs()
    assert (given.name, given.type, returned.name, returned.type) == ("images", "tensor(uint8)", "translated",
                                                                      "tensor(uint8)")
    assert len(given.shape) == 4 and given.shape[3] == 3 and not any(isinstance(d, int) for d in given.shape[:3])
    for batch, h, w in ((3, 20, 31), (1, 96, 128), (2, 9, 13), (1, 255, 7)):
        images = random_images(h, w, batch=batch, seed=batch * h + w)
        out = run_onnx(session, images)
        assert out.shape == images.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - keras_uint8(generator, images)).max() <= 1, (batch, h, w)


def test_the_contract_and_the_file_say_what_the_model_is(exported):
    for direction in ("a2b", "b2a"):
        folder = exported["folders"][direction]
        contract = json.loads((folder / "tf_cyclegan.json").read_text())
        assert contract["onnx"] == {"file": f"{direction}.onnx", "input": "uint8 [batch, H, W, 3]",
                                    "output": "uint8 [batch, H, W, 3]", "opset": ONNX_OPSET,
                                    "converter": "tf2onnx 1.17.0"}
        model = onnx.load(str(folder / f"{direction}.onnx"))
        props = {p.key: p.value for p in model.metadata_props}
        source, target = ("summer", "winter") if direction == "a2b" else ("winter", "summer")
        assert (props["direction"], props["source_domain"], props["target_domain"]) == (direction, source, target)
        assert props["inference_mode"] == contract["inference_mode"] == "train" and props["model"] == "cycle_gan"
        assert json.loads(props["inference_modes_differ"]) is contract["inference_modes_differ"]  # JSON, not repr
        assert {o.domain or "ai.onnx": o.version for o in model.opset_import}["ai.onnx"] == ONNX_OPSET
        onnx.checker.check_model(model)
        # The weights are in the file: as many float parameters as the generator has.
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
        assert params >= exported["generators"][direction].count_params()


def test_translate_runs_an_onnx_file(exported, tmp_path, capsys):
    from tf_cyclegan.translate import main

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(folder / "odd.png")
    Image.fromarray(rng.integers(0, 256, (16, 12), dtype=np.uint8)).save(folder / "gray.png")
    model = exported["folders"]["b2a"] / "b2a.onnx"
    assert main(["--model", str(model), "--input", str(folder), "--output", str(tmp_path / "out")]) == 0
    assert f"ONNX model {model}" in capsys.readouterr().out
    for name in ("odd.png", "gray.png"):
        image = np.asarray(Image.open(folder / name).convert("RGB"))
        translated = np.asarray(Image.open(tmp_path / "out" / name))
        assert translated.shape == image.shape
        expected = keras_uint8(exported["generators"]["b2a"], image[None])[0]
        assert np.abs(translated.astype(int) - expected).max() <= 1, name


def test_evaluate_measures_the_onnx_variant_as_the_saved_model(exported, tmp_path):
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    reports = {variant: evaluate(EvaluateOptions(model=str(exported["root"]), output=str(tmp_path / variant),
                                                 variant=variant, num_test=4, no_fid=True), log=lambda s: None)
               for variant in ("saved_model", "onnx")}
    assert "(ONNX, train mode" in reports["onnx"]["model"] and "(SavedModel" in reports["saved_model"]["model"]
    for direction in ("a2b", "b2a"):
        ours, theirs = reports["onnx"][direction], reports["saved_model"][direction]
        assert ours["images"] == theirs["images"] == 4
        for key in ("cycle_psnr", "truth_psnr", "identity_psnr"):
            assert ours[key] == pytest.approx(theirs[key], abs=0.5), key  # within a level per pixel
    assert reports["onnx"]["a2b"]["identity_psnr"] == reports["saved_model"]["a2b"]["identity_psnr"]
    without = shutil.copytree(exported["root"], tmp_path / "without")
    for file in without.glob("*/*/*.onnx"):
        file.unlink()
    with pytest.raises(EvaluateError, match=r"--variant onnx: .*a2b\.onnx does not exist \(export with --onnx"):
        evaluate(EvaluateOptions(model=str(without), output=str(tmp_path / "x"), variant="onnx", no_fid=True),
                 log=lambda s: None)


def test_the_bench_times_the_onnx_file(exported):
    from tf_cyclegan.bench.options import BenchOptions
    from tf_cyclegan.bench.workers import measure_inference

    options = BenchOptions(netG="resnet_1blocks", ngf=8, infer_size=24, iters=2)
    record = measure_inference(options, "onnx", str(exported["folders"]["a2b"]))
    assert record["runtime"] == "onnx" and record["iters"] == 2 and 0 < record["min_s"] <= record["median_s"] < 5


# -- without the onnx extra ------------------------------------------------------------------------------
def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_export_without_tf2onnx_says_what_to_install_before_writing(exported, tmp_path, monkeypatch, capsys):
    from tf_cyclegan.export import main

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # `import tf2onnx` fails, as without the extra
    with pytest.raises(ExportError, match=r"tf2onnx is not installed; pip install 'tf_cyclegan\[onnx\]'"):
        onnx_model(exported["generators"]["a2b"])
    with pytest.raises(SystemExit) as info:
        main(["--run", str(exported["run"]), "--output", str(tmp_path / "out"), "--onnx"])
    line = one_error_line(capsys)
    assert info.value.code == 1 and line.startswith("python -m tf_cyclegan.export: error: --onnx: ") and INSTALL in line
    assert not (tmp_path / "out").exists()  # refused before the SavedModel and TFLite files


def test_translate_and_evaluate_without_onnxruntime_say_what_to_install(exported, tmp_path, monkeypatch, capsys):
    import tf_cyclegan.evaluate as evaluate_command
    import tf_cyclegan.translate as translate_command
    from tf_cyclegan.runtime.translators import onnx_translator

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = exported["folders"]["a2b"] / "a2b.onnx"
    with pytest.raises(TranslateError, match=r"onnxruntime is not installed; pip install 'tf_cyclegan\[onnx\]'"):
        onnx_translator(model)
    Image.fromarray(random_images(9, 9, batch=1)[0]).save(tmp_path / "x.png")
    for main, argv in ((translate_command.main, ["--model", str(model), "--input", str(tmp_path / "x.png"), "--output",
                                         str(tmp_path / "out")]),
                       (evaluate_command.main, ["--model", str(exported["root"]), "--output", str(tmp_path / "eval"),
                                        "--variant", "onnx", "--no_fid"])):
        with pytest.raises(SystemExit) as info:
            main(argv)
        line = one_error_line(capsys)
        assert info.value.code == 1 and "onnxruntime is not installed" in line and INSTALL in line, line
    assert not (tmp_path / "out").exists() and not (tmp_path / "eval").exists()


@pytest.mark.slow
def test_the_export_command_line_writes_onnx_files(exported, tmp_path):
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.export", "--run", str(exported["run"]), "--output",
                             str(tmp_path / "cli"), "--onnx", "--no_tflite"],
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    images = random_images(37, 53, seed=9)
    for direction in ("a2b", "b2a"):
        version = tmp_path / "cli" / direction / "1"
        assert json.loads((version / "tf_cyclegan.json").read_text())["onnx"]["file"] == f"{direction}.onnx"
        assert not list(version.glob("*.tflite"))
        session = onnxruntime.InferenceSession(str(version / f"{direction}.onnx"), providers=["CPUExecutionProvider"])
        expected = keras_uint8(exported["generators"][direction], images)
        assert np.abs(run_onnx(session, images).astype(int) - expected).max() <= 1, direction
