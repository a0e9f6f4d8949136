"""--mixed_precision: bf16 / fp16 maths with float32 weights, correct on CPU (the speed is for GPUs)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config
from test_loop import REAL_X, REAL_Y, snapshot

from tf_cyclegan.models.cycle_gan import LOSS_NAMES, CycleGAN
from tf_cyclegan.models.networks.generators import build_generator, dtype_policy
from tf_cyclegan.runtime.opening import load_generators
from tf_cyclegan.training.run import train

LR = 0.0002


def _changed(before, after):
    return max(float(np.max(np.abs(a - b))) for name in before for a, b in zip(before[name], after[name]))


def test_the_policy_applies_inside_the_scope_only():
    with dtype_policy("mixed_bfloat16"):
        G = build_generator("resnet_1blocks", ngf=8)
    plain = build_generator("resnet_1blocks", ngf=8)
    assert keras.config.dtype_policy().name == "float32"
    assert G.get_layer("stem_conv").compute_dtype == "bfloat16"
    assert plain.get_layer("stem_conv").compute_dtype == "float32"
    assert {w.dtype for w in G.weights} == {"float32"}
    assert G(REAL_X).dtype == tf.float32  # tanh in float32: images and losses stay float32


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_losses_match_float32_from_the_same_weights(precision):
    """Same seed, same weights: the forward pass agrees with float32 to half-precision accuracy."""
    reference = CycleGAN(tiny_config(lr=0.0), steps_per_epoch=10)
    mixed = CycleGAN(tiny_config(lr=0.0, mixed_precision=precision), steps_per_epoch=10)
    assert all(np.array_equal(a, b) for a, b in zip(reference.G.weights, mixed.G.weights))
    expected, got = reference.train_step(REAL_X, REAL_Y), mixed.train_step(REAL_X, REAL_Y)
    tolerance = 0.05 if precision == "bf16" else 0.01  # bf16 keeps 8 bits of mantissa, fp16 11
    for name in LOSS_NAMES:
        assert float(got[name]) == pytest.approx(float(expected[name]), rel=tolerance, abs=tolerance), name
    assert mixed.G.get_layer("block0_conv1").compute_dtype == {"bf16": "bfloat16", "fp16": "float16"}[precision]


@pytest.mark.slow
def test_bf16_updates_stay_within_one_adam_step_of_float32():
    reference, mixed = CycleGAN(tiny_config(), 10), CycleGAN(tiny_config(mixed_precision="bf16"), 10)
    start = snapshot(mixed)
    reference.train_step(REAL_X, REAL_Y)
    logs = mixed.train_step(REAL_X, REAL_Y)
    assert bool(logs["finite"]) and "loss_scale" not in logs
    assert _changed(start, snapshot(mixed)) > LR / 2  # it trained
    # Adam's first step moves each weight by about lr * sign(gradient): bf16 may flip small gradients' signs,
    # never by more than the two steps between them.
    assert _changed(snapshot(reference), snapshot(mixed)) <= 2 * LR + 1e-6


@pytest.mark.slow
def test_fp16_loss_scale_halves_on_overflow_skips_that_update_and_is_checkpointed(tmp_path):
    model = CycleGAN(tiny_config(mixed_precision="fp16"), steps_per_epoch=10)
    scale = float(model.optimizer_G.dynamic_scale)
    assert scale == 2.0**15
    updated = False
    for _ in range(12):
        before = snapshot(model)
        logs = model.train_step(REAL_X, REAL_Y)
        assert bool(logs["finite"])  # an overflow of the scaled gradients is not a failed step
        new_scale = float(logs["loss_scale"])
        G_moved = any(not np.array_equal(a, b) for a, b in zip(before["G"], snapshot(model)["G"]))
        if new_scale < scale:  # overflow: halved, and G's update skipped
            assert new_scale == scale / 2 and not G_moved
        else:
            assert new_scale == scale and G_moved
            updated = True
        scale = new_scale
    assert updated and scale < 2.0**15
    path = model.checkpoint.write(str(tmp_path / "ckpt"))
    restored = CycleGAN(tiny_config(mixed_precision="fp16"), steps_per_epoch=10)
    restored.checkpoint.read(path).assert_existing_objects_matched()
    assert float(restored.optimizer_G.dynamic_scale) == scale
    assert float(restored.optimizer_D.dynamic_scale) == float(model.optimizer_D.dynamic_scale)
    moments = [v for v in model.optimizer_G.variables if "momentum" in v.path]
    assert moments and all(np.array_equal(a, b) for a, b in zip(
        moments, [v for v in restored.optimizer_G.variables if "momentum" in v.path]))


@pytest.mark.slow
def test_a_mixed_precision_run_exports_float32_generators(image_folder, tmp_path):
    run = train(tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), mixed_precision="fp16",
                            max_steps=3), log=lambda *a: None)
    _, generators, _, _ = load_generators(run)
    G = generators["a2b"]
    assert G.get_layer("stem_conv").compute_dtype == "float32"
    trained = CycleGAN(tiny_config(mixed_precision="fp16"), 10)
    trained.checkpoint.read(tf.train.latest_checkpoint(str(run / "checkpoints"))).expect_partial()
    assert all(np.array_equal(a, b) for a, b in zip(G.weights, trained.G.weights))
    # float32 inference from the same weights is within float16 rounding of the mixed network.
    np.testing.assert_allclose(G(REAL_X).numpy(), trained.G(REAL_X).numpy(), atol=0.02)
