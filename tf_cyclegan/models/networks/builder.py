"""What every layer of one network shares: its norm, its initialisation, and PyTorch's padding.

PyTorch pads convolutions symmetrically (padding=1), Keras 'same' pads stride-2 convolutions only at the
bottom/right; we pad explicitly so that weights carry over from the reference and outputs agree. Likewise a
PyTorch ConvTranspose2d(stride 2, padding 1) is a 'valid' transposed conv with the padding cropped off
(k=3 with output_padding=1: the first row and column; k=4: one on each side).

CUT's networks are the same with anti-aliased resampling (Zhang 2019): a stride-2 convolution becomes a
stride-1 one followed by a [1,2,1] blur with stride 2, and a transposed convolution a [1,3,3,1] blurred
upsampling (which is bilinear resizing) followed by a 3x3 convolution. The blur has no weights, so the
parameter counts are CycleGAN's.
"""

from __future__ import annotations

from keras import layers

from tf_cyclegan.models.networks.layers import (BilinearUpsampling2D, Blur2D, Cropping2D, ReflectionPadding2D,
                                                conv_init, norm_layer, uses_bias)


class LayerBuilder:
    """The options every layer of one network shares (norm, initialisation), so the blocks stay short."""

    def __init__(self, norm: str, init_type: str, init_gain: float, synchronized: bool = False,
                 antialias: bool = False, antialias_up: bool = False):
        self.norm, self.init_type, self.init_gain, self.synchronized = norm, init_type, init_gain, synchronized
        self.antialias, self.antialias_up = antialias, antialias_up

    def conv(self, x, filters, kernel, stride=1, name=None, bias=None, padding="valid"):
        bias = uses_bias(self.norm) if bias is None else bias
        return layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=bias,
                             kernel_initializer=conv_init(self.init_type, self.init_gain), name=name)(x)

    def up(self, x, filters, kernel, crop, name, bias=None):
        bias = uses_bias(self.norm) if bias is None else bias
        x = layers.Conv2DTranspose(filters, kernel, strides=2, padding="valid", use_bias=bias,
                                   kernel_initializer=conv_init(self.init_type, self.init_gain),
                                   name=f"{name}_conv")(x)
        return Cropping2D(crop, name=f"{name}_crop")(x)

    def normalize(self, x, name):
        layer = norm_layer(self.norm, self.init_gain, name, self.synchronized)
        return x if layer is None else layer(x)

    def down(self, x, filters, kernel, name, activation, first=False, conv_name=None):
        """A stride-2 conv (zero padding 1), norm (not for the first), activation; anti-aliased: the conv at
        stride 1, then the blur with stride 2 after the activation, as CUT orders them. An odd kernel at
        stride 1 pads itself ('same' is then PyTorch's padding 1 on every side): one copy of a full-resolution
        tensor less, forward and backward."""
        same = self.antialias and kernel % 2 == 1
        x = x if same else layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
        x = self.conv(x, filters, kernel, stride=1 if self.antialias else 2, name=conv_name or f"{name}_conv",
                      bias=True if first else None, padding="same" if same else "valid")
        x = x if first else self.normalize(x, f"{name}_norm")
        x = activation(x)
        if self.antialias:
            x = ReflectionPadding2D(1, name=f"{name}_blur_pad")(x)
            x = Blur2D(2, name=f"{name}_blur")(x)
        return x

    def resnet_up(self, x, filters, name):
        """The ResNet's upsampling: a transposed conv (k3, stride 2, PyTorch's output_padding 1), or
        anti-aliased: bilinear x2 (CUT's [1,3,3,1] filter with edge padding), then a 3x3 conv."""
        if not self.antialias_up:
            return self.up(x, filters, 3, ((1, 0), (1, 0)), name=name)
        x = BilinearUpsampling2D(name=f"{name}_upsample")(x)
        return self.conv(x, filters, 3, name=f"{name}_conv", padding="same")
