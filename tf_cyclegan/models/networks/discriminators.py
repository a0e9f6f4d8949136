"""The reference's discriminators (define_D): the PatchGANs, 70x70 ('basic') or of n layers, and the 1x1
PixelGAN; with anti-aliasing, CUT's."""

from __future__ import annotations

import keras
from keras import layers

from tf_cyclegan.models.networks.builder import LayerBuilder


def build_discriminator(netD: str = "basic", ndf: int = 64, n_layers_D: int = 3, input_nc: int = 3,
                        norm: str = "instance", init_type: str = "normal", init_gain: float = 0.02,
                        name: str = "D_Y", synchronized: bool = False, antialias: bool = False) -> keras.Model:
    """The reference's define_D: PatchGAN with one real/fake score per overlapping patch ('basic' is the
    paper's 70x70 net, n_layers_D is then ignored as in the reference; 'n_layers' uses it), or 'pixel'
    (1x1 PatchGAN). pix2pix's conditional discriminator sees input and output side by side: input_nc 6.
    `antialias`: CUT's blurred stride-2 convolutions (the PatchGANs)."""
    b = LayerBuilder(norm, init_type, init_gain, synchronized, antialias)
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
