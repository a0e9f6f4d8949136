"""tf_cyclegan: image-to-image translation for TensorFlow 2 and Keras 3: CycleGAN, pix2pix, CUT and FastCUT,
parameter for parameter the reference PyTorch implementations' networks.

The names below are the stable Python API (docs/python_api.md). Those that need TensorFlow are loaded on
first use, so that `import tf_cyclegan` and the commands' --help answer at once. The package is laid out in
wings (docs/architecture.md): core, data, models, training, runtime, exporting, evaluation, and the
commands at the top (python -m tf_cyclegan.train, .export, .translate, .evaluate, .from_torch, .demo, .bench).
"""

from tf_cyclegan.core import moved
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import (CheckpointError, ConversionError, DatasetError, Error, EvaluateError, ExportError,
                                     ModelError, RunError, StrategyError, TranslateError)
from tf_cyclegan.core.version import VERSION as __version__

moved.install()  # the import paths of 0.5 keep working until 1.1, with a DeprecationWarning

# The names loaded on first use, and the module each comes from.
_LAZY = {
    "build_generator": "tf_cyclegan.models.networks", "build_discriminator": "tf_cyclegan.models.networks",
    "size_multiple_of": "tf_cyclegan.models.networks", "model_class": "tf_cyclegan.models",
    "inference_generator": "tf_cyclegan.models.modes",
    "load_domains": "tf_cyclegan.data.sources", "load_pairs": "tf_cyclegan.data.sources",
    "TrainingInterrupted": "tf_cyclegan.training.run",
    "Translator": "tf_cyclegan.runtime.translator", "TileOptions": "tf_cyclegan.runtime.tiling",
    "open_model": "tf_cyclegan.runtime.opening", "translate_files": "tf_cyclegan.runtime.folders",
    "ExportOptions": "tf_cyclegan.exporting.options",
    "export_generator": "tf_cyclegan.exporting.generator",
    "EvaluateOptions": "tf_cyclegan.evaluation.options",
    "measure": "tf_cyclegan.evaluation.measures",
}
# train(config), export(ExportOptions), evaluate(EvaluateOptions): the commands' modules, which are also
# the library functions (tf_cyclegan.cli.callable_as).
_COMMANDS = ("train", "export", "evaluate")

__all__ = ["Config", "Error", "DatasetError", "RunError", "CheckpointError", "StrategyError", "ExportError",
           "TranslateError", "EvaluateError", "ModelError", "ConversionError", *_LAZY, *_COMMANDS, "__version__"]


def __getattr__(name):
    import importlib

    if name in _COMMANDS:
        return importlib.import_module(f"tf_cyclegan.{name}")
    if name not in _LAZY:
        raise AttributeError(f"module 'tf_cyclegan' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
