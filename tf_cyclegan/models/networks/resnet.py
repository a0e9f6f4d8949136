"""Johnson et al.'s ResNet generator as CycleGAN uses it (the reference's ResnetGenerator): --netG
resnet_<N>blocks; with anti-aliasing, CUT's. resnet_layout is the stem, downsampling, residual blocks and
upsampling that the ResNet and the mobile ResNet (mobile_resnet.py) share; they differ in their blocks."""

from __future__ import annotations

from typing import Callable

from keras import layers

from tf_cyclegan.core.catalog import residual_blocks
from tf_cyclegan.models.networks.builder import LayerBuilder
from tf_cyclegan.models.networks.layers import ReflectionPadding2D, ReplicaDropout


def _resnet_block(b: LayerBuilder, x, filters, use_dropout, name):
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


def resnet_layout(b: LayerBuilder, inputs, n_blocks: int, ngf: int, output_nc: int, use_dropout: bool,
                  block: Callable):
    """c7s1-ngf, d2ngf, d4ngf, N x block(4ngf), u2ngf, ungf, c7s1-out (before tanh). Layer names are the
    same in every network of the layout, so that CUT's --nce_layers and distillation's feature layers find
    their places in either (tf_cyclegan.core.catalog.resnet_sequence)."""
    x = ReflectionPadding2D(3, name="stem_pad")(inputs)
    x = b.conv(x, ngf, 7, name="stem_conv")
    x = b.normalize(x, "stem_norm")
    x = layers.ReLU(name="stem_relu")(x)
    for i, filters in enumerate((ngf * 2, ngf * 4)):
        x = b.down(x, filters, 3, f"down{i}", layers.ReLU(name=f"down{i}_relu"))
    for i in range(n_blocks):
        x = block(b, x, ngf * 4, use_dropout, name=f"block{i}")
    for i, filters in enumerate((ngf * 2, ngf)):
        x = b.resnet_up(x, filters, name=f"up{i}")
        x = b.normalize(x, f"up{i}_norm")
        x = layers.ReLU(name=f"up{i}_relu")(x)
    x = ReflectionPadding2D(3, name="head_pad")(x)
    return b.conv(x, output_nc, 7, name="head_conv", bias=True)


def resnet_generator(b: LayerBuilder, inputs, netG: str, ngf: int, output_nc: int, use_dropout: bool):
    """Johnson et al.'s network as CycleGAN uses it: c7s1-ngf, d2ngf, d4ngf, N x R4ngf, u2ngf, ungf,
    c7s1-out, tanh."""
    return resnet_layout(b, inputs, residual_blocks(netG), ngf, output_nc, use_dropout, _resnet_block)
