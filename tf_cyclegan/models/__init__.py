"""The translation models, one module each; `--model NAME` picks one (config.MODELS lists the names).

A model owns its networks, optimizers, the state its checkpoints hold, its compiled train step, the sample
grid it draws and the generators it exports (the contract is models.base.TranslationModel); the loop
(tf_cyclegan.loop) runs any of them. Adding a model is a module here, a branch below and a name in
config.MODELS.
"""

from __future__ import annotations

import warnings


def model_class(name: str):
    """The class of --model NAME."""
    if name == "cycle_gan":
        from tf_cyclegan.models.cycle_gan import CycleGAN

        return CycleGAN
    if name == "pix2pix":
        from tf_cyclegan.models.pix2pix import Pix2Pix

        return Pix2Pix
    if name in ("cut", "fastcut"):
        from tf_cyclegan.models.cut import CUT

        return CUT
    from tf_cyclegan.errors import RunError

    raise RunError(f"--model {name}: not a model of this version (tf_cyclegan.config.MODELS lists them); "
                   "a run made by a newer version needs that version")


def __getattr__(name):
    """Version 0.1's tf_cyclegan.models held the network builders, now in tf_cyclegan.networks."""
    if name not in ("build_generator", "build_discriminator", "generator_options", "dtype_policy"):
        raise AttributeError(f"module 'tf_cyclegan.models' has no attribute {name!r}")
    from tf_cyclegan import networks

    warnings.warn(f"tf_cyclegan.models.{name} is now tf_cyclegan.networks.{name}", DeprecationWarning, stacklevel=2)
    return getattr(networks, name)
