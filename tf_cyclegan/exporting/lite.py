"""The generator rewritten for TFLite: the same function, in ops that XNNPACK runs.

Two layers of the training network convert badly. GroupNormalization reshapes to 5-D with a shape
computed at run time (SHAPE, STRIDED_SLICE, PACK, RESHAPE around every norm) and takes its moments over
three axes; reflection padding becomes MIRROR_PAD, which XNNPACK does not run, so the delegated graph is cut
into pieces at every residual block. Here instance norm takes 4-D moments over (H, W) and reflection padding
is a concatenation of one-pixel slices. CUT's bilinear upsampling converts to RESIZE_BILINEAR with a size
computed at run time, which XNNPACK does not run either; here it is a depthwise convolution that computes
the four output phases, and DEPTH_TO_SPACE (figures: docs/export.md). Likewise the transposed convolutions
of the ResNets and U-Nets (TRANSPOSE_CONV with a run-time output shape) become a convolution per phase.
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


class PhaseTransposedConv2D(keras.layers.Layer):
    """A stride-2 Conv2DTranspose and the Cropping2D after it (PyTorch's ConvTranspose2d with padding) as one
    convolution and DEPTH_TO_SPACE, which XNNPACK runs (it leaves TRANSPOSE_CONV with a run-time output shape
    to TFLite). Output pixel (2m + p) takes input pixels m + d with the kernel taps k = p + crop - 2d, for
    each phase p of each axis: one small convolution computes the four phases as channel blocks, in
    depth_to_space's order. The weights keep Conv2DTranspose's layout, so the copy loads the original's."""

    def __init__(self, filters: int, kernel_size: int, crop: tuple[int, int], use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.crop, self.use_bias = filters, int(kernel_size), tuple(crop), use_bias
        # The input offsets d that some phase reads, per axis (top, left).
        self.offsets = [sorted({(p + c - k) // 2 for p in (0, 1) for k in range(self.kernel_size)
                                if (p + c - k) % 2 == 0}) for c in self.crop]

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, self.filters, input_shape[-1]), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias") if self.use_bias else None

    def call(self, x):
        kernel = ops.transpose(self.kernel, (0, 1, 3, 2))  # (k, k, C_in, C_out)
        zero = ops.zeros_like(kernel[0, 0])
        tap = lambda ky, kx: kernel[ky, kx] if 0 <= ky < self.kernel_size and 0 <= kx < self.kernel_size else zero  # noqa: E731
        (top, left), (rows, cols) = self.crop, self.offsets
        phases = [ops.stack([ops.stack([tap(py + top - 2 * dy, px + left - 2 * dx) for dx in cols]) for dy in rows])
                  for py in (0, 1) for px in (0, 1)]
        padded = ops.pad(x, [[0, 0], [-rows[0], rows[-1]], [-cols[0], cols[-1]], [0, 0]])
        y = ops.conv(padded, ops.concatenate(phases, axis=-1), strides=1, padding="valid")
        if self.bias is not None:
            y = y + ops.tile(self.bias, [4])
        return tf.nn.depth_to_space(y, 2)


def _line(x, axis: int, i: int):
    """Row or column i (negative: from the far edge) of an NHWC tensor, keeping the axis."""
    index = [slice(None)] * 4
    index[axis] = slice(i, i + 1 or None)
    return x[tuple(index)]


def _lite_layer(layer, cropped: dict):
    """The TFLite-friendly layer for one of the generator's; `cropped`: {Conv2DTranspose: the Cropping2D
    that follows it}, the pairs that become one PhaseTransposedConv2D (the crop then an identity)."""
    if layer in cropped:
        crop = cropped[layer].cropping
        return PhaseTransposedConv2D(layer.filters, layer.kernel_size[0], (crop[0][0], crop[1][0]), layer.use_bias,
                                     name=layer.name)
    if any(layer is crop for crop in cropped.values()):
        return keras.layers.Identity(name=layer.name)
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
    cropped = {}
    for layer in generator.layers:  # a stride-2 transposed conv whose only consumer is a crop to twice its input
        producer = layer.input._keras_history.operation if isinstance(layer, Cropping2D) else None
        if (isinstance(producer, keras.layers.Conv2DTranspose) and producer.strides == (2, 2)
                and producer.padding == "valid" and producer.dilation_rate == (1, 1)
                and sum(layer.cropping[0]) == sum(layer.cropping[1]) == producer.kernel_size[0] - 2
                and producer.kernel_size[0] == producer.kernel_size[1]):
            cropped[producer] = layer
    clone = keras.models.clone_model(generator, clone_function=lambda layer: _lite_layer(layer, cropped))
    clone.set_weights(generator.get_weights())
    return clone
