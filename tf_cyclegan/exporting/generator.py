"""One generator as the next TF Serving version of a model folder: the SavedModel, the TFLite files, the ONNX
file on request, and tf_cyclegan.json, the contract that says what the version is (its direction and
domains, inference mode, signatures, pixel budget, tiling, files, training config). The version is
assembled in a temporary folder and renamed into place, so TF Serving never loads a half-written model.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import tensorflow as tf

from tf_cyclegan.core.layout import CONTRACT_FILE, keras_file, onnx_file, tflite_file, write_version
from tf_cyclegan.core.version import VERSION
from tf_cyclegan.exporting.onnx import ONNX_OPSET, onnx_converter, onnx_model
from tf_cyclegan.exporting.signatures import SIGNATURES, saved_model_archive
from tf_cyclegan.exporting.tflite import TFLITE_VARIANTS, tflite_models
from tf_cyclegan.models.modes import describe_mode, inference_generator
from tf_cyclegan.runtime import shared_norm


def export_generator(generator, model_dir: Path, name: str, source: str, target: str, origin: str,
                     training_config: dict | None, max_pixels: int, variants=TFLITE_VARIANTS,
                     representative=None, mode: str = "train", about: dict | None = None,
                     onnx: bool = False, with_keras: bool = False) -> Path:
    """One generator as the next TF Serving version of model_dir: SavedModel, TFLite files, with `onnx` an
    ONNX file, with `with_keras` the generator as trained in a .keras file (what a distillation teacher
    needs), contract. The generator runs in inference `mode` (tf_cyclegan.models.modes.MODES); `about` adds
    to the contract (the model and the directions of its export)."""
    described = describe_mode(generator, mode)
    trained, generator = generator, inference_generator(generator, mode)
    identity = {"direction": name, "source_domain": source, "target_domain": target, **(about or {}), **described}

    def build(tmp: Path):
        saved_model_archive(generator, max_pixels).write_out(str(tmp), verbose=False)
        files = {}
        for variant, flatbuffer in tflite_models(generator, variants, representative).items():
            if flatbuffer is None:
                continue
            files[variant] = tflite_file(name, variant)
            (tmp / files[variant]).write_bytes(flatbuffer)
        extra = {}
        if with_keras:
            trained.save(tmp / keras_file(name))
            extra["keras"] = {"file": keras_file(name), "holds": "the generator as trained (both modes)"}
        if onnx:
            (tmp / onnx_file(name)).write_bytes(onnx_model(generator, identity))
            extra["onnx"] = {"file": onnx_file(name), "input": "uint8 [batch, H, W, 3]",
                             "output": "uint8 [batch, H, W, 3]", "opset": ONNX_OPSET,
                             "converter": f"tf2onnx {onnx_converter().__version__}"}
        contract = {
            **identity, "checkpoint": origin,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "tf_cyclegan": VERSION, "tensorflow": tf.__version__, "signatures": SIGNATURES,
            "max_pixels": max_pixels, "tiling": shared_norm.tiling_contract(generator),
            "tflite": {v: {"file": f, "input": "uint8 [1, H, W, 3]", "output": "uint8 [1, H, W, 3]"}
                       for v, f in files.items()},
            **extra, "training_config": training_config,
        }
        (tmp / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))

    return write_version(model_dir, build)[1]
