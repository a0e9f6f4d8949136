"""Runs and exports made by earlier versions keep working.

tests/fixtures/run_0.1.0 is a tiny CycleGAN run that version 0.1.0 (before the loop and the model were split)
trained for 3 of 8 steps on the embedded dataset, with the weights the same version reached when it trained
the same run straight to step 6. run_0.5.0_pix2pix and run_0.5.0_cut are tiny pix2pix (batch norm, dropout)
and CUT runs that version 0.5.0 trained for 3 of 8 steps, with the weights of straight runs to step 6 and
their translations of a fixed image in both inference modes (expected.npz). export_0.5.0 is the 0.1.0 run
exported by 0.5.0 with ONNX, with what its SavedModel, TFLite and ONNX files and tiled translation gave.
"""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_cyclegan.core.config import Config
from tf_cyclegan.exporting.options import ExportOptions
from tf_cyclegan.exporting.run import export_run
from tf_cyclegan.runtime.opening import open_translator
from tf_cyclegan.runtime.translators import keras_translator
from tf_cyclegan.training.run import train

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "run_0.1.0"
NETWORKS = ("G", "F", "D_X", "D_Y")


def old_run(tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run, ignore=shutil.ignore_patterns("*.npz"))
    return run


@pytest.mark.slow
def test_a_run_of_version_0_1_resumes_and_trains_as_it_would_have(tmp_path):
    run = old_run(tmp_path)
    saved = Config.from_json((run / "config.json").read_text())
    assert "model" not in json.loads((run / "config.json").read_text())  # written before --model existed
    lines, models = [], []
    train(dataclasses.replace(saved, output=str(run), max_steps=6), log=lines.append, model_ready=models.append)
    assert any("Resuming from" in line and "ckpt-3 (step 3, epoch 1)" in line for line in lines), lines
    model, straight = models[0], np.load(FIXTURE / "straight_run_step6.npz")
    assert model.step_count == int(straight["step"]) == 6
    # Kernels, not biases: a conv bias before instance norm has no effect, so its gradient is rounding noise
    # that Adam normalises to a full step of either sign, which differs between CPUs (AVX2, AVX-512).
    for name in NETWORKS:
        for i, weight in enumerate(getattr(model, name).weights):
            if "kernel" in weight.path:
                np.testing.assert_allclose(np.asarray(weight), straight[f"{name}/{i}"], rtol=0, atol=1e-5,
                                           err_msg=f"{name} {weight.path}")
    assert json.loads((run / "config.json").read_text())["model"] == "cycle_gan"
    assert (run / "samples" / "epoch_001.png").is_file()  # the epoch ended at step 4


@pytest.mark.slow
def test_a_run_of_version_0_1_exports_and_translates(tmp_path):
    run = old_run(tmp_path)
    folders = export_run(ExportOptions(run=str(run), output=str(tmp_path / "exported"), no_tflite=True),
                     log=lambda line: None)
    contract = json.loads((folders["a2b"] / "tf_cyclegan.json").read_text())
    assert (contract["source_domain"], contract["target_domain"]) == ("summer", "winter")
    assert contract["checkpoint"].endswith("ckpt-3")
    image = np.random.default_rng(0).integers(0, 256, (1, 21, 30, 3), np.uint8)
    from_run, _ = open_translator(run, "b2a")
    exported, _ = open_translator(tmp_path / "exported", "b2a")
    assert np.abs(from_run(image).astype(int) - exported(image).astype(int)).max() <= 1
    assert from_run(image).shape == image.shape
    # The restored generator is the one the old checkpoint holds, not a fresh one.
    from tf_cyclegan.models.networks.generators import build_generator
    F = build_generator("resnet_1blocks", ngf=4, name="F")
    tf.train.Checkpoint(F=F).read(str(run / "checkpoints" / "ckpt-3")).expect_partial()
    np.testing.assert_array_equal(keras_translator(F)(image), from_run(image))


def copied(tmp_path, name) -> Path:
    """A fixture folder copied, so that a test may write into it."""
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def assert_kernels_equal(model, expected):
    """Kernels, not biases (see above), of every network of the model, against a straight run's."""
    for name, network in model.networks.items():
        for i, weight in enumerate(network.weights):
            if "kernel" in weight.path:
                np.testing.assert_allclose(np.asarray(weight), expected[f"{name}/{i}"], rtol=0, atol=1e-5,
                                           err_msg=f"{name} {weight.path}")


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pix2pix", "cut"])
def test_a_run_of_version_0_5_resumes_and_trains_as_it_would_have(tmp_path, model):
    run = copied(tmp_path, f"run_0.5.0_{model}")
    saved = Config.from_json((run / "config.json").read_text())
    lines, models = [], []
    train(dataclasses.replace(saved, output=str(run), max_steps=6), log=lines.append, model_ready=models.append)
    assert any("Resuming from" in line and "ckpt-3 (step 3, epoch 1)" in line for line in lines), lines
    expected = np.load(run / "expected.npz")
    assert models[0].step_count == int(expected["step"]) == 6
    assert_kernels_equal(models[0], expected)


@pytest.mark.parametrize("model", ["pix2pix", "cut"])
def test_a_run_of_version_0_5_translates_as_it_did_in_both_modes(model):
    import keras

    from tf_cyclegan.runtime.opening import open_model

    run = FIXTURES / f"run_0.5.0_{model}"
    expected = np.load(run / "expected.npz")
    for mode in ("train", "eval"):
        keras.utils.set_random_seed(3)  # the run's seed: train mode's dropout draws as it did in 0.5
        opened = open_model(run, mode)
        assert list(opened.directions) == ["a2b"] and opened.mode == mode and opened.training["model"] == model
        out = opened.direction().translate(expected["image"])
        assert np.abs(out.astype(int) - expected[f"translated_{mode}"].astype(int)).max() <= 1, (model, mode)


def test_an_export_of_version_0_5_translates_in_every_format_as_it_did():
    from tf_cyclegan.runtime.opening import open_model
    from tf_cyclegan.runtime.tiling import TileOptions
    from tf_cyclegan.runtime.translator import Translator

    export = FIXTURES / "export_0.5.0"
    expected = np.load(export / "expected.npz")
    opened = open_model(export)
    assert list(opened.directions) == ["a2b", "b2a"] and opened.names == {"A": "summer", "B": "winter"}
    assert opened.training["ngf"] == 4 and opened.checkpoint.endswith("ckpt-3")
    for direction in ("a2b", "b2a"):
        version = export / direction / "1"
        for kind, path in (("saved_model", version), ("tflite", version / f"{direction}_float32.tflite"),
                           ("onnx", version / f"{direction}.onnx")):
            out = open_model(path).direction(direction).translate(expected["image"])
            assert np.abs(out.astype(int) - expected[f"{direction}_{kind}"].astype(int)).max() <= 1, (direction, kind)
        tiled = Translator.load(version, tiles=TileOptions(tile=32, overlap=8, always_tile=True))(expected["big"])
        assert np.abs(tiled.astype(int) - expected[f"{direction}_tiled"].astype(int)).max() <= 1, direction


@pytest.mark.slow
def test_an_export_of_version_0_5_is_evaluated(tmp_path):
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    report = evaluate(EvaluateOptions(model=str(FIXTURES / "export_0.5.0"), output=str(tmp_path / "eval"),
                                      num_test=4, no_fid=True), log=lambda line: None)
    assert report["a2b"]["images"] == report["b2a"]["images"] == 4 and report["paired"]
    assert 0 < report["a2b"]["cycle_psnr"] < 100 and (tmp_path / "eval" / "index.html").is_file()

