import numpy as np
import pytest
import tensorflow as tf

from tf_cyclegan.models.losses import adversarial_loss, discriminator_loss, l1_loss

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
        adversarial_loss(PRED, True, "hinge")


def test_wgangp_critic_losses_are_signed_means():
    assert float(adversarial_loss(PRED, True, "wgangp")) == pytest.approx(-np.mean(PRED))
    assert float(adversarial_loss(PRED, False, "wgangp")) == pytest.approx(np.mean(PRED))


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    """critic(x) = sum(w * x) has gradient w everywhere: the penalty is weight * (|w| - 1)^2."""
    from tf_cyclegan.models.losses import gradient_penalty

    w = tf.constant(np.random.default_rng(0).normal(size=(1, 4, 4, 3)).astype("float32"))
    critic = lambda x, training=True: tf.reduce_sum(w * x, axis=[1, 2, 3])  # noqa: E731
    real, fake = tf.random.uniform((2, 4, 4, 3)), tf.random.uniform((2, 4, 4, 3))
    expected = 10.0 * (np.linalg.norm(np.asarray(w)) - 1.0) ** 2
    assert float(gradient_penalty(critic, real, fake, tf.constant([0.3, 0.9]))) == pytest.approx(expected, rel=1e-4)
