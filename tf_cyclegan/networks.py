"""The paper's networks as Keras functional models, parameter-for-parameter equal to the reference.

PyTorch pads convolutions symmetrically (padding=1), Keras 'same' pads stride-2 convolutions only at the
bottom/right; we pad explicitly so that weights carry over from the reference and outputs agree. Likewise a
PyTorch ConvTranspose2d(stride 2, padding 1) is a 'valid' transposed conv with the padding cropped off
(k=3 with output_padding=1: the first row and column; k=4: one on each side). Inputs are (None, None, C):
any height and width that are multiples of size_multiple_of(generator).

CUT's networks (--model cut, fastcut) are the same with anti-aliased resampling (Zhang 2019): a stride-2
convolution becomes a stride-1 one followed by a [1,2,1] blur with stride 2, and a transposed convolution
a [1,3,3,1] blurred upsampling (which is bilinear resizing) followed by a 3x3 convolution. The blur has no
weights, so the parameter counts are CycleGAN's.
"""

from __future__ import annotations

import contextlib

import keras
from keras import layers

from tf_cyclegan.config import GENERATORS_HELP, RESNET, UNET_DOWNS, antialiasing
from tf_cyclegan.layers import (BilinearUpsampling2D, Blur2D, Cropping2D, ReflectionPadding2D, ReplicaDropout,
                                conv_init, norm_layer, uses_bias)


@contextlib.contextmanager
def dtype_policy(name: str = "float32"):
    """Layers built inside compute in this Keras dtype policy (e.g. mixed_float16: float16 maths, float32
    weights). Keras reads the policy when a layer is made, so the setting is restored on the way out."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class _Builder:
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


def _resnet_block(b: _Builder, x, filters, use_dropout, name):
    """x + [pad, conv3, norm, relu, (dropout), pad, conv3, norm](x)."""
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = b.conv(y, filters, 3, name=f"{name}_conv1")
    y = b.normalize(y, f"{name}_norm1")
    y = layers.ReLU(name=f"{name}_relu")(y)
    if use_dropout:
        y = ReplicaDropout(0.5, name=f"{name}_dropout")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = b.conv(y, filters, 3, name=f"{name}_conv2")
    y = b.normalize(y, f"{name}_norm2")
    return layers.Add(name=f"{name}_add")([x, y])


def _resnet_generator(b: _Builder, inputs, n_blocks, ngf, output_nc, use_dropout):
    """Johnson et al.'s network as CycleGAN uses it: c7s1-ngf, d2ngf, d4ngf, N x R4ngf, u2ngf, ungf,
    c7s1-out, tanh."""
    x = ReflectionPadding2D(3, name="stem_pad")(inputs)
    x = b.conv(x, ngf, 7, name="stem_conv")
    x = b.normalize(x, "stem_norm")
    x = layers.ReLU(name="stem_relu")(x)
    for i, filters in enumerate((ngf * 2, ngf * 4)):
        x = b.down(x, filters, 3, f"down{i}", layers.ReLU(name=f"down{i}_relu"))
    for i in range(n_blocks):
        x = _resnet_block(b, x, ngf * 4, use_dropout, name=f"block{i}")
    for i, filters in enumerate((ngf * 2, ngf)):
        x = b.resnet_up(x, filters, name=f"up{i}")
        x = b.normalize(x, f"up{i}_norm")
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = ReflectionPadding2D(3, name="head_pad")(x)
    return b.conv(x, output_nc, 7, name="head_conv", bias=True)


def _unet_generator(b: _Builder, inputs, num_downs, ngf, output_nc, use_dropout):
    """The reference's UnetGenerator, built from the outside in: each level is
    down(x) -> [inner levels] -> up, concatenated with x (skip connection), except the outermost."""
    # (outer_nc, inner_nc) per level, outermost first, as the reference's UnetSkipConnectionBlocks.
    levels = [(output_nc, ngf), (ngf, ngf * 2), (ngf * 2, ngf * 4), (ngf * 4, ngf * 8)]
    levels += [(ngf * 8, ngf * 8)] * (num_downs - 4)
    innermost, outermost = len(levels) - 1, 0

    def level(x, i):
        outer_nc, inner_nc = levels[i]
        y = x if i == outermost else layers.LeakyReLU(0.2, name=f"level{i}_down_lrelu")(x)
        y = layers.ZeroPadding2D(1, name=f"level{i}_down_pad")(y)
        y = b.conv(y, inner_nc, 4, stride=2, name=f"level{i}_down_conv")
        if i not in (outermost, innermost):
            y = b.normalize(y, f"level{i}_down_norm")
        if i != innermost:
            y = level(y, i + 1)
        y = layers.ReLU(name=f"level{i}_up_relu")(y)
        y = b.up(y, outer_nc, 4, ((1, 1), (1, 1)), name=f"level{i}_up", bias=True if i == outermost else None)
        if i == outermost:
            return y
        y = b.normalize(y, f"level{i}_up_norm")
        if use_dropout and i not in (outermost, innermost) and i >= 4:
            y = ReplicaDropout(0.5, name=f"level{i}_dropout")(y)
        return layers.Concatenate(name=f"level{i}_skip")([x, y])

    return level(inputs, 0)


def build_generator(netG: str = "resnet_9blocks", ngf: int = 64, input_nc: int = 3, output_nc: int = 3,
                    norm: str = "instance", use_dropout: bool = False, init_type: str = "normal",
                    init_gain: float = 0.02, name: str = "G", synchronized: bool = False,
                    antialias: bool = False, antialias_up: bool = False) -> keras.Model:
    """The reference's define_G. The paper uses resnet_9blocks at 256x256 and resnet_6blocks at 128x128;
    pix2pix unet_256. `synchronized`: batch norm over every replica's images (multi-replica training).
    `antialias`, `antialias_up`: CUT's resampling (ResNets only)."""
    b = _Builder(norm, init_type, init_gain, synchronized, antialias, antialias_up)
    inputs = keras.Input((None, None, input_nc), name="image")
    if (antialias or antialias_up) and not RESNET.match(netG):
        raise ValueError(f"anti-aliasing is for the ResNet generators (CUT's), not {netG}")
    if match := RESNET.match(netG):
        x = _resnet_generator(b, inputs, int(match.group(1)), ngf, output_nc, use_dropout)
    elif netG in UNET_DOWNS:
        x = _unet_generator(b, inputs, UNET_DOWNS[netG], ngf, output_nc, use_dropout)
    else:
        raise ValueError(f"netG must be {GENERATORS_HELP}, got {netG!r}")
    outputs = layers.Activation("tanh", name="tanh", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


# Layers that downsample by their stride. A network given sides that are not multiples of the product of
# their strides gives back another size (2 * ceil(h / 2) after a stride-2 conv and a transposed conv).
_DOWNSAMPLING = (layers.Conv2D, layers.MaxPooling2D, layers.AveragePooling2D, Blur2D)


def size_multiple_of(generator: keras.Model) -> int:
    """The multiple that the sides of a generator's input must be (4 for the ResNets, 256 / 128 for the
    U-Nets): the product of its downsampling strides, read from the network itself, so that it holds for a
    generator loaded from a .keras file or converted from PyTorch as much as for one built here."""
    multiple = 1
    for layer in generator.layers:
        if isinstance(layer, _DOWNSAMPLING):
            multiple *= int(layer.strides[0])
    return multiple


def generator_options(config) -> dict:
    """build_generator's arguments for a run's config (shared by training, export and translate)."""
    return dict(netG=config.netG, ngf=config.ngf, norm=config.norm, use_dropout=config.use_dropout,
                init_type=config.init_type, init_gain=config.init_gain, **antialiasing(config))


def discriminator_options(config) -> dict:
    """build_discriminator's arguments for a run's config."""
    return dict(netD=config.netD, ndf=config.ndf, n_layers_D=config.n_layers_D, norm=config.norm,
                init_type=config.init_type, init_gain=config.init_gain, antialias=antialiasing(config)["antialias"])


def build_discriminator(netD: str = "basic", ndf: int = 64, n_layers_D: int = 3, input_nc: int = 3,
                        norm: str = "instance", init_type: str = "normal", init_gain: float = 0.02,
                        name: str = "D_Y", synchronized: bool = False, antialias: bool = False) -> keras.Model:
    """The reference's define_D: PatchGAN with one real/fake score per overlapping patch ('basic' is the
    paper's 70x70 net, n_layers_D is then ignored as in the reference; 'n_layers' uses it), or 'pixel'
    (1x1 PatchGAN). pix2pix's conditional discriminator sees input and output side by side: input_nc 6.
    `antialias`: CUT's blurred stride-2 convolutions (the PatchGANs)."""
    b = _Builder(norm, init_type, init_gain, synchronized, antialias)
    inputs = keras.Input((None, None, input_nc), name="image")
    if netD == "pixel":
        x = b.conv(inputs, ndf, 1, name="conv0", bias=True)
        x = layers.LeakyReLU(0.2, name="conv0_lrelu")(x)
        x = b.conv(x, ndf * 2, 1, name="conv1")
        x = b.normalize(x, "conv1_norm")
        x = layers.LeakyReLU(0.2, name="conv1_lrelu")(x)
        outputs = b.conv(x, 1, 1, name="head_conv")
        return keras.Model(inputs, outputs, name=name)
    if netD == "basic":
        n_layers_D = 3
    elif netD != "n_layers":
        raise ValueError(f"netD must be 'basic', 'n_layers' or 'pixel', got {netD!r}")
    if n_layers_D < 1:
        raise ValueError(f"n_layers_D must be at least 1, got {n_layers_D}")

    def conv_block(x, filters, i, first=False):
        return b.down(x, filters, 4, f"conv{i}", layers.LeakyReLU(0.2, name=f"conv{i}_lrelu"), first=first,
                      conv_name=f"conv{i}")

    x = conv_block(inputs, ndf, 0, first=True)
    for n in range(1, n_layers_D):
        x = conv_block(x, ndf * min(2**n, 8), n)
    x = layers.ZeroPadding2D(1, name=f"conv{n_layers_D}_pad")(x)
    x = b.conv(x, ndf * min(2**n_layers_D, 8), 4, name=f"conv{n_layers_D}")
    x = b.normalize(x, f"conv{n_layers_D}_norm")
    x = layers.LeakyReLU(0.2, name=f"conv{n_layers_D}_lrelu")(x)
    x = layers.ZeroPadding2D(1, name="head_pad")(x)
    outputs = b.conv(x, 1, 4, name="head_conv", bias=True)
    return keras.Model(inputs, outputs, name=name)
