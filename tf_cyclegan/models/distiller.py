"""Distillation (GAN Compression, Li, Lin, Ding, Liu, Zhu, Han 2020): a small student generator learns the
translations of a trained teacher, for each direction the teacher has. With s the student, t the teacher,
x an image of the direction's source domain and y one of its target domain:

    loss_G = λ_recon |s(x) − t(x)|₁                                the teacher's translation
           + λ_distill Σ_k mse(A_k(s_k(x)), t_k(x))                its features: A_k a learned 1x1 conv from
                                                                   the student's width to the teacher's
           + λ_GAN adv(D(s(x)), real)                              the target domain's look
           + λ_L1 |s(x) − y|₁                                      the truth, for a pix2pix teacher only
    loss_D = ½ [adv(D(y), real) + adv(D(s(x)), fake)]              D sees (x, ·) pairs for a pix2pix teacher

The teacher stays fixed; the mappings A_k train with the student and are checkpointed with it, as is a
fingerprint of the teacher's weights, so that a run resumes only with the teacher it started with.
"""

from __future__ import annotations

import hashlib

import keras
import numpy as np
import tensorflow as tf

from tf_cyclegan.core.config import config_values
from tf_cyclegan.core.directions import direction_from
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.core.pictures import grid
from tf_cyclegan.core.pixels import to_uint8
from tf_cyclegan.models.contract import TranslationModel
from tf_cyclegan.models.losses import adversarial_loss, feature_loss, gradient_penalty, l1_loss
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.models.networks import (build_discriminator, build_generator, discriminator_options,
                                         generator_options, size_multiple_of)
from tf_cyclegan.models.teacher import feature_layers, load_teacher, student_layers, teacher_facts

LOSS_NAMES = ("loss_recon", "loss_distill", "loss_GAN", "loss_truth", "loss_D_real", "loss_D_fake", "loss_D")
GENERATOR_LOSSES = LOSS_NAMES[:4]  # what optimizer_G minimises (students and mappings): their sum
CRITICS = {"G": "D_Y", "F": "D_X"}  # the discriminator of each student's target domain


def fingerprint(generators: dict) -> str:
    """A digest of the teacher's weights, by direction and layer."""
    digest = hashlib.sha256()
    for direction, generator in sorted(generators.items()):
        digest.update(direction.encode())
        for weight in generator.weights:
            digest.update(weight.path.encode() + np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:16]


class Distiller(TranslationModel):
    """Students G (X -> Y) and F (Y -> X) as the teacher has them, a discriminator per student, the mappings
    A_G, A_F of their features, an Adam for the students with their mappings and one for the discriminators."""

    LOSS_NAMES = LOSS_NAMES
    GENERATOR_LOSSES = GENERATOR_LOSSES
    GENERATOR_SOURCES = {"G": "X", "F": "Y"}  # the most a student run has; its teacher's directions decide

    @classmethod
    def sources(cls, config) -> dict[str, str]:
        values = config_values(config)
        wanted = values["teacher_directions"].split(",")
        return {name: source for name, source in cls.GENERATOR_SOURCES.items()
                if direction_from(source, values["direction"]) in wanted}

    @classmethod
    def paired(cls, values: dict) -> bool:
        return values.get("teacher_model") == "pix2pix"

    def _build_networks(self, config):
        teachers = load_teacher(teacher_facts(config.teacher), config.teacher_mode, log=lambda line: None)
        paired, self.G_students, self.critics, self.maps = self.paired(config_values(config)), {}, {}, {}
        self.teacher_features, self.student_features, self._samplers = {}, {}, {}
        for name, source in self.sources(config).items():
            teacher = teachers[direction_from(source, config.direction)]
            if teacher.input.shape[-1] != 3 or teacher.output.shape[-1] != 3:
                raise RunError(f"--teacher {config.teacher}: its generator maps {teacher.input.shape[-1]} to "
                               f"{teacher.output.shape[-1]} channels; the data's images have 3")
            student = build_generator(**generator_options(config), name=name, synchronized=self.synchronized)
            self.G_students[name] = student
            self.critics[name] = build_discriminator(**discriminator_options(config), input_nc=6 if paired else 3,
                                                     name=CRITICS[name], synchronized=self.synchronized)
            self._feature_models(config, name, teacher, student)
        self.teacher_fingerprint = fingerprint(teachers)

    def _feature_models(self, config, name, teacher, student):
        """The teacher's and the student's outputs with their mapping layers' activations, and the mappings."""
        taught = feature_layers(teacher) if config.lambda_distill > 0 else []
        if taught is None:
            raise RunError(f"--teacher {config.teacher}: its generator has neither a ResNet's nor a U-Net's layers "
                           "(tf_cyclegan's names), so its features cannot be matched; pass --lambda_distill 0")
        learnt = student_layers(student, len(taught)) if taught else []
        outputs = lambda net, names: [net.output] + [net.get_layer(n).output for n in names]  # noqa: E731
        self.teacher_features[name] = keras.Model(teacher.input, outputs(teacher, taught), name=f"teacher_{name}")
        self.student_features[name] = keras.Model(student.input, outputs(student, learnt), name=f"student_{name}")
        if not learnt:  # --lambda_distill 0: no mappings to train
            return
        inputs = [keras.Input((None, None, student.get_layer(n).output.shape[-1])) for n in learnt]
        mapped = [keras.layers.Conv2D(teacher.get_layer(t).output.shape[-1], 1, name=f"map{k}",
                                      kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))(x)
                  for k, (x, t) in enumerate(zip(inputs, taught))]
        self.maps[name] = keras.Model(inputs, mapped, name=f"A_{name}")

    def _build_state(self, config, image_shape, variable_size):
        for teacher in self.teacher_features.values():  # the student's multiple is checked with its config
            multiple = size_multiple_of(teacher)
            if not variable_size and (image_shape[0] % multiple or image_shape[1] % multiple):
                raise RunError(f"--teacher {config.teacher}: its generator takes sides that are multiples of "
                               f"{multiple}; the training images are {image_shape[0]}x{image_shape[1]} (set "
                               "--crop_size, or --load_size and --preprocess, to fit)")
        self.optimizer_G, self.optimizer_D = self.adam(), self.adam()
        self.optimizers = {"optimizer_G": self.optimizer_G, "optimizer_D": self.optimizer_D}
        self.optimizer_G.build(self.generator_variables)
        self.optimizer_D.build(self.discriminator_variables)

    def _state(self):
        if not hasattr(self, "teacher_seen"):  # made outside the strategy's scope, as the saved config: a string
            self.teacher_seen = tf.Variable(self.teacher_fingerprint, trainable=False, name="teacher")
        return {**self.networks, **self.optimizers, "teacher": self.teacher_seen}

    @property
    def networks(self):
        return {**self.G_students, **{self.critics[n].name: self.critics[n] for n in self.critics},
                **{f"A_{n}": self.maps[n] for n in self.maps}}

    @property
    def generator_variables(self):
        return [v for net in [*self.G_students.values(), *self.maps.values()] for v in net.trainable_variables]

    @property
    def discriminator_variables(self):
        return [v for n in self.critics for v in self.critics[n].trainable_variables]

    def restore(self, prefix: str):
        """Refuse a checkpoint made with another teacher (its weights changed, or another --teacher)."""
        saved = tf.train.load_checkpoint(prefix).get_tensor("teacher/.ATTRIBUTES/VARIABLE_VALUE")
        if saved.decode() != self.teacher_fingerprint:
            raise RunError(f"--teacher {self.config.teacher}: its weights differ from those this run started with "
                           "(the teacher went on training, or was replaced); distill into a new --output")
        return super().restore(prefix)

    # -- the step -------------------------------------------------------------------------------------
    def _objective(self, real_x, real_y):
        c, paired = self.config, self.paired(config_values(self.config))
        adv = lambda prediction, real: adversarial_loss(prediction, real, c.gan_mode)  # noqa: E731
        losses = {name: tf.constant(0.0) for name in LOSS_NAMES}
        for name, source in self.sources(c).items():
            x, y = (real_x, real_y) if source == "X" else (real_y, real_x)
            # 1. The teacher's translation and features (fixed), the student's, the student's mapped.
            taught, *taught_features = self.teacher_features[name](x, training=False)
            fake_y, *features = self.student_features[name](x, training=True)
            mapped = self.maps[name](features, training=True) if features else []
            # 2. The discriminator of the target domain: one pass on the student's translation serves both
            #    losses (G's gradient flows through it, D's is taken on D's weights).
            real_in, fake_in = (tf.concat([x, y], -1), tf.concat([x, fake_y], -1)) if paired else (y, fake_y)
            D = self.critics[name]
            pred_real, pred_fake = self._passes(D, real_in, fake_in)
            d_real, d_fake = adv(pred_real, True), adv(pred_fake, False)
            terms = {"loss_recon": c.lambda_recon * l1_loss(fake_y, tf.stop_gradient(taught)),
                     "loss_distill": c.lambda_distill * tf.add_n(
                         [feature_loss(m, tf.stop_gradient(t)) for m, t in zip(mapped, taught_features)] or [0.0]),
                     "loss_GAN": c.lambda_GAN * adv(pred_fake, True),
                     "loss_truth": c.lambda_L1 * l1_loss(fake_y, y) if paired else tf.constant(0.0),
                     "loss_D_real": d_real, "loss_D_fake": d_fake, "loss_D": 0.5 * (d_real + d_fake)}
            if c.gan_mode == "wgangp":
                terms["loss_D"] += gradient_penalty(D, real_in, fake_in, self.rng.uniform([x.shape[0]]))
            losses = {k: losses[k] + terms[k] for k in LOSS_NAMES}
        return losses

    def _replica_step(self, real_x, real_y):
        with tf.GradientTape(persistent=True) as tape:
            losses = self._objective(real_x, real_y)
            scaled_G = self._scaled(tf.add_n([losses[name] for name in GENERATOR_LOSSES]), self.optimizer_G)
            scaled_D = self._scaled(losses["loss_D"], self.optimizer_D)
        # Both updates use gradients taken at the same weights, as the other models' steps.
        gradients = (tape.gradient(scaled_G, self.generator_variables),
                     tape.gradient(scaled_D, self.discriminator_variables))
        return losses, self._nonfinite(losses, gradients), gradients

    def _apply(self, generator_grads, discriminator_grads):
        self.optimizer_G.apply_gradients(zip(generator_grads, self.generator_variables))
        self.optimizer_D.apply_gradients(zip(discriminator_grads, self.discriminator_variables))

    # -- pictures -------------------------------------------------------------------------------------
    def sample_grid(self, real_x, real_y, gap: int = 4) -> np.ndarray:
        """Rows of  input | teacher | student  for each direction the student learns (X's images first), one
        row per test image; the student in the reference's test mode, as translate runs it."""
        blocks = []
        for name, source in self.sources(self.config).items():
            x = real_x if source == "X" else real_y
            student = self._samplers[name] = inference_generator(self.G_students[name], "train",
                                                                 copy=self._samplers.get(name))
            teacher = self.teacher_features[name](x, training=False)[0]
            blocks.append([np.asarray(to_uint8(t)) for t in (x, teacher, student(x, training=False))])
        n = min(len(block[0]) for block in blocks)
        return grid([[[column[i] for column in block] for block in blocks] for i in range(n)], gap)
