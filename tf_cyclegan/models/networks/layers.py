"""The pieces the reference networks need that Keras spells differently from PyTorch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tf_cyclegan.core.config import INIT_TYPES, NORMS


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


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class Cropping2D(keras.layers.Cropping2D):
    """keras.layers.Cropping2D (NHWC) as a Slice op instead of a StridedSlice: TF's CPU gradient of a
    StridedSlice is slow, a Slice's gradient is a Pad (figures: docs/performance.md, Levers tried)."""

    def call(self, x):
        (top, bottom), (left, right) = self.cropping
        if self.data_format != "channels_last":
            return super().call(x)
        shape = ops.shape(x)
        return ops.slice(x, [0, top, left, 0], [shape[0], shape[1] - top - bottom, shape[2] - left - right, shape[3]])


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class InstanceNormalization(keras.layers.GroupNormalization):
    """GroupNormalization with one channel per group, computed by TF's fused batch-norm op on each image
    alone, whose per-channel statistics are then the image's own. The fused op and its gradient replace a
    dozen element-wise ops and reductions, and are faster (docs/performance.md, Levers tried). Other
    settings (groups of several channels, centre, scale) run Keras' own code."""

    def call(self, x):
        if not is_instance_norm(self, x.shape):
            return super().call(x)
        images = tf.cast(x, tf.float32)  # as GroupNormalization does: 16-bit inputs are normalised in float32
        if x.shape[0] is not None:  # (one image: split and concat return their input)
            y = tf.concat([self._normalize(image) for image in tf.split(images, x.shape[0])], axis=0)
        else:  # a batch of unknown size (a serving signature): the images move into the channels
            batch, height, width, channels = tf.unstack(tf.shape(images))
            y = self._normalize(tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, height, width, batch * channels]))
            y = tf.transpose(tf.reshape(y, [height, width, batch, channels]), [2, 0, 1, 3])
        return tf.cast(y, self.compute_dtype)

    def _normalize(self, images):
        """Batch norm's training statistics over (N, H, W) for each channel."""
        n = tf.shape(images)[-1]
        # The raw op: tf.nn's wrapper raises epsilon to at least 1.001e-5, and the reference uses 1e-5.
        return tf.raw_ops.FusedBatchNormV3(x=images, scale=tf.ones([n]), offset=tf.zeros([n]), mean=tf.zeros([0]),
                                           variance=tf.zeros([0]), epsilon=self.epsilon, is_training=True).y


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class TorchBatchNormalization(keras.layers.BatchNormalization):
    """PyTorch's BatchNorm2d: like Keras', a batch is normalised with its biased variance, but the running
    variance is updated with the unbiased one (times n / (n - 1), n the values per channel over every
    replica), as PyTorch does. At pix2pix's batch of 1 the U-Net's innermost levels have n = 4 and 16, where
    Keras' rule would leave the running variance at 3/4 and 15/16 of the reference's, and eval mode apart."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.renorm:
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        mean, variance = self._moments(x, None)
        n = tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), self._reduction_axes)), tf.float32)
        if self.synchronized:
            context = tf.distribute.get_replica_context()
            n *= context.num_replicas_in_sync if context is not None else 1
        unbiased = variance * n / tf.maximum(n - 1.0, 1.0)
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + unbiased * (1.0 - m))
        y = tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)
        return tf.cast(y, self.compute_dtype)


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class ReplicaDropout(keras.layers.Dropout):
    """Keras' Dropout, except that under tf.distribute each replica draws its own masks: Keras' seed
    generator holds the same state on every replica, so every replica would drop the same units of its own
    images. The replica's index is folded into the seed (nothing changes on one device)."""

    def call(self, inputs, training=False):
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else 0
        if not training or self.rate == 0 or isinstance(replica, int) and replica == 0:
            return super().call(inputs, training=training)
        seed = self.seed_generator.next() + tf.stack([tf.constant(0, self.seed_generator.state.dtype),
                                                      tf.cast(replica, self.seed_generator.state.dtype)])
        return tf.nn.experimental.stateless_dropout(inputs, self.rate, seed=tf.cast(seed, tf.int32))


def is_instance_norm(layer, input_shape=None) -> bool:
    """Whether the layer is a GroupNormalization that computes instance norm without parameters on NHWC images
    of input_shape (default: the shape it was built on): one channel per group (Keras stores groups=-1 as
    the channel count), no centre or scale."""
    if not isinstance(layer, keras.layers.GroupNormalization):
        return False
    shape = layer.input.shape if input_shape is None else input_shape
    return (len(shape) == 4 and layer.axis in (-1, 3) and layer.groups in (-1, shape[-1]) and not layer.center
            and not layer.scale)


def instance_norm(name: str | None = None) -> keras.layers.Layer:
    """The reference's InstanceNorm2d(affine=False): per-image, per-channel statistics, no parameters."""
    return InstanceNormalization(groups=-1, center=False, scale=False, epsilon=1e-5, name=name)


def norm_layer(norm: str, gain: float = 0.02, name: str | None = None,
               synchronized: bool = False) -> keras.layers.Layer | None:
    """--norm: instance (the paper's), batch (PyTorch's BatchNorm2d: momentum 0.1, eps 1e-5, weight
    initialised N(1, gain) as the reference's init_weights does), or none. `synchronized` batch norm takes
    its statistics over the global batch of every replica, as the reference's --norm syncbatch."""
    if norm == "instance":
        return instance_norm(name)
    if norm == "batch":
        return TorchBatchNormalization(
            momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, gain),
            synchronized=synchronized, name=name)
    if norm == "none":
        return None
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


def uses_bias(norm: str) -> bool:
    """The reference gives the normalised convolutions a bias only with instance norm (batch norm's shift
    replaces it; with 'none' the reference's test `norm_layer == InstanceNorm2d` is false as well)."""
    return norm == "instance"


def conv_init(init_type: str = "normal", gain: float = 0.02) -> keras.initializers.Initializer:
    """The reference's init_weights: normal N(0, gain), xavier_normal(gain), kaiming_normal(fan_in),
    orthogonal(gain); biases start at zero (Keras' default). Keras counts a conv kernel's fans as PyTorch
    does, transposed convolutions included."""
    if init_type == "normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=gain)
    if init_type == "xavier":
        return keras.initializers.VarianceScaling(gain**2, mode="fan_avg", distribution="untruncated_normal")
    if init_type == "kaiming":
        return keras.initializers.VarianceScaling(2.0, mode="fan_in", distribution="untruncated_normal")
    if init_type == "orthogonal":
        return keras.initializers.Orthogonal(gain)
    raise ValueError(f"init_type must be one of {', '.join(INIT_TYPES)}, got {init_type!r}")


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class Blur2D(keras.layers.Layer):
    """CUT's anti-aliased downsampling (Zhang 2019, "Making convolutional networks shift-invariant again")
    after its reflection padding: every channel blurred with [1,2,1] x [1,2,1] / 16, then every second
    pixel kept. The filter is a constant, not a weight, as the reference's registered buffer; a depthwise
    convolution in TFLite."""

    def __init__(self, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.strides = (int(strides), int(strides))

    def call(self, x):
        taps = np.array([1.0, 2.0, 1.0])
        kernel = np.tile((np.outer(taps, taps) / 16.0)[:, :, None, None], [1, 1, x.shape[-1], 1])
        return ops.depthwise_conv(x, ops.convert_to_tensor(kernel, dtype=x.dtype), strides=self.strides,
                                  padding="valid")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        shrink = lambda n: None if n is None else (n - 3) // self.strides[0] + 1  # noqa: E731
        return (b, shrink(h), shrink(w), c)

    def get_config(self):
        return {**super().get_config(), "strides": self.strides[0]}


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class BilinearUpsampling2D(keras.layers.Layer):
    """CUT's anti-aliased upsampling: a [1,3,3,1] blur of the 2x zero-stuffed image with edge padding, which
    is bilinear resizing to twice the size with half-pixel centres. Keras' UpSampling2D needs the sides
    known when traced, which the serving signatures' images are not."""

    def call(self, x):
        size = tf.shape(x)[1:3] * 2
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else 2 * h, None if w is None else 2 * w, c)
