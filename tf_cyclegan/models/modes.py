"""How a trained generator runs at test time: the reference's two modes.

The reference (and the pix2pix paper) test their generators in train mode unless `--eval` is given: batch
norm normalises with the statistics of the batch at hand, which at its test batch size of 1 are the image's
own, and dropout stays on as the generator's source of noise. `--eval` is PyTorch's model.eval(): the running
statistics gathered in training, and no dropout. Generators without batch norm or dropout (CycleGAN's
defaults: instance norm) compute the same in both modes.

Train mode is built as a copy of the generator in which each BatchNormalization becomes ImageStatistics
(its scale and shift, each image's own statistics) and each Dropout becomes TestTimeDropout. Calling the
Keras model with training=True would do the same maths for one image, but it would also move the running
statistics, and over a batch of several images it would mix their statistics.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

MODES = ("train", "eval")
MODE_MEANS = {"train": "batch norm with each image's own statistics, dropout on (the reference's test mode)",
              "eval": "batch norm's running statistics from training, no dropout (PyTorch's model.eval())"}
MODE_HELP = ("train: batch norm with each image's own statistics and dropout on, as the reference tests "
             "unless --eval; eval: the running statistics of training, no dropout (PyTorch's model.eval())")


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class ImageStatistics(keras.layers.Layer):
    """BatchNormalization's training-mode maths on each image alone: per-image, per-channel mean and (biased)
    variance over height and width, then the layer's scale and shift. 4-D ops, which TFLite runs well."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="beta")

    def call(self, x, mask=None, training=None):  # the arguments of the BatchNormalization it replaces
        centred = x - ops.mean(x, axis=[1, 2], keepdims=True)
        variance = ops.mean(ops.square(centred), axis=[1, 2], keepdims=True)
        return centred * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class TestTimeDropout(keras.layers.Layer):
    """Dropout that is on whenever the layer runs, as the reference's generators are tested. A stateful
    random op with a fixed op seed: each loaded model draws the same sequence of masks."""

    def __init__(self, rate: float = 0.5, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = float(rate), int(seed)

    def call(self, x, training=None):  # on whatever `training` says
        keep = tf.cast(tf.random.uniform(tf.shape(x), seed=self.seed, dtype=x.dtype) >= self.rate, x.dtype)
        return x * keep / (1.0 - self.rate)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def has_train_mode_layers(generator: keras.Model) -> bool:
    """Whether the two modes differ for this generator (it has batch norm or dropout)."""
    return any(isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Dropout))
               for layer in generator.layers)


def describe_mode(generator: keras.Model, mode: str) -> dict:
    """What an export's contract says of how its generator runs: the mode, what it means for this
    generator, and whether the two modes differ for it at all."""
    differ = has_train_mode_layers(generator)
    means = MODE_MEANS[mode] if differ else "no batch norm or dropout: both modes compute the same"
    return {"inference_mode": mode, "inference_mode_means": means, "inference_modes_differ": differ}


def _train_mode_layer(layer, dropout: bool = True):
    if isinstance(layer, keras.layers.BatchNormalization):
        return ImageStatistics(layer.epsilon, name=layer.name)
    if isinstance(layer, keras.layers.Dropout):
        if not dropout:
            return keras.layers.Identity(name=layer.name)
        return TestTimeDropout(layer.rate, seed=sum(map(ord, layer.name)), name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def inference_generator(generator: keras.Model, mode: str = "train", copy: keras.Model | None = None,
                        dropout: bool = True) -> keras.Model:
    """The generator as it runs at test time in `mode` (MODES): in eval mode the generator itself (Keras
    runs it so with training=False), in train mode a copy with the weights of now. `copy`: an earlier
    train-mode copy of this generator, brought up to its weights (cheaper than a new one, and a translator
    traced on it stays valid). `dropout=False`: train mode's batch statistics without its dropout (a
    distillation teacher's deterministic translation)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "eval" or not has_train_mode_layers(generator):
        return generator
    clone = copy or keras.models.clone_model(generator, clone_function=lambda layer: _train_mode_layer(layer, dropout))
    for original in generator.layers:
        copy = clone.get_layer(original.name)
        if isinstance(original, keras.layers.BatchNormalization):
            copy.set_weights([original.gamma.numpy(), original.beta.numpy()])
        elif original.weights:
            copy.set_weights(original.get_weights())
    return clone
