"""CUT and FastCUT (Park, Efros, Zhang, Zhu 2020): one generator G from X to Y, no cycle. G(x) keeps the
content of x because each patch of G(x) must pick out the patch of x at the same place among the others
(PatchNCE, tf_cyclegan.models.patchnce, on features of G's own encoder projected by the MLP heads H).

    loss_G = λ_GAN adv(D(G(x)), real) + λ_NCE NCE(G(x), x)                   FastCUT (λ_NCE 10, flips)
    loss_G = λ_GAN adv(D(G(x)), real) + ½ λ_NCE [NCE(G(x), x) + NCE(G(y), y)]     CUT (identity NCE)
    loss_D = ½ [adv(D(y), real) + adv(D(G(x)), fake)]

LSGAN, no image pool. FastCUT's flip equivariance: with probability 0.5 G's input is flipped and the query
features flipped back, so G(flip x) must be flip G(x) patch for patch.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_cyclegan.core.catalog import residual_blocks, resnet_sequence
from tf_cyclegan.core.config import antialiasing, nce_layer_indices
from tf_cyclegan.core.pictures import grid
from tf_cyclegan.core.pixels import to_uint8
from tf_cyclegan.models import patchnce
from tf_cyclegan.models.contract import TranslationModel
from tf_cyclegan.models.losses import adversarial_loss, gradient_penalty
from tf_cyclegan.models.networks import build_discriminator, build_generator, discriminator_options, generator_options

LOSS_NAMES = ("loss_G", "loss_G_GAN", "loss_NCE", "loss_NCE_Y", "loss_D_real", "loss_D_fake", "loss_D")
GENERATOR_LOSSES = ("loss_G",)  # what optimizer_G and optimizer_H minimise


def nce_layer_names(config) -> list[str]:
    """Our layer names of --nce_layers (CUT's indices into the reference's layer sequence)."""
    sequence = resnet_sequence(residual_blocks(config.netG), **antialiasing(config), norm=config.norm)
    return [sequence[i] for i in nce_layer_indices(config.nce_layers)]


class CUT(TranslationModel):
    """G, D, the MLP heads H, an Adam each; --model fastcut is the same class with FastCUT's defaults."""

    LOSS_NAMES = LOSS_NAMES
    GENERATOR_LOSSES = GENERATOR_LOSSES
    GENERATOR_SOURCES = {"G": "X"}

    def _build_networks(self, config):
        self.G = build_generator(**generator_options(config), name="G", synchronized=self.synchronized)
        self.D = build_discriminator(**discriminator_options(config), name="D", synchronized=self.synchronized)
        features = [self.G.get_layer(name).output for name in nce_layer_names(config)]
        # Two views of G's own layers (no weights of their own): the encoder up to the deepest NCE layer,
        # for the queries, and G with those features as extra outputs, whose keys come free with G(x).
        self.encoder = keras.Model(self.G.input, features, name="G_encoder")
        self.G_features = keras.Model(self.G.input, [self.G.output, *features], name="G_features")
        self.H = patchnce.build_heads([f.shape[-1] for f in features], config.netF_nc, config.init_type,
                                      config.init_gain)

    def _build_state(self, config, image_shape, variable_size):
        self.optimizer_G, self.optimizer_H, self.optimizer_D = self.adam(), self.adam(), self.adam()
        self.optimizers = {"optimizer_G": self.optimizer_G, "optimizer_H": self.optimizer_H,
                           "optimizer_D": self.optimizer_D}
        for optimizer, net in ((self.optimizer_G, self.G), (self.optimizer_H, self.H), (self.optimizer_D, self.D)):
            optimizer.build(net.trainable_variables)

    def _state(self):
        return dict(G=self.G, H=self.H, D=self.D, **self.optimizers)

    @property
    def networks(self):
        return {"G": self.G, "H": self.H, "D": self.D}

    # -- the step -------------------------------------------------------------------------------------
    # CUT's loss is a sum of two parts that share no activations: the x part (adversarial, NCE(G(x), x), D)
    # and the identity part (NCE(G(y), y)). Their gradients are taken one after the other and added, so
    # the step holds one part's activations at a time: the same gradients as one pass over both, with a
    # lower peak of memory (docs/cut.md, Speed and memory).
    def _draw_flip(self):
        """FastCUT's coin (from the run's checkpointed stream): flip G's inputs this step or not."""
        return self.rng.uniform([]) < 0.5 if self.config.flip_equivariance else tf.constant(False)

    def _translate(self, image, flipped):
        """(G(image), G's features of the unflipped image): G's input is flipped when the coin says so, and
        then the features of its own pass are not those of the image, which the encoder then computes."""
        flip = lambda images: tf.cond(flipped, lambda: tf.reverse(images, [2]), lambda: images)  # noqa: E731
        fake, *features = self.G_features(flip(image), training=True)
        if self.config.flip_equivariance:
            features = tf.cond(flipped, lambda: self._encode(image), lambda: list(features))
        return fake, list(features)

    def _encode(self, images) -> list[tf.Tensor]:
        features = self.encoder(images, training=True)
        return list(features) if isinstance(features, (list, tuple)) else [features]

    def _nce(self, keys, translated, flipped):
        """NCE(translation, source) given the source's features: the query features of G's encoder on the
        translation (flipped back if G saw a flip), at fresh random locations shared with the keys."""
        c = self.config
        if c.lambda_NCE == 0:
            return tf.constant(0.0)
        queries = [tf.cond(flipped, lambda q=q: tf.reverse(q, [2]), lambda q=q: q) for q in self._encode(translated)]
        ids = patchnce.sample_locations(keys, c.num_patches, self.rng)
        k = patchnce.project(self.H, patchnce.gather_patches([tf.stop_gradient(f) for f in keys], ids))
        q = patchnce.project(self.H, patchnce.gather_patches(queries, ids))
        return patchnce.patch_nce_loss(q, k, c.lambda_NCE, c.nce_T, c.nce_includes_all_negatives_from_minibatch)

    def _x_part(self, real_x, real_y, flipped) -> dict:
        """Translate x; D sees the newest fake beside a real y, in one pass that serves both losses (G's
        gradient flows through it, D's is taken on D's weights); G(x)'s patches should pick out x's."""
        c, adv = self.config, lambda prediction, real: adversarial_loss(prediction, real, c.gan_mode)
        fake_y, keys = self._translate(real_x, flipped)
        pred_real, pred_fake = self._passes(self.D, real_y, fake_y)
        losses = {"loss_G_GAN": c.lambda_GAN * adv(pred_fake, True),
                  "loss_D_real": adv(pred_real, True), "loss_D_fake": adv(pred_fake, False)}
        losses["loss_D"] = 0.5 * (losses["loss_D_real"] + losses["loss_D_fake"])
        if c.gan_mode == "wgangp":
            losses["loss_D"] += gradient_penalty(self.D, real_y, fake_y, self.rng.uniform([real_x.shape[0]]))
        losses["loss_NCE"] = self._nce(keys, fake_y, flipped)
        return losses

    def _y_part(self, real_y, flipped) -> tf.Tensor:
        """CUT's identity term: G(y)'s patches should pick out y's."""
        same_y, keys = self._translate(real_y, flipped)
        return self._nce(keys, same_y, flipped)

    def _combined(self, losses: dict) -> dict:
        """The logged losses, in LOSS_NAMES' order, with loss_G: what G and H minimise."""
        c = self.config
        nce = 0.5 * (losses["loss_NCE"] + losses["loss_NCE_Y"]) if c.nce_idt else losses["loss_NCE"]
        losses = {**losses, "loss_G": losses["loss_G_GAN"] + nce}
        return {name: losses[name] for name in LOSS_NAMES}

    def _objective(self, real_x, real_y):
        """Every loss of the step, as one computation (the step takes the two parts' gradients in turn)."""
        flipped = self._draw_flip()
        losses = self._x_part(real_x, real_y, flipped)
        losses["loss_NCE_Y"] = self._y_part(real_y, flipped) if self.config.nce_idt else tf.constant(0.0)
        return self._combined(losses)

    def _gradients(self, tape, loss, optimizer, variables) -> list[tf.Tensor]:
        """The gradients of one part's loss (zeros for the variables it leaves out: H when λ_NCE is 0)."""
        gradients = tape.gradient(self._scaled(loss, optimizer), variables)
        return [g if g is not None else tf.zeros_like(v) for g, v in zip(gradients, variables)]

    def _generator_gradients(self, tape, loss) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
        """G's and H's gradients of a part's loss, in one backward pass unless each optimizer scales the loss
        its own way (fp16)."""
        G, H = self.G.trainable_variables, self.H.trainable_variables
        if self.loss_scaling:
            return (self._gradients(tape, loss, self.optimizer_G, G), self._gradients(tape, loss, self.optimizer_H, H))
        both = self._gradients(tape, loss, self.optimizer_G, G + H)
        return both[:len(G)], both[len(G):]

    def _replica_step(self, real_x, real_y):
        c = self.config
        idt_weight = 0.5 if c.nce_idt else 1.0
        flipped = self._draw_flip()
        # 1. The x part. Every update uses gradients taken at the same weights (the reference updates D first
        #    and then takes G's gradient through the updated D: see docs/cut.md).
        with tf.GradientTape(persistent=True) as tape:
            losses = self._x_part(real_x, real_y, flipped)
            generator_loss = losses["loss_G_GAN"] + idt_weight * losses["loss_NCE"]
        gradients = (*self._generator_gradients(tape, generator_loss),
                     self._gradients(tape, losses["loss_D"], self.optimizer_D, self.D.trainable_variables))
        del tape
        losses["loss_NCE_Y"] = tf.constant(0.0)
        # 2. The identity part, once the x part's gradients exist (and its activations are freed).
        if c.nce_idt and c.lambda_NCE > 0:
            with tf.control_dependencies([g for part in gradients for g in part]):
                real_y = tf.identity(real_y)
            with tf.GradientTape(persistent=self.loss_scaling) as tape:
                losses["loss_NCE_Y"] = self._y_part(real_y, flipped)
                generator_loss = 0.5 * losses["loss_NCE_Y"]
            g, h = self._generator_gradients(tape, generator_loss)
            gradients = ([a + b for a, b in zip(gradients[0], g)], [a + b for a, b in zip(gradients[1], h)],
                         gradients[2])
        losses = self._combined(losses)
        return losses, self._nonfinite(losses, gradients), gradients

    def _apply(self, generator_grads, head_grads, discriminator_grads):
        self.optimizer_G.apply_gradients(zip(generator_grads, self.G.trainable_variables))
        self.optimizer_H.apply_gradients(zip(head_grads, self.H.trainable_variables))
        self.optimizer_D.apply_gradients(zip(discriminator_grads, self.D.trainable_variables))

    # -- pictures -------------------------------------------------------------------------------------
    def sample_grid(self, real_x, real_y, gap: int = 4) -> np.ndarray:
        """Rows of  real_x | G(x)  ||  real_y | G(y),  one per test image pair: G should change x and leave
        y as it is."""
        columns = [np.asarray(to_uint8(t)) for t in (real_x, self.G(real_x, training=False), real_y,
                                                     self.G(real_y, training=False))]
        n = min(len(real_x), len(real_y))
        return grid([[[c[i] for c in columns[:2]], [c[i] for c in columns[2:]]] for i in range(n)], gap)
