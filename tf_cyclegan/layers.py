"""The three pieces the reference networks need that Keras spells differently from PyTorch."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class ReflectionPadding2D(keras.layers.Layer):
    """PyTorch's ReflectionPad2d for NHWC tensors: mirrors without repeating the edge pixel."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = lambda n: None if n is None else n + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def instance_norm(name: str | None = None) -> keras.layers.Layer:
    """The reference's InstanceNorm2d(affine=False): per-image, per-channel statistics, no parameters."""
    return keras.layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=1e-5, name=name)


def conv_init() -> keras.initializers.Initializer:
    """The reference's init_type='normal': weights N(0, 0.02); biases start at zero (Keras' default)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
