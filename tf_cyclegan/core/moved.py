"""The import paths of tf_cyclegan 0.5 that version 1.0 moved into wings (docs/architecture.md), kept working
until 1.1: each old name forwards to its new home with a DeprecationWarning that names the new place.

Modules that are gone (tf_cyclegan.serving, ...) are stood in for by forwarding modules (install(), which the
package runs on import); modules that are still there with other contents (the commands, tf_cyclegan.data,
tf_cyclegan.models) forward their old names through their own __getattr__ (forwarding()). CHANGELOG.md
lists the same moves for readers.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

_P = "tf_cyclegan."
# {old module: {old name: "new module" or "new module:new name"}}; "*" stands for every other name.
MOVED = {
    "config": {"*": "core.config", **dict.fromkeys(("MODELS", "MODEL_DEFAULTS", "CONTRASTIVE", "RESNET",
                                                     "GENERATORS_HELP", "size_multiple"), "core.catalog")},
    "errors": {"*": "core.errors"}, "directions": {"*": "core.directions"}, "layout": {"*": "core.layout"},
    "fileio": {"*": "core.files"}, "checkpoints": {"*": "core.checkpoints"}, "samples": {"*": "core.pictures"},
    "sequence": {"*": "core.catalog"},
    "layers": {"*": "models.networks.layers"}, "networks": {"*": "models.networks"},
    "losses": {"*": "models.losses"}, "image_pool": {"*": "models.image_pool"}, "patchnce": {"*": "models.patchnce"},
    "schedule": {"*": "models.schedules"}, "inference": {"*": "models.modes"}, "models.base": {"*": "models.contract"},
    "models": dict.fromkeys(("build_generator", "build_discriminator", "generator_options", "dtype_policy"),
                            "models.networks"),
    "trainer": {"train": "training.run", "TrainingInterrupted": "training.run", "default_output": "core.layout",
                "RunError": "core.errors", **dict.fromkeys(("CycleGAN", "LOSS_NAMES", "LOG_NAMES", "GENERATOR_LOSSES"),
                                                           "models.cycle_gan")},
    "data": {**dict.fromkeys(("decode", "to_rgb", "load_resized", "image_size", "check_image", "list_images",
                              "IMAGE_EXTENSIONS"), "data.images"),
             **dict.fromkeys(("ImageList", "Domains", "folder_domains", "domain_names", "SPLITS"), "data.unpaired"),
             **dict.fromkeys(("preprocessed_size", "load_preprocessed", "training_shapes", "Unpaired",
                              "image_indices", "first_images"), "data.pipeline"),
             **dict.fromkeys(("tfds_domains", "CYCLE_GAN_CONFIGS", "CYCLE_GAN_URL"), "data.tfds"),
             "seasons_root": "data.embedded", "seasons_domains": "data.embedded", "SEASONS": "data.embedded:NAME",
             "load_domains": "data.sources"},
    "paired": {"*": "data.paired", "seasons_pairs": "data.embedded", "load_pairs": "data.sources",
               "PIX2PIX_PREFIX": "data.sources", **dict.fromkeys(("load_pair", "first_pairs", "PairedData"),
                                                                 "data.pipeline")},
    "datasets.pix2pix": {"*": "data.pix2pix_datasets"},
    "datasets.combine": {"*": "data.combine"},
    "datasets.seasons": {"*": "data.seasons"},
    "serving": {"*": "runtime.processing", "to_float": "core.pixels", "to_uint8": "core.pixels",
                "DEFAULT_MAX_PIXELS": "core.pixels:MAX_EXPORT_PIXELS"},
    "translators": {"*": "runtime.translators", "Translator": "runtime.translator",
                    **dict.fromkeys(("open_model", "open_translator", "OpenedModel", "pick_direction", "check_mode",
                                     "whole_image_tiles"), "runtime.opening"),
                    "_load_saved_model": "runtime.translators:load_saved_model"},
    "tiling": {"*": "runtime.tiling"}, "shared_norm": {"*": "runtime.shared_norm"}, "lite": {"*": "exporting.lite"},
    "metrics": {"*": "evaluation.measures", **dict.fromkeys(
        ("InceptionFeatures", "inception_weights", "keras_cache_weights", "INCEPTION_FILE", "INCEPTION_URL",
         "INCEPTION_SIZE"), "evaluation.inception")},
    "loop": {"*": "training.loop", **dict.fromkeys(("train", "TrainingInterrupted", "check_resume"), "training.run"),
             "Evaluator": "training.evaluator"},
    "distribute": {"*": "training.distribute"},
    "export": {"export": "exporting.run:export_run",
               "representative_images": "exporting.run", "load_generators": "runtime.opening",
               "inference_contract": "models.modes:describe_mode", "export_generator": "exporting.generator",
               **dict.fromkeys(("SIGNATURES", "saved_model_archive"), "exporting.signatures"),
               **dict.fromkeys(("TFLITE_VARIANTS", "FLOAT_OPS", "tflite_models"), "exporting.tflite"),
               **dict.fromkeys(("ONNX_OPSET", "onnx_model", "onnx_converter"), "exporting.onnx")},
    "evaluate": {"VARIANTS": "evaluation.options",
                 "evaluate": "evaluation.report", "open_models": "runtime.opening:open_model",
                 **dict.fromkeys(("load_test_images", "load_test_pairs"), "evaluation.test_data"),
                 "is_paired_dataset": "data.sources",
                 **dict.fromkeys(("write_page", "results_picture"), "evaluation.page")},
    "translate": {**dict.fromkeys(("translate_files", "list_inputs", "translate_one"), "runtime.folders"),
                  "encode_like": "core.pictures"},
    "from_torch": {"*": "models.torch_weights"},
}


def forwarding(module_name: str):
    """The __getattr__ of a module that held other names in 0.5: each forwards to its new home, with a
    DeprecationWarning naming it."""
    table = MOVED[module_name.removeprefix(_P)]

    def __getattr__(name: str):
        target = table.get(name) or (table.get("*") if not name.startswith("__") else None)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module, _, new_name = target.partition(":")
        value = getattr(importlib.import_module(_P + module), new_name or name)
        warnings.warn(f"{module_name}.{name} is now {_P}{module}.{new_name or name}; the old path goes in "
                      "tf_cyclegan 1.1 (CHANGELOG.md)", DeprecationWarning, stacklevel=2)
        return value

    return __getattr__


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the 0.5 modules that no longer exist as files, after every real module has been looked for."""

    def find_spec(self, fullname, path, target=None):
        if fullname.startswith(_P) and fullname.removeprefix(_P) in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return types.ModuleType(spec.name, f"Moved in tf_cyclegan 1.0: see CHANGELOG.md. Names of {spec.name} "
                                           "forward to their new homes until 1.1.")

    def exec_module(self, module):
        module.__getattr__ = forwarding(module.__name__)


def install():
    """Let the moved modules of 0.5 import (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
