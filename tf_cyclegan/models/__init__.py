"""The translation models, one module each; `--model NAME` picks one (config.MODELS lists the names).

A model owns its networks, optimizers, the state its checkpoints hold, its compiled train step, the sample
grid it draws and the generators it exports (the contract is models.base.TranslationModel); the loop
(tf_cyclegan.loop) runs any of them. Adding a model is a module here, a branch below and a name in
config.MODELS.
"""

from __future__ import annotations


def model_class(name: str):
    """The class of --model NAME."""
    if name == "cycle_gan":
        from tf_cyclegan.models.cycle_gan import CycleGAN

        return CycleGAN
    raise ValueError(f"unknown model {name!r}; tf_cyclegan.config.MODELS lists the models")
