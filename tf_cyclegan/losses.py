"""The CycleGAN objective as pure functions of tensors (no state, easy to test by hand)."""

from __future__ import annotations

import tensorflow as tf


def adversarial_loss(prediction, target_is_real: bool, gan_mode: str = "lsgan"):
    """The reference's GANLoss: LSGAN is the mean squared distance to 1 (real) or 0 (fake); 'vanilla' is
    the original GAN's sigmoid cross-entropy on logits."""
    prediction = tf.cast(prediction, tf.float32)
    target = tf.ones_like(prediction) if target_is_real else tf.zeros_like(prediction)
    if gan_mode == "lsgan":
        return tf.reduce_mean(tf.square(prediction - target))
    if gan_mode == "vanilla":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=prediction))
    raise ValueError(f"gan_mode must be 'lsgan' or 'vanilla', got {gan_mode!r}")


def l1_loss(a, b):
    """Mean absolute error: the cycle-consistency and identity losses."""
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def discriminator_loss(pred_real, pred_fake, gan_mode: str = "lsgan"):
    """Halved, as in the paper, so that D learns more slowly than G."""
    return 0.5 * (adversarial_loss(pred_real, True, gan_mode) + adversarial_loss(pred_fake, False, gan_mode))
