"""The CycleGAN objective as pure functions of tensors (no state, easy to test by hand)."""

from __future__ import annotations

import tensorflow as tf


def adversarial_loss(prediction, target_is_real: bool, gan_mode: str = "lsgan"):
    """The reference's GANLoss: LSGAN is the mean squared distance to 1 (real) or 0 (fake); 'vanilla' is
    the original GAN's sigmoid cross-entropy on logits; 'wgangp' is the Wasserstein critic's -mean (real)
    or mean (fake)."""
    prediction = tf.cast(prediction, tf.float32)
    if gan_mode == "wgangp":
        return -tf.reduce_mean(prediction) if target_is_real else tf.reduce_mean(prediction)
    target = tf.ones_like(prediction) if target_is_real else tf.zeros_like(prediction)
    if gan_mode == "lsgan":
        return tf.reduce_mean(tf.square(prediction - target))
    if gan_mode == "vanilla":
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=prediction))
    raise ValueError(f"gan_mode must be 'lsgan', 'vanilla' or 'wgangp', got {gan_mode!r}")


def l1_loss(a, b):
    """Mean absolute error: the cycle-consistency and identity losses."""
    return tf.reduce_mean(tf.abs(tf.cast(a, tf.float32) - tf.cast(b, tf.float32)))


def discriminator_loss(pred_real, pred_fake, gan_mode: str = "lsgan"):
    """Halved, as in the paper, so that D learns more slowly than G."""
    return 0.5 * (adversarial_loss(pred_real, True, gan_mode) + adversarial_loss(pred_fake, False, gan_mode))


def gradient_penalty(critic, real, fake, alpha, weight: float = 10.0):
    """WGAN-GP (Gulrajani et al.; the reference's cal_gradient_penalty, type 'mixed'): weight times the mean
    of (|grad critic(x)| - 1)^2 at x = alpha * real + (1 - alpha) * fake, one alpha in [0, 1) per image."""
    alpha = tf.reshape(tf.cast(alpha, tf.float32), [-1, 1, 1, 1])
    mixed = alpha * tf.cast(real, tf.float32) + (1.0 - alpha) * tf.stop_gradient(tf.cast(fake, tf.float32))
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        score = critic(mixed, training=True)
    grads = tf.reshape(tape.gradient(score, mixed), [tf.shape(mixed)[0], -1])
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-16)
    return weight * tf.reduce_mean(tf.square(norm - 1.0))


def feature_loss(mapped_student, teacher):
    """Distillation's feature loss at one layer: the mean squared error between the student's activation,
    mapped to the teacher's width, and the teacher's (GAN Compression's F.mse_loss)."""
    return tf.reduce_mean(tf.square(tf.cast(mapped_student, tf.float32) - tf.cast(teacher, tf.float32)))
