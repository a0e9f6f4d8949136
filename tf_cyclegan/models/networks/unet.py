"""The reference's U-Net generator (UnetGenerator), pix2pix's: --netG unet_256 or unet_128."""

from __future__ import annotations

from keras import layers

from tf_cyclegan.core.catalog import downsamplings
from tf_cyclegan.models.networks.builder import LayerBuilder
from tf_cyclegan.models.networks.layers import ReplicaDropout


def unet_generator(b: LayerBuilder, inputs, netG: str, ngf: int, output_nc: int, use_dropout: bool):
    """The reference's UnetGenerator, built from the outside in: each level is
    down(x) -> [inner levels] -> up, concatenated with x (skip connection), except the outermost."""
    num_downs = downsamplings(netG)
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
