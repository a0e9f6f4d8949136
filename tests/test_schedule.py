import pytest

from tf_cyclegan.models.schedules import LinearDecay


def reference_lambda(epoch, epoch_count, n_epochs, n_epochs_decay):
    """junyanz/pytorch-CycleGAN-and-pix2pix networks.get_scheduler, policy 'linear'."""
    return 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)


def test_constant_then_linear_decay_per_epoch():
    schedule = LinearDecay(lr=0.0002, n_epochs=3, n_epochs_decay=4, steps_per_epoch=5)
    expected = [0.0002] * 3 + [0.0002 * k / 5 for k in (4, 3, 2, 1)]
    for epoch, lr in enumerate(expected):
        for step in range(epoch * 5, epoch * 5 + 5):  # constant within an epoch
            assert float(schedule(step)) == pytest.approx(lr, rel=1e-6)
            assert float(schedule(step)) == pytest.approx(0.0002 * reference_lambda(epoch, 1, 3, 4), rel=1e-6)
    assert float(schedule(7 * 5)) == 0.0 and float(schedule(1000)) == 0.0


def test_paper_schedule_and_config_round_trip():
    schedule = LinearDecay(lr=0.0002, n_epochs=100, n_epochs_decay=100, steps_per_epoch=1)
    assert float(schedule(99)) == pytest.approx(0.0002)
    assert float(schedule(100)) == pytest.approx(0.0002 * 100 / 101, rel=1e-6)
    assert float(schedule(199)) == pytest.approx(0.0002 / 101, rel=1e-5)
    assert LinearDecay(**schedule.get_config()).get_config() == schedule.get_config()


def test_epoch_count_shifts_the_linear_policy_like_the_reference():
    schedule = LinearDecay(lr=1.0, n_epochs=3, n_epochs_decay=4, steps_per_epoch=1, epoch_count=3)
    for epoch in range(5):
        assert float(schedule(epoch)) == pytest.approx(reference_lambda(epoch, 3, 3, 4))


def test_step_and_cosine_policies_match_pytorchs_schedulers():
    import math

    from tf_cyclegan.models.schedules import CosineDecay, StepDecay

    step = StepDecay(lr=0.1, lr_decay_iters=3, steps_per_epoch=2)
    assert [round(float(step(s)), 6) for s in range(0, 14, 2)] == [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    cosine = CosineDecay(lr=0.1, n_epochs=4, steps_per_epoch=5)
    for epoch in range(6):  # CosineAnnealingLR(T_max=4, eta_min=0) in closed form
        assert float(cosine(epoch * 5 + 4)) == pytest.approx(0.05 * (1 + math.cos(math.pi * epoch / 4)), abs=1e-7)


def test_make_schedule_follows_the_config():
    from tf_cyclegan.core.config import Config
    from tf_cyclegan.models.schedules import CosineDecay, StepDecay, make_schedule

    assert isinstance(make_schedule(Config(lr_policy="step"), 10), StepDecay)
    assert isinstance(make_schedule(Config(lr_policy="cosine"), 10), CosineDecay)
    from tf_cyclegan.models.schedules import PlateauDecay

    assert isinstance(make_schedule(Config(lr_policy="plateau", lr=0.001), 10), PlateauDecay)
    linear = make_schedule(Config(epoch_count=51), 10)
    assert isinstance(linear, LinearDecay) and linear.epoch_count == 51
    assert Config(epoch_count=51).total_epochs == 150


def test_plateau_policy_lowers_the_rate_as_pytorchs_reduce_lr_on_plateau():
    """The reference's ReduceLROnPlateau(factor=0.2, threshold=0.01, patience=5), fed the same epoch means."""
    import numpy as np
    import torch

    from tf_cyclegan.models.schedules import PlateauDecay

    rng = np.random.default_rng(0)
    # Falling, then flat within the 1% threshold, then noisy, then falling again: several reductions.
    means = [*np.linspace(5.0, 2.0, 8), *(2.0 - 0.005 * rng.random(12)), *(2.0 + rng.random(10)),
             *np.linspace(1.9, 0.5, 6), *([0.5] * 40)]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0002)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.2, threshold=0.01,
                                                           patience=5)
    plateau = PlateauDecay(lr=0.0002)
    lowered = 0
    for mean in means:
        for value in (mean - 1.0, mean + 1.0):  # two steps per epoch whose mean is `mean`
            plateau.observe(value)
        reference.step(mean)
        new_rate = plateau.end_epoch()
        lowered += new_rate is not None
        assert float(plateau(0)) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-6)
        assert int(plateau.bad_epochs) == reference.num_bad_epochs
    # PyTorch stops lowering once a reduction would change the rate by less than 1e-8.
    assert lowered >= 5 and optimizer.param_groups[0]["lr"] < 0.0002 * 0.2 ** 4
    assert plateau.end_epoch() is None and int(plateau.loss_count) == 0  # an epoch with no finite step


def test_plateau_state_lives_in_the_checkpoint(tmp_path):
    import tensorflow as tf

    from tf_cyclegan.models.schedules import PlateauDecay

    plateau = PlateauDecay(lr=1.0, patience=0)
    for loss in (3.0, 3.0, 2.5):
        plateau.observe(loss)
        plateau.end_epoch()
    plateau.observe(7.0)  # mid-epoch
    path = tf.train.Checkpoint(plateau=plateau).write(str(tmp_path / "ckpt"))
    restored = PlateauDecay(lr=1.0, patience=0)
    tf.train.Checkpoint(plateau=restored).read(path).assert_consumed()
    assert float(restored(0)) == pytest.approx(0.2) and float(restored.best) == 2.5
    assert (float(restored.loss_sum), int(restored.loss_count)) == (7.0, 1)
