"""The paper's networks as Keras functional models, parameter-for-parameter equal to the reference.

PyTorch pads convolutions symmetrically (padding=1), Keras 'same' pads stride-2 convolutions only at the
bottom/right; we pad explicitly so that weights carry over from the reference and outputs agree. Likewise a
ConvTranspose2d(k=3, s=2, padding=1, output_padding=1) is a 'valid' transposed conv with its first row and
column cropped. Inputs are (None, None, 3): any height and width (the generator needs multiples of 4).
"""

from __future__ import annotations

import keras
from keras import layers

from tf_cyclegan.config import _RESNET
from tf_cyclegan.layers import ReflectionPadding2D, conv_init, instance_norm


def _conv(filters, kernel, stride=1, name=None):
    return layers.Conv2D(filters, kernel, strides=stride, padding="valid", kernel_initializer=conv_init(),
                         name=name)


def _resnet_block(x, filters, use_dropout, name):
    """x + [pad, conv3, norm, relu, (dropout), pad, conv3, norm](x)."""
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = _conv(filters, 3, name=f"{name}_conv1")(y)
    y = instance_norm(f"{name}_norm1")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    if use_dropout:
        y = layers.Dropout(0.5, name=f"{name}_dropout")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = _conv(filters, 3, name=f"{name}_conv2")(y)
    y = instance_norm(f"{name}_norm2")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def build_generator(netG: str = "resnet_9blocks", ngf: int = 64, input_nc: int = 3, output_nc: int = 3,
                    use_dropout: bool = False, name: str = "G") -> keras.Model:
    """ResNet generator (Johnson et al.) as used by CycleGAN: c7s1-ngf, d2ngf, d4ngf, N x R4ngf, u2ngf,
    ungf, c7s1-3, tanh. `netG` is resnet_<N>blocks; the paper uses 9 blocks at 256x256, 6 at 128x128."""
    match = _RESNET.match(netG)
    if not match:
        raise ValueError(f"netG must be resnet_<N>blocks (resnet_9blocks, resnet_6blocks), got {netG!r}")
    n_blocks = int(match.group(1))

    inputs = keras.Input((None, None, input_nc), name="image")
    x = ReflectionPadding2D(3, name="stem_pad")(inputs)
    x = _conv(ngf, 7, name="stem_conv")(x)
    x = instance_norm("stem_norm")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i, filters in enumerate((ngf * 2, ngf * 4)):
        x = layers.ZeroPadding2D(1, name=f"down{i}_pad")(x)
        x = _conv(filters, 3, stride=2, name=f"down{i}_conv")(x)
        x = instance_norm(f"down{i}_norm")(x)
        x = layers.ReLU(name=f"down{i}_relu")(x)
    for i in range(n_blocks):
        x = _resnet_block(x, ngf * 4, use_dropout, name=f"block{i}")
    for i, filters in enumerate((ngf * 2, ngf)):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="valid", kernel_initializer=conv_init(),
                                   name=f"up{i}_conv")(x)
        x = layers.Cropping2D(((1, 0), (1, 0)), name=f"up{i}_crop")(x)
        x = instance_norm(f"up{i}_norm")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = ReflectionPadding2D(3, name="head_pad")(x)
    x = _conv(output_nc, 7, name="head_conv")(x)
    outputs = layers.Activation("tanh", name="tanh", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(netD: str = "basic", ndf: int = 64, n_layers_D: int = 3, input_nc: int = 3,
                        name: str = "D_Y") -> keras.Model:
    """PatchGAN discriminator: one real/fake score per overlapping patch (70x70 with 3 layers).
    `netD='basic'` is the paper's 70x70 net (n_layers_D is ignored, as in the reference)."""
    if netD == "basic":
        n_layers_D = 3
    elif netD != "n_layers":
        raise ValueError(f"netD must be 'basic' or 'n_layers', got {netD!r}")
    if n_layers_D < 1:
        raise ValueError(f"n_layers_D must be at least 1, got {n_layers_D}")

    def conv_block(x, filters, stride, i, norm=True):
        x = layers.ZeroPadding2D(1, name=f"conv{i}_pad")(x)
        x = _conv(filters, 4, stride=stride, name=f"conv{i}")(x)
        if norm:
            x = instance_norm(f"conv{i}_norm")(x)
        return layers.LeakyReLU(0.2, name=f"conv{i}_lrelu")(x)

    inputs = keras.Input((None, None, input_nc), name="image")
    x = conv_block(inputs, ndf, 2, 0, norm=False)
    for n in range(1, n_layers_D):
        x = conv_block(x, ndf * min(2**n, 8), 2, n)
    x = conv_block(x, ndf * min(2**n_layers_D, 8), 1, n_layers_D)
    x = layers.ZeroPadding2D(1, name="head_pad")(x)
    outputs = _conv(1, 4, name="head_conv")(x)
    return keras.Model(inputs, outputs, name=name)
