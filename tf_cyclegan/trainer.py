"""Where version 0.1 kept training: its names now live in tf_cyclegan.loop, tf_cyclegan.models.cycle_gan,
tf_cyclegan.layout and tf_cyclegan.errors. Importing them from here still works, with a DeprecationWarning,
so that scripts and notebooks written for 0.1 keep running."""

from __future__ import annotations

import importlib
import warnings

_MOVED = {"train": "tf_cyclegan.loop", "TrainingInterrupted": "tf_cyclegan.loop",
          "CycleGAN": "tf_cyclegan.models.cycle_gan", "LOSS_NAMES": "tf_cyclegan.models.cycle_gan", "LOG_NAMES": "tf_cyclegan.models.cycle_gan",
          "GENERATOR_LOSSES": "tf_cyclegan.models.cycle_gan", "default_output": "tf_cyclegan.layout",
          "RunError": "tf_cyclegan.errors"}


def __getattr__(name):
    if name not in _MOVED:
        raise AttributeError(f"module 'tf_cyclegan.trainer' has no attribute {name!r}")
    warnings.warn(f"tf_cyclegan.trainer.{name} is now {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)
