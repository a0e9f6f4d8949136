"""CycleGAN (Zhu, Park, Isola, Efros 2017): G maps X to Y, F maps Y to X, D_X judges X and D_Y judges Y.

    loss_G+F = adv(D_Y(G(x))) + adv(D_X(F(y)))                           fool the discriminators
             + λ_A |F(G(x)) − x|₁ + λ_B |G(F(y)) − y|₁                   come back to where they started
             + λ_identity (λ_B |G(y) − y|₁ + λ_A |F(x) − x|₁)           leave the target domain alone
    loss_D_Y = ½ [adv(D_Y(y), real) + adv(D_Y(pool_y(G(x))), fake)]      likewise loss_D_X

adv is LSGAN by default (--gan_mode); the pools hold earlier fakes (Shrivastava et al.).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_cyclegan.core.pictures import grid
from tf_cyclegan.core.pixels import to_uint8
from tf_cyclegan.models.contract import TranslationModel
from tf_cyclegan.models.image_pool import ImagePool
from tf_cyclegan.models.losses import adversarial_loss, discriminator_loss, gradient_penalty, l1_loss
from tf_cyclegan.models.networks import build_discriminator, build_generator, discriminator_options, generator_options

LOSS_NAMES = ("loss_G", "loss_F", "loss_cycle_x", "loss_cycle_y", "loss_idt_x", "loss_idt_y",
              "loss_D_X", "loss_D_Y")
GENERATOR_LOSSES = LOSS_NAMES[:6]  # what optimizer_G minimises: their sum
LOG_NAMES = LOSS_NAMES + ("lr", "finite")


class CycleGAN(TranslationModel):
    """Two generators, two discriminators, an Adam for each pair, an image history pool per domain."""

    LOSS_NAMES = LOSS_NAMES
    GENERATOR_LOSSES = GENERATOR_LOSSES
    GENERATOR_SOURCES = {"G": "X", "F": "Y"}

    def _build_networks(self, config):
        sync = self.synchronized
        self.G, self.F = (build_generator(**generator_options(config), name=name, synchronized=sync)
                          for name in ("G", "F"))
        self.D_X, self.D_Y = (build_discriminator(**discriminator_options(config), name=name, synchronized=sync)
                              for name in ("D_X", "D_Y"))

    def _build_state(self, config, image_shape, variable_size):
        self.optimizer_G, self.optimizer_D = self.adam(), self.adam()
        self.optimizers = {"optimizer_G": self.optimizer_G, "optimizer_D": self.optimizer_D}
        # Build the moments now so a checkpoint restores into them at once, not on first use.
        self.optimizer_G.build(self.generator_variables)
        self.optimizer_D.build(self.discriminator_variables)
        self.pool_x, self.pool_y = (ImagePool(config.pool_size, image_shape, name=name, variable_size=variable_size,
                                              replicas=self.replicas) for name in ("pool_x", "pool_y"))

    def _state(self):
        return dict(G=self.G, F=self.F, D_X=self.D_X, D_Y=self.D_Y, **self.optimizers,
                    pool_x=self.pool_x, pool_y=self.pool_y)

    @property
    def networks(self):
        return {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}

    @property
    def generator_variables(self):
        return self.G.trainable_variables + self.F.trainable_variables

    @property
    def discriminator_variables(self):
        return self.D_X.trainable_variables + self.D_Y.trainable_variables

    # -- the step -------------------------------------------------------------------------------------
    def _objective(self, real_x, real_y, replica):
        """The paper's losses, and the image pools' proposed next state."""
        c, adv = self.config, lambda prediction, real: adversarial_loss(prediction, real, c.gan_mode)
        identity = c.lambda_identity > 0
        # 1. Translate each domain to the other and back; for the identity loss each generator also sees
        #    its own target domain, in the same call as its first pass (see _passes).
        fake_y, *same_y = self._passes(self.G, real_x, *([real_y] if identity else []))
        fake_x, *same_x = self._passes(self.F, real_y, *([real_x] if identity else []))
        cycled_x, cycled_y = self.F(fake_y, training=True), self.G(fake_x, training=True)
        # 2. Generators: fool the discriminators, and come back to where they started.
        losses = {"loss_G": adv(self.D_Y(fake_y, training=True), True),
                  "loss_F": adv(self.D_X(fake_x, training=True), True),
                  "loss_cycle_x": c.lambda_A * l1_loss(cycled_x, real_x),
                  "loss_cycle_y": c.lambda_B * l1_loss(cycled_y, real_y)}
        # 3. Identity: a generator given an image of its target domain should leave it alone.
        if identity:
            losses["loss_idt_x"] = c.lambda_A * c.lambda_identity * l1_loss(same_x[0], real_x)
            losses["loss_idt_y"] = c.lambda_B * c.lambda_identity * l1_loss(same_y[0], real_y)
        else:
            losses["loss_idt_x"] = losses["loss_idt_y"] = tf.constant(0.0)
        # 4. Discriminators: real images against fakes drawn from this replica's history pools.
        pooled_fake_y, next_pool_y = self.pool_y.propose(tf.stop_gradient(fake_y), self.rng, replica)
        pooled_fake_x, next_pool_x = self.pool_x.propose(tf.stop_gradient(fake_x), self.rng, replica)
        losses["loss_D_Y"] = self._critic_loss(self.D_Y, real_y, pooled_fake_y)
        losses["loss_D_X"] = self._critic_loss(self.D_X, real_x, pooled_fake_x)
        return {name: losses[name] for name in LOSS_NAMES}, (next_pool_x, next_pool_y)

    def _critic_loss(self, D, real, fake):
        """Halved real-against-fake loss; WGAN-GP adds the penalty that keeps the critic 1-Lipschitz."""
        loss = discriminator_loss(*self._passes(D, real, fake), self.config.gan_mode)
        if self.config.gan_mode == "wgangp":
            loss += gradient_penalty(D, real, fake, self.rng.uniform([real.shape[0]]))
        return loss

    def _replica_step(self, real_x, real_y):
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        with tf.GradientTape(persistent=True) as tape:
            losses, next_pools = self._objective(real_x, real_y, replica)
            scaled_G = self._scaled(sum(losses[name] for name in GENERATOR_LOSSES), self.optimizer_G)
            scaled_D = self._scaled(losses["loss_D_X"] + losses["loss_D_Y"], self.optimizer_D)
        # 5. Both updates use gradients taken at the same weights, as the reference's G-then-D order does
        #    (its D step sees fakes made before the G update).
        gradients = (tape.gradient(scaled_G, self.generator_variables),
                     tape.gradient(scaled_D, self.discriminator_variables))
        return losses, self._nonfinite(losses, gradients), (*gradients, *next_pools)

    def _apply(self, generator_grads, discriminator_grads, next_pool_x, next_pool_y):
        self.optimizer_G.apply_gradients(zip(generator_grads, self.generator_variables))
        self.optimizer_D.apply_gradients(zip(discriminator_grads, self.discriminator_variables))
        self.pool_x.commit(next_pool_x)
        self.pool_y.commit(next_pool_y)

    # -- checkpoints ----------------------------------------------------------------------------------
    def before_save(self):
        """Every replica's image pool into the checkpoint (every worker takes part)."""
        if self.replicas > 1:
            self._gather_pools()

    @tf.function
    def _gather_pools(self):
        self.strategy.run(self._gather_replica_pools)

    def _gather_replica_pools(self):
        self.pool_x.gather()
        self.pool_y.gather()

    def restore(self, prefix: str):
        """Restore a checkpoint made on any number of replicas: when its image pools have another number of
        blocks, everything else is restored as usual and the pools are dealt out again (see ImagePool.load)."""
        reader = tf.train.load_checkpoint(prefix)
        saved = reader.get_variable_to_shape_map().get("pool_x/images/.ATTRIBUTES/VARIABLE_VALUE")
        if saved is None or tuple(saved) == tuple(self.pool_x.images.shape):
            return super().restore(prefix)
        others = self.restorable(prefix, leave_out=("pool_x", "pool_y"))
        tf.train.Checkpoint(**others).restore(prefix).expect_partial().assert_existing_objects_matched()
        with self.strategy.scope():
            self.pool_x.load(reader, "pool_x")
            self.pool_y.load(reader, "pool_y")

    # -- pictures -------------------------------------------------------------------------------------
    def sample_grid(self, real_x, real_y, gap: int = 4) -> np.ndarray:
        """Rows of  real_x | G(x) | F(G(x))  ||  real_y | F(y) | G(F(y)),  one row per test image pair."""
        fake_y, fake_x = self.G(real_x, training=False), self.F(real_y, training=False)
        cycled_x, cycled_y = self.F(fake_y, training=False), self.G(fake_x, training=False)
        left = [np.asarray(to_uint8(t)) for t in (real_x, fake_y, cycled_x)]
        right = [np.asarray(to_uint8(t)) for t in (real_y, fake_x, cycled_y)]
        n = min(len(real_x), len(real_y))
        return grid([[[t[i] for t in left], [t[i] for t in right]] for i in range(n)], gap)
