import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from tf_cyclegan.core.errors import RunError
from tf_cyclegan.data.unpaired import folder_domains
from tf_cyclegan.models.cycle_gan import LOSS_NAMES, CycleGAN
from tf_cyclegan.training.run import train

# What optimizer_G minimises, and --lr_policy plateau watches: every loss but the discriminators'.
GENERATOR_LOSSES = ("loss_G", "loss_F", "loss_cycle_x", "loss_cycle_y", "loss_idt_x", "loss_idt_y")
LOGGED_LOSSES = GENERATOR_LOSSES + ("loss_D_X", "loss_D_Y")  # the TensorBoard tags users see

_yy, _xx = np.mgrid[0:32, 0:32] / 31.0
REAL_X = tf.constant(np.stack([_xx, _yy, _xx * _yy], -1)[None].astype("float32") * 2 - 1)  # smooth ramps
REAL_Y = tf.constant(-0.8 * REAL_X + 0.1)


def snapshot(model):
    return {net.name: [np.array(v) for v in net.weights] for net in (model.G, model.F, model.D_X, model.D_Y)}


@pytest.fixture(scope="module")
def model():
    """One tiny CycleGAN, traced once for the module."""
    return CycleGAN(tiny_config(), steps_per_epoch=1000)


def test_networks_carry_the_papers_names(model):
    assert [n.name for n in (model.G, model.F, model.D_X, model.D_Y)] == ["G", "F", "D_X", "D_Y"]


def test_train_step_gives_finite_losses_and_changes_all_four_networks(model):
    before = snapshot(model)
    logs = model.train_step(REAL_X, REAL_Y)
    assert set(logs) == {*LOGGED_LOSSES, "lr", "finite"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert float(logs["lr"]) == pytest.approx(0.0002)
    after = snapshot(model)
    for name in before:
        assert any(not np.array_equal(a, b) for a, b in zip(before[name], after[name])), f"{name} did not change"
    assert int(model.step) == 1 and int(model.pool_x.count) == 1 and int(model.pool_y.count) == 1


def test_cycle_loss_falls_on_a_fixed_batch(model):
    cycle = [float(model.train_step(REAL_X, REAL_Y)["loss_cycle_x"]) for _ in range(20)]
    assert np.mean(cycle[-3:]) < 0.8 * np.mean(cycle[:3]), cycle


@pytest.mark.slow
def test_learning_rate_zero_changes_no_weight_and_identity_off_is_zero():
    model = CycleGAN(tiny_config(lr=0.0, lambda_identity=0.0), steps_per_epoch=4)
    before = snapshot(model)
    logs = model.train_step(REAL_X, REAL_Y)
    after = snapshot(model)
    for name in before:
        assert all(np.array_equal(a, b) for a, b in zip(before[name], after[name])), name
    assert float(logs["loss_idt_x"]) == 0.0 and float(logs["loss_idt_y"]) == 0.0
    assert float(logs["loss_cycle_x"]) > 0


def test_checkpoint_restores_every_piece_of_state(model, tmp_path):
    model.train_step(REAL_X, REAL_Y)
    path = model.checkpoint.write(str(tmp_path / "ckpt"))
    fresh = CycleGAN(tiny_config(seed=5), steps_per_epoch=4)
    fresh.checkpoint.read(path).assert_consumed()
    assert snapshot(fresh).keys() == snapshot(model).keys()
    for name, weights in snapshot(model).items():
        assert all(np.array_equal(a, b) for a, b in zip(weights, snapshot(fresh)[name]))
    for ours, theirs in [(model.optimizer_G, fresh.optimizer_G), (model.optimizer_D, fresh.optimizer_D)]:
        assert len(ours.variables) == len(theirs.variables) > 2
        assert all(np.array_equal(a, b) for a, b in zip(ours.variables, theirs.variables))
    assert np.array_equal(model.pool_x.images, fresh.pool_x.images) and int(fresh.pool_x.count) == int(model.pool_x.count)
    assert np.array_equal(model.rng.state, fresh.rng.state) and int(fresh.step) == int(model.step)
    assert json.loads(fresh.saved_config.numpy())["seed"] == 0


def read_events(folder):
    tags = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    return tags


def read_scalars(folder):
    """{tag: {step: value}} of the scalar summaries."""
    scalars = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return scalars


@pytest.mark.slow
def test_a_run_leaves_checkpoints_config_samples_and_tensorboard(image_folder, tmp_path, monkeypatch):
    config = tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"))
    lines = []
    run = train(config, log=lines.append)
    assert any("Starting a new run" in line for line in lines) and "Done: 10 steps" in lines[-1]
    assert json.loads((run / "config.json").read_text())["ngf"] == 8
    assert json.loads((run / "domains.json").read_text()) == {"X": "A", "Y": "B"}
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-10")
    from PIL import Image
    for epoch in (1, 2):
        grid = Image.open(run / "samples" / f"epoch_{epoch:03d}.png")
        assert grid.size == (2 * 3 * 32 + 3 * 4, 2 * 32 + 4)  # 2 test pairs: x|G(x)|F(G(x)) || y|F(y)|G(F(y))
    tags = read_events(run / "logs")
    assert tags["loss_G"] == list(range(1, 11)) and {*LOGGED_LOSSES, "lr"} <= set(tags)
    assert tags["samples"] == [5, 10]

    # The same run again has nothing to do; a different architecture is refused with the differences.
    # On a CPU with AMX units the log suggests bfloat16.
    lines.clear()
    monkeypatch.setattr("tf_cyclegan.training.run.cpu_has_amx", lambda: True)
    train(config, log=lines.append)
    assert any(line.startswith("Hint: this CPU has AMX") and "--mixed_precision bf16" in line for line in lines)
    assert any("Resuming from" in line and "ckpt-10" in line for line in lines)
    assert "Nothing to do" in lines[-1]
    with pytest.raises(RunError, match=r"Differences: --ngf: the run has 8, this command has 16"):
        train(tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), ngf=16))


@pytest.mark.slow
def test_train_accepts_loaded_domains(image_folder, tmp_path):
    config = tiny_config(dataset="unused", output=str(tmp_path / "run"), max_steps=2, n_samples=0)
    run = train(config, domains=folder_domains(image_folder), log=lambda s: None)
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")
    assert not (run / "samples").exists()


@pytest.mark.slow
def test_unet_batch_norm_pixel_discriminator_train_and_translate():
    """The reference's other networks train in the same step and translate at any size."""
    from tf_cyclegan.runtime import processing

    config = tiny_config(netG="unet_128", ngf=4, ndf=4, crop_size=128, load_size=128, norm="batch",
                         netD="pixel", init_type="xavier")
    model = CycleGAN(config, steps_per_epoch=100)
    x = tf.image.resize(REAL_X, [128, 128])
    moving_mean = next(w for w in model.G.non_trainable_weights if "moving_mean" in w.path)
    before = snapshot(model), np.array(moving_mean)
    logs = model.train_step(x, -x)
    assert bool(logs["finite"]) and all(np.isfinite(float(logs[k])) for k in LOSS_NAMES)
    after = snapshot(model)
    for name in after:
        assert any(not np.array_equal(a, b) for a, b in zip(before[0][name], after[name])), name
    assert not np.array_equal(before[1], np.array(moving_mean))  # batch statistics are tracked
    out = processing.translate_float(model.G, tf.random.uniform((1, 50, 70, 3), -1, 1))
    assert out.shape == (1, 50, 70, 3)


@pytest.mark.slow
def test_wgangp_with_dropout_trains():
    model = CycleGAN(tiny_config(gan_mode="wgangp", use_dropout=True), steps_per_epoch=100)
    assert any(layer.name.endswith("_dropout") for layer in model.G.layers)
    logs = model.train_step(REAL_X, REAL_Y)
    assert bool(logs["finite"]) and float(logs["loss_D_X"]) > 0  # the penalty dominates at the start


@pytest.mark.slow
def test_batches_larger_than_one_train_with_per_image_pool_semantics():
    model = CycleGAN(tiny_config(batch_size=3, pool_size=4), steps_per_epoch=100)
    x = tf.concat([REAL_X, -REAL_X, 0.5 * REAL_X], axis=0)
    for _ in range(2):
        assert bool(model.train_step(x, -x)["finite"])
    assert int(model.pool_x.count) == 4 and int(model.pool_y.count) == 4  # 6 fakes offered, pool of 4


@pytest.mark.slow
def test_plateau_policy_judges_each_epoch_by_its_mean_generator_loss(image_folder, tmp_path):
    config = tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), lr_policy="plateau", n_samples=0)
    run = train(config, log=lambda line: None)
    scalars = read_scalars(run / "logs")  # 5 steps per epoch, 2 epochs
    means = [np.mean([sum(scalars[k][s] for k in GENERATOR_LOSSES) for s in range(5 * e + 1, 5 * e + 6)])
             for e in (0, 1)]
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run / "checkpoints")))
    state = {n: reader.get_tensor(f"lr_plateau/{n}/.ATTRIBUTES/VARIABLE_VALUE")
             for n in ("best", "bad_epochs", "loss_count", "scale")}
    improved = means[1] < 0.99 * means[0]
    assert state["best"] == pytest.approx(means[1] if improved else means[0], rel=1e-9)
    assert (state["bad_epochs"], state["loss_count"], state["scale"]) == (0 if improved else 1, 0, 1.0)
    assert list(scalars["lr"].values()) == pytest.approx([0.0002] * 10)


@pytest.mark.slow
def test_images_of_different_sizes_train_one_per_step_with_one_trace():
    model = CycleGAN(tiny_config(pool_size=2), steps_per_epoch=100, image_shape=(48, 40), variable_size=True)
    sizes = [(32, 40), (48, 24), (24, 24), (32, 40), (40, 36)]
    for h, w in sizes:
        x = tf.image.resize(REAL_X, [h, w])
        logs = model.train_step(x, tf.image.resize(REAL_Y, [48 - h + 24, 40]))
        assert bool(logs["finite"])
    assert model.train_step.experimental_get_tracing_count() == 1
    stored = {tuple(s) for s in model.pool_y.sizes.numpy()}  # fakes of Y come from X images
    assert stored <= set(sizes) and int(model.pool_y.count) == 2


@pytest.mark.slow
def test_passes_sharing_a_call_compute_what_separate_calls_compute():
    """Instance norm is per image, so G(concat[a, b]) is [G(a), G(b)]: batching the passes is only speed."""
    shared, separate = (CycleGAN(tiny_config(seed=3, low_memory=low), steps_per_epoch=100) for low in (False, True))
    assert shared.batch_passes and not separate.batch_passes
    assert not CycleGAN(tiny_config(norm="batch"), steps_per_epoch=1).batch_passes
    for _ in range(3):
        a, b = shared.train_step(REAL_X, REAL_Y), separate.train_step(REAL_X, REAL_Y)
        for name in LOSS_NAMES:
            assert float(a[name]) == pytest.approx(float(b[name]), rel=1e-4, abs=1e-6), name
