"""The generators: build_generator for every --netG family, the size multiple a generator's input needs,
and the builders' arguments for a run's config. Inputs are (None, None, C): any height and width that are
multiples of size_multiple_of(generator)."""

from __future__ import annotations

import contextlib

import keras
from keras import layers

from tf_cyclegan.core.catalog import GENERATORS_HELP, generator_family, residual_blocks, resolve
from tf_cyclegan.core.config import antialiasing
from tf_cyclegan.models.networks.builder import LayerBuilder
from tf_cyclegan.models.networks.layers import Blur2D


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


def build_generator(netG: str = "resnet_9blocks", ngf: int = 64, input_nc: int = 3, output_nc: int = 3,
                    norm: str = "instance", use_dropout: bool = False, init_type: str = "normal",
                    init_gain: float = 0.02, name: str = "G", synchronized: bool = False,
                    antialias: bool = False, antialias_up: bool = False) -> keras.Model:
    """The reference's define_G. The paper uses resnet_9blocks at 256x256 and resnet_6blocks at 128x128;
    pix2pix unet_256. `synchronized`: batch norm over every replica's images (multi-replica training).
    `antialias`, `antialias_up`: CUT's resampling (ResNets only). The families of --netG and their
    builders are tf_cyclegan.core.catalog's GENERATOR_FAMILIES."""
    found = generator_family(netG)
    if found is None:
        raise ValueError(f"netG must be {GENERATORS_HELP}, got {netG!r}")
    if (antialias or antialias_up) and not residual_blocks(netG):
        raise ValueError(f"anti-aliasing is for the ResNet generators (CUT's), not {netG}")
    b = LayerBuilder(norm, init_type, init_gain, synchronized, antialias, antialias_up)
    inputs = keras.Input((None, None, input_nc), name="image")
    x = resolve(found[0].builder)(b, inputs, netG, ngf, output_nc, use_dropout)
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
