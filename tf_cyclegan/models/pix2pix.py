"""pix2pix (Isola, Zhu, Zhou, Efros 2017): a conditional GAN on paired images. G maps x to y; D judges
(input, output) pairs, so it learns what a right translation of *this* input looks like.

    loss_G = adv(D(x, G(x)), real) + λ_L1 |G(x) − y|₁            fool D, and stay close to the truth
    loss_D = ½ [adv(D(x, y), real) + adv(D(x, G(x)), fake)]

adv is the original GAN's cross-entropy by default (--gan_mode vanilla); no image pool.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_cyclegan.core.pictures import grid
from tf_cyclegan.core.pixels import to_uint8
from tf_cyclegan.models.contract import TranslationModel
from tf_cyclegan.models.losses import adversarial_loss, gradient_penalty, l1_loss
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.models.networks import build_discriminator, build_generator, discriminator_options, generator_options

LOSS_NAMES = ("loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake", "loss_D")
GENERATOR_LOSSES = LOSS_NAMES[:2]  # what optimizer_G minimises: their sum


class Pix2Pix(TranslationModel):
    """One generator, one conditional discriminator on 6-channel (input, output) pairs, an Adam each."""

    LOSS_NAMES = LOSS_NAMES
    GENERATOR_LOSSES = GENERATOR_LOSSES
    GENERATOR_SOURCES = {"G": "X"}
    PAIRED = True

    def _build_networks(self, config):
        self.G = build_generator(**generator_options(config), name="G", synchronized=self.synchronized)
        self.D = build_discriminator(**discriminator_options(config), input_nc=6, name="D",
                                     synchronized=self.synchronized)

    def _build_state(self, config, image_shape, variable_size):
        self.optimizer_G, self.optimizer_D = self.adam(), self.adam()
        self.optimizers = {"optimizer_G": self.optimizer_G, "optimizer_D": self.optimizer_D}
        self.optimizer_G.build(self.G.trainable_variables)
        self.optimizer_D.build(self.D.trainable_variables)
        self._sampler = None  # the train-mode copy of G that sample grids draw with, made on first use

    def _state(self):
        return dict(G=self.G, D=self.D, **self.optimizers)

    @property
    def networks(self):
        return {"G": self.G, "D": self.D}

    # -- the step -------------------------------------------------------------------------------------
    def _objective(self, real_x, real_y):
        c, adv = self.config, lambda prediction, real: adversarial_loss(prediction, real, c.gan_mode)
        # 1. Translate the input.
        fake_y = self.G(real_x, training=True)
        # 2. D sees each output beside its input: the truth, and the translation. One pass on the
        #    translation serves both losses: G's gradient flows through it, D's is taken on D's weights.
        real_xy, fake_xy = tf.concat([real_x, real_y], axis=-1), tf.concat([real_x, fake_y], axis=-1)
        pred_real, pred_fake = self._passes(self.D, real_xy, fake_xy)
        # 3. G: fool D, and stay close to the truth.
        losses = {"loss_G_GAN": adv(pred_fake, True), "loss_G_L1": c.lambda_L1 * l1_loss(fake_y, real_y),
                  "loss_D_real": adv(pred_real, True), "loss_D_fake": adv(pred_fake, False)}
        # 4. D: the truth against the translation, halved as in the paper.
        losses["loss_D"] = 0.5 * (losses["loss_D_real"] + losses["loss_D_fake"])
        if c.gan_mode == "wgangp":
            losses["loss_D"] += gradient_penalty(self.D, real_xy, fake_xy, self.rng.uniform([real_x.shape[0]]))
        return losses

    def _replica_step(self, real_x, real_y):
        with tf.GradientTape(persistent=True) as tape:
            losses = self._objective(real_x, real_y)
            scaled_G = self._scaled(losses["loss_G_GAN"] + losses["loss_G_L1"], self.optimizer_G)
            scaled_D = self._scaled(losses["loss_D"], self.optimizer_D)
        # 5. Both updates use gradients taken at the same weights (the reference updates D first and then
        #    takes G's gradient through the updated D: see docs/pix2pix.md).
        gradients = (tape.gradient(scaled_G, self.G.trainable_variables),
                     tape.gradient(scaled_D, self.D.trainable_variables))
        return losses, self._nonfinite(losses, gradients), gradients

    def _apply(self, generator_grads, discriminator_grads):
        self.optimizer_G.apply_gradients(zip(generator_grads, self.G.trainable_variables))
        self.optimizer_D.apply_gradients(zip(discriminator_grads, self.D.trainable_variables))

    # -- pictures -------------------------------------------------------------------------------------
    def sample_grid(self, real_x, real_y, gap: int = 4) -> np.ndarray:
        """Rows of  input | translation | truth,  one per test pair; the generator in the reference's test
        mode (train mode: each image's own batch-norm statistics, dropout on)."""
        G = self._sampler = inference_generator(self.G, "train", copy=self._sampler)
        columns = [np.asarray(to_uint8(t)) for t in (real_x, G(real_x, training=False), real_y)]
        return grid([[[column[i] for column in columns]] for i in range(len(real_x))], gap)
