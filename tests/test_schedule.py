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
