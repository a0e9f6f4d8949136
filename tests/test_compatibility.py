"""Runs made by earlier versions keep working: tests/fixtures/run_0.1.0 is a tiny CycleGAN run that version
0.1.0 (before the loop and the model were split) trained for 3 of 8 steps on the embedded dataset, with the
weights the same version reached when it trained the same run straight to step 6."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_cyclegan.config import Config
from tf_cyclegan.export import ExportOptions, export
from tf_cyclegan.loop import train
from tf_cyclegan.translators import keras_translator, open_translator

FIXTURE = Path(__file__).parent / "fixtures" / "run_0.1.0"
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
    folders = export(ExportOptions(run=str(run), output=str(tmp_path / "exported"), no_tflite=True),
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
    from tf_cyclegan.networks import build_generator
    F = build_generator("resnet_1blocks", ngf=4, name="F")
    tf.train.Checkpoint(F=F).read(str(run / "checkpoints" / "ckpt-3")).expect_partial()
    np.testing.assert_array_equal(keras_translator(F)(image), from_run(image))
