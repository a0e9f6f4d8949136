import pytest

from tf_cyclegan.schedule import LinearDecay


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

    from tf_cyclegan.schedule import CosineDecay, StepDecay

    step = StepDecay(lr=0.1, lr_decay_iters=3, steps_per_epoch=2)
    assert [round(float(step(s)), 6) for s in range(0, 14, 2)] == [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    cosine = CosineDecay(lr=0.1, n_epochs=4, steps_per_epoch=5)
    for epoch in range(6):  # CosineAnnealingLR(T_max=4, eta_min=0) in closed form
        assert float(cosine(epoch * 5 + 4)) == pytest.approx(0.05 * (1 + math.cos(math.pi * epoch / 4)), abs=1e-7)


def test_make_schedule_follows_the_config():
    from tf_cyclegan.config import Config
    from tf_cyclegan.schedule import CosineDecay, StepDecay, make_schedule

    assert isinstance(make_schedule(Config(lr_policy="step"), 10), StepDecay)
    assert isinstance(make_schedule(Config(lr_policy="cosine"), 10), CosineDecay)
    linear = make_schedule(Config(epoch_count=51), 10)
    assert isinstance(linear, LinearDecay) and linear.epoch_count == 51
    assert Config(epoch_count=51).total_epochs == 150
