"""The translation models and generator families this version knows, as facts that need no TensorFlow.

`--model` and `--netG` are checked against the catalog before TensorFlow loads; the classes and builders
it names ("module:name") are imported when a run builds them. Adding a model is its module under
tf_cyclegan/models/ and one entry in MODEL_CATALOG; adding a generator family is its module under
tf_cyclegan/models/networks/ and one entry in GENERATOR_FAMILIES (docs/architecture.md walks through both).
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Callable


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A translation model: its class, and the defaults it sets where they differ from Config's (which are
    CycleGAN's), as the reference's models set them in modify_commandline_options."""

    cls: str  # "module:Class", a subclass of tf_cyclegan.models.contract.TranslationModel
    defaults: dict = dataclasses.field(default_factory=dict)


MODEL_CATALOG = {
    "cycle_gan": ModelEntry("tf_cyclegan.models.cycle_gan:CycleGAN"),
    "pix2pix": ModelEntry("tf_cyclegan.models.pix2pix:Pix2Pix", dict(
        netG="unet_256", norm="batch", use_dropout=True, gan_mode="vanilla", pool_size=0)),
    # CUT's own --CUT_mode defaults (taesungp/contrastive-unpaired-translation, models/cut_model.py).
    "cut": ModelEntry("tf_cyclegan.models.cut:CUT", dict(
        init_type="xavier", pool_size=0, lambda_NCE=1.0, nce_idt=True, n_epochs=200, n_epochs_decay=200)),
    "fastcut": ModelEntry("tf_cyclegan.models.cut:CUT", dict(
        init_type="xavier", pool_size=0, lambda_NCE=10.0, flip_equivariance=True, n_epochs=150,
        n_epochs_decay=50)),
    # GAN Compression's distillation (Li et al. 2020): a student learns a trained teacher (models/distiller.py);
    # python -m tf_cyclegan.distill sets the teacher's data and discriminator settings under these.
    "distill": ModelEntry("tf_cyclegan.models.distiller:Distiller", dict(
        netG="mobile_resnet_9blocks", ngf=32, norm="instance", use_dropout=False, pool_size=0)),
}
MODELS = tuple(MODEL_CATALOG)
FROM_DATA = tuple(name for name in MODELS if name != "distill")  # the models that learn from data alone
MODEL_DEFAULTS = {name: entry.defaults for name, entry in MODEL_CATALOG.items()}
CONTRASTIVE = ("cut", "fastcut")  # CUT's two settings (Park et al. 2020): one module, tf_cyclegan.models.cut


@dataclasses.dataclass(frozen=True)
class GeneratorFamily:
    """A family of --netG generators: the names it takes, its builder, and the number of stride-2
    downsamplings a name's network has (the sides of its input must be multiples of 2 to that power).

    The builder ("module:function") is called as builder(layers, inputs, netG, ngf, output_nc, use_dropout)
    with a tf_cyclegan.models.networks.builder.LayerBuilder and returns the network's output before tanh."""

    pattern: re.Pattern
    builder: str
    downsamplings: Callable[[re.Match], int]
    names: str  # how help texts and errors name the family


GENERATOR_FAMILIES = {
    "resnet": GeneratorFamily(re.compile(r"resnet_([1-9][0-9]*)blocks$"),
                              "tf_cyclegan.models.networks.resnet:resnet_generator", lambda match: 2,
                              "resnet_<N>blocks (resnet_9blocks, resnet_6blocks)"),
    # GAN Compression's (Li et al. 2020): depthwise-separable residual blocks, for phones and CPUs.
    "mobile_resnet": GeneratorFamily(re.compile(r"mobile_resnet_([1-9][0-9]*)blocks$"),
                                     "tf_cyclegan.models.networks.mobile_resnet:mobile_resnet_generator",
                                     lambda match: 2, "mobile_resnet_<N>blocks (mobile_resnet_9blocks)"),
    "unet": GeneratorFamily(re.compile(r"unet_(256|128)$"), "tf_cyclegan.models.networks.unet:unet_generator",
                            lambda match: {"256": 8, "128": 7}[match.group(1)], "unet_256 or unet_128"),
}
GENERATORS_HELP = ", ".join(family.names for family in GENERATOR_FAMILIES.values())
RESNET = GENERATOR_FAMILIES["resnet"].pattern
RESIDUAL = ("resnet", "mobile_resnet")  # the families of the ResNet layout: CUT's and distillation's layers


def generator_family(netG: str) -> tuple[GeneratorFamily, re.Match] | None:
    """The family a --netG name belongs to, and the name's match of its pattern; None for an unknown name."""
    for family in GENERATOR_FAMILIES.values():
        if match := family.pattern.match(netG):
            return family, match
    return None


def downsamplings(netG: str) -> int:
    """The stride-2 downsamplings of a --netG generator (ValueError for an unknown name)."""
    found = generator_family(netG)
    if found is None:
        raise ValueError(f"netG must be {GENERATORS_HELP}, got {netG!r}")
    family, match = found
    return family.downsamplings(match)


def size_multiple(netG: str) -> int:
    """Image sides a generator accepts are multiples of this: 4 for the ResNets, 256 / 128 for the U-Nets."""
    return 2 ** downsamplings(netG)


def resnet_blocks(netG: str) -> int | None:
    """The residual blocks of a resnet_<N>blocks name; None for another family."""
    match = RESNET.match(netG)
    return int(match.group(1)) if match else None


def residual_blocks(netG: str) -> int | None:
    """The residual blocks of a name of the ResNet layout (resnet_<N>blocks, mobile_resnet_<N>blocks), whose
    layers resnet_sequence lists; None for another family."""
    found = generator_family(netG)
    if found is None or found[0] not in [GENERATOR_FAMILIES[name] for name in RESIDUAL]:
        return None
    return int(found[1].group(1))


def resolve(path: str):
    """The class or function that a catalog entry names as "module:name"."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def resnet_sequence(n_blocks: int, antialias: bool = False, antialias_up: bool = False,
                    norm: str = "instance") -> list[str]:
    """The reference's ResnetGenerator as the list of modules its nn.Sequential holds, named by our layers:
    for each module (CUT's, with anti-aliasing), the name of our layer whose output is that module's
    output. Norm 'none' is the reference's Identity module: the output of the layer before it. CUT's
    --nce_layers are indices into this list, and the reference's state-dict keys (model.<index>...) too."""
    norm_of = lambda before, name: name if norm != "none" else before  # noqa: E731
    seq = ["stem_pad", "stem_conv", norm_of("stem_conv", "stem_norm"), "stem_relu"]
    for i in range(2):
        seq += [f"down{i}_conv", norm_of(f"down{i}_conv", f"down{i}_norm"), f"down{i}_relu"]
        seq += [f"down{i}_blur"] if antialias else []
    seq += [f"block{i}_add" for i in range(n_blocks)]
    for i in range(2):
        resample = [f"up{i}_upsample", f"up{i}_conv"] if antialias_up else [f"up{i}_crop"]
        seq += resample + [norm_of(resample[-1], f"up{i}_norm"), f"up{i}_relu"]
    return seq + ["head_pad", "head_conv", "tanh"]
