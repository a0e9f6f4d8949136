"""The round trips every generator must pass: saved as .keras, exported as a SavedModel, a TFLite file and an
ONNX file, and opened again as translate opens them, it translates as the Keras generator does, within one
uint8 level, on awkward sizes. A new generator family or model gets these checks by calling exported() and
assert_round_trips() (docs/architecture.md)."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from tf_cyclegan.core.pixels import MAX_EXPORT_PIXELS
from tf_cyclegan.exporting.generator import export_generator
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.runtime.opening import open_model
from tf_cyclegan.runtime.translators import keras_translator

FORMATS = ("keras", "saved_model", "tflite", "onnx")
SIZES = ((37, 53), (64, 48))  # odd sizes: padded to the size multiple and cropped back


def exported(generator, folder: Path, mode: str = "train", onnx: bool = True, variants=("float32",)) -> dict:
    """{format: model path} of one generator in every format, each as a user's file: the export in `mode`
    (a TF Serving version with a TFLite file per variant and an ONNX file) and the generator's .keras file."""
    folder.mkdir(parents=True, exist_ok=True)
    export_generator(generator, folder / "a2b", "a2b", "A", "B", "round trip", None, MAX_EXPORT_PIXELS, variants,
                     mode=mode, onnx=onnx)
    generator.save(folder / "G.keras")
    return paths_of(folder, variants, onnx)


def paths_of(folder: Path, variants=("float32",), onnx: bool = True) -> dict:
    """{format: model path} of what exported() wrote into folder."""
    version = folder / "a2b" / "1"
    paths = {"keras": folder / "G.keras", "saved_model": version,
             **{f"tflite_{v}" if v != "float32" else "tflite": version / f"a2b_{v}.tflite" for v in variants}}
    return {**paths, **({"onnx": version / "a2b.onnx"} if onnx else {})}


def images(h: int, w: int, batch: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)


def differences(generator, paths: dict, mode: str = "train", sizes=SIZES) -> dict:
    """{(format, h, w): max |difference| in uint8 levels} of each file against the Keras generator in `mode`."""
    expected = keras_translator(inference_generator(generator, mode))
    found = {}
    for name, path in paths.items():
        translate = open_model(path, mode if name == "keras" else None).direction().translate
        for h, w in sizes:
            batch = images(h, w, seed=h * w)
            out = translate(batch)
            assert out.dtype == np.uint8 and out.shape == batch.shape, (name, out.shape)
            found[name, h, w] = int(np.abs(out.astype(int) - expected(batch).astype(int)).max())
    return found


def assert_round_trips(generator, paths: dict, mode: str = "train", levels: int = 1, sizes=SIZES):
    """Every format in `paths` (exported()) translates within `levels` of the Keras generator in `mode`."""
    found = differences(generator, paths, mode, sizes)
    print("max |difference| in levels:", found)
    assert all(diff <= levels for diff in found.values()), found


def undelegated_ops(path, shape=None) -> collections.Counter:
    """The ops of a TFLite file that XNNPACK leaves to TFLite's own kernels: those outside every DELEGATE
    node's subgraph (each found by walking back from its outputs to its inputs)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    if shape:
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], shape)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    producer = {t: op["index"] for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    delegated = set()
    for node in (op for op in ops if op["op_name"] == "DELEGATE"):
        inputs, todo = set(node["inputs"]), list(node["outputs"])
        while todo:
            t = todo.pop()
            if t in inputs or t not in producer or producer[t] in delegated:
                continue
            delegated.add(producer[t])
            todo += list(ops[producer[t]]["inputs"])
    return collections.Counter(op["op_name"] for op in ops
                               if op["op_name"] != "DELEGATE" and op["index"] not in delegated)
