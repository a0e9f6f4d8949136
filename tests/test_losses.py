import numpy as np
import pytest
import tensorflow as tf

from tf_cyclegan.losses import adversarial_loss, discriminator_loss, l1_loss

PRED = np.array([[0.5, 2.0], [-1.0, 0.0]], np.float32)


def test_lsgan_is_mean_squared_distance_to_the_label():
    assert float(adversarial_loss(PRED, True, "lsgan")) == pytest.approx((0.25 + 1 + 4 + 1) / 4)
    assert float(adversarial_loss(PRED, False, "lsgan")) == pytest.approx((0.25 + 4 + 1 + 0) / 4)


def test_vanilla_is_sigmoid_cross_entropy_on_logits():
    sig = 1 / (1 + np.exp(-PRED.astype(np.float64)))
    assert float(adversarial_loss(PRED, True, "vanilla")) == pytest.approx(np.mean(-np.log(sig)), rel=1e-5)
    assert float(adversarial_loss(PRED, False, "vanilla")) == pytest.approx(np.mean(-np.log(1 - sig)), rel=1e-5)


def test_discriminator_loss_is_halved():
    real, fake = np.full((2, 3), 0.8, np.float32), np.full((2, 3), 0.3, np.float32)
    expected = 0.5 * ((0.2**2) + (0.3**2))
    assert float(discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-5)


def test_l1_and_unknown_mode():
    assert float(l1_loss(tf.constant([1.0, -1.0]), tf.constant([0.0, 1.0]))) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="gan_mode"):
        adversarial_loss(PRED, True, "wgangp")
