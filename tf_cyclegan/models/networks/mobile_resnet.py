"""GAN Compression's mobile ResNet generator (Li et al. 2020, mit-han-lab/gan-compression's
MobileResnetGenerator): --netG mobile_resnet_<N>blocks. The ResNet's stem, downsampling and upsampling
(resnet_layout); in each residual block the two 3x3 convolutions are depthwise-separable (their
SeparableConv2d): a depthwise 3x3 convolution, instance norm without scale or shift, and a pointwise 1x1
convolution, both convolutions with a bias whatever the norm. At --ngf 32 this is about 1/16 of the paper's
generator's multiply-accumulates (docs/mobile.md)."""

from __future__ import annotations

from keras import layers

from tf_cyclegan.core.catalog import residual_blocks
from tf_cyclegan.models.networks.builder import LayerBuilder
from tf_cyclegan.models.networks.layers import ReflectionPadding2D, ReplicaDropout, conv_init, norm_layer
from tf_cyclegan.models.networks.resnet import resnet_layout


def _separable_conv(b: LayerBuilder, x, filters, name):
    """GAN Compression's SeparableConv2d (kernel 3, stride 1, the padding outside): its inner norm is always
    an instance norm without parameters (its default), not the network's --norm."""
    init = conv_init(b.init_type, b.init_gain)
    x = layers.DepthwiseConv2D(3, use_bias=True, depthwise_initializer=init, name=f"{name}_depthwise")(x)
    x = norm_layer("instance", b.init_gain, f"{name}_inner_norm")(x)
    return layers.Conv2D(filters, 1, use_bias=True, kernel_initializer=init, name=f"{name}_pointwise")(x)


def _mobile_block(b: LayerBuilder, x, filters, use_dropout, name):
    """x + [pad, sep3, norm, relu, (dropout), pad, sep3, norm](x)."""
    y = ReflectionPadding2D(1, name=f"{name}_pad1")(x)
    y = _separable_conv(b, y, filters, f"{name}_conv1")
    y = b.normalize(y, f"{name}_norm1")
    y = layers.ReLU(name=f"{name}_relu")(y)
    if use_dropout:
        y = ReplicaDropout(0.5, name=f"{name}_dropout")(y)
    y = ReflectionPadding2D(1, name=f"{name}_pad2")(y)
    y = _separable_conv(b, y, filters, f"{name}_conv2")
    y = b.normalize(y, f"{name}_norm2")
    return layers.Add(name=f"{name}_add")([x, y])


def mobile_resnet_generator(b: LayerBuilder, inputs, netG: str, ngf: int, output_nc: int, use_dropout: bool):
    """MobileResnetGenerator: the ResNet generator with depthwise-separable residual blocks."""
    return resnet_layout(b, inputs, residual_blocks(netG), ngf, output_nc, use_dropout, _mobile_block)
