"""The generator rewritten for TFLite: the same function, in ops that XNNPACK runs.

Two layers of the training network convert badly. GroupNormalization reshapes to 5-D with a shape
computed at run time (SHAPE, STRIDED_SLICE, PACK, RESHAPE around every norm) and takes its moments over
three axes; reflection padding becomes MIRROR_PAD, which XNNPACK does not run, so the delegated graph is cut
into pieces at every residual block. Here instance norm takes 4-D moments over (H, W) and reflection padding
is a concatenation of one-pixel slices. CUT's bilinear upsampling converts to RESIZE_BILINEAR with a size
computed at run time, which XNNPACK does not run either; here it is a depthwise convolution that computes
the four output phases, and DEPTH_TO_SPACE (figures: docs/export.md).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tf_cyclegan.models.networks.layers import BilinearUpsampling2D, Cropping2D, ReflectionPadding2D, is_instance_norm


class InstanceNorm4D(keras.layers.Layer):
    """GroupNormalization(groups=-1, center=False, scale=False) on NHWC images, as 4-D ops."""

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        centred = x - ops.mean(x, axis=[1, 2], keepdims=True)
        variance = ops.mean(ops.square(centred), axis=[1, 2], keepdims=True)
        return centred * ops.rsqrt(variance + self.epsilon)


class SlicedReflectionPadding2D(keras.layers.Layer):
    """ReflectionPadding2D as slices and concatenations (the mirrored rows, then the mirrored columns)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        for axis in (1, 2):
            mirrored_before = [_line(x, axis, i) for i in range(p, 0, -1)]
            mirrored_after = [_line(x, axis, -1 - i) for i in range(1, p + 1)]
            # At most 3 inputs per concatenation: XNNPACK leaves concatenations of more than 5 to TFLite.
            group = lambda lines: lines[0] if len(lines) == 1 else ops.concatenate(lines, axis=axis)  # noqa: E731
            x = ops.concatenate([group(mirrored_before), x, group(mirrored_after)], axis=axis)
        return x


class PhaseUpsampling2D(keras.layers.Layer):
    """BilinearUpsampling2D (x2, half-pixel centres, edges repeated) as XNNPACK's ops: output pixel (2i+dy,
    2j+dx) is a 3x3 stencil around input (i, j), weights (1/4, 3/4, 0) or (0, 3/4, 1/4) per axis by phase.
    The image is edge-padded by one, copied once per phase, convolved depthwise (each copy with its
    phase's stencil), and the phases are interleaved by depth_to_space."""

    def call(self, x):
        channels = x.shape[-1]
        for axis in (1, 2):  # edge padding by one pixel
            x = ops.concatenate([_line(x, axis, 0), x, _line(x, axis, -1)], axis=axis)
        taps = np.array([[0.25, 0.75, 0.0], [0.0, 0.75, 0.25]])
        stencils = [np.outer(taps[dy], taps[dx]) for dy in (0, 1) for dx in (0, 1)]  # depth_to_space's order
        kernel = np.stack([s for s in stencils for _ in range(channels)], axis=-1)[:, :, :, None]
        y = ops.depthwise_conv(ops.concatenate([x] * 4, axis=-1), ops.convert_to_tensor(kernel, dtype=x.dtype),
                               strides=1, padding="valid")
        return tf.nn.depth_to_space(y, 2)  # (Keras has no depth_to_space op)


def _line(x, axis: int, i: int):
    """Row or column i (negative: from the far edge) of an NHWC tensor, keeping the axis."""
    index = [slice(None)] * 4
    index[axis] = slice(i, i + 1 or None)
    return x[tuple(index)]


def _lite_layer(layer):
    if is_instance_norm(layer):
        return InstanceNorm4D(layer.epsilon, name=layer.name)
    if isinstance(layer, ReflectionPadding2D):
        return SlicedReflectionPadding2D(layer.padding, name=layer.name)
    if isinstance(layer, BilinearUpsampling2D):
        return PhaseUpsampling2D(name=layer.name)
    if isinstance(layer, Cropping2D):  # Keras' own: a strided slice with constant bounds, no SHAPE op
        return keras.layers.Cropping2D(layer.cropping, name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def lite_generator(generator: keras.Model) -> keras.Model:
    """A copy of the generator, with its weights, built from layers that convert well to TFLite."""
    clone = keras.models.clone_model(generator, clone_function=_lite_layer)
    clone.set_weights(generator.get_weights())
    return clone
