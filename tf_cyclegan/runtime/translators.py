"""Every way to run a generator, as one kind of function: uint8 [N, H, W, 3] in, uint8 [N, H, W, 3] out.

A Keras generator (from a run's checkpoint, a .keras file or memory), an exported SavedModel version, a
TFLite file and an ONNX file all translate with the same pre- and post-processing
(tf_cyclegan.runtime.processing), so translate, evaluate, bench and --eval_every see what a user of the
exports sees. tf_cyclegan.runtime.opening opens any of them from a path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from tf_cyclegan.core.errors import ModelError, first_line
from tf_cyclegan.core.extras import require
from tf_cyclegan.models.restoring import load_keras_file

BatchTranslator = Callable[[np.ndarray], np.ndarray]

# What to do about a model file that does not load: empty, cut short by a copy, or not a model at all.
AGAIN = "copy the whole file again, or export it again (python -m tf_cyclegan.export)"

BATCH = 8  # images per generator call: bounds memory at 256x256 with the paper's networks


def batched(fn) -> BatchTranslator:
    """fn (a batch of images -> a batch of images) applied BATCH images at a time, the results joined."""
    return lambda images: np.concatenate([np.asarray(fn(images[i:i + BATCH])) for i in range(0, len(images), BATCH)])


def keras_translator(generator) -> BatchTranslator:
    """A Keras generator with the export's processing (any size, padded to its size multiple and back)."""
    import tensorflow as tf

    from tf_cyclegan.runtime import processing

    return batched(tf.function(lambda x: processing.translate_uint8(generator, x),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]))


def keras_file_translator(path: Path, mode: str = "train") -> BatchTranslator:
    """A .keras generator (load_keras_file) run in `mode`."""
    from tf_cyclegan.models.modes import inference_generator

    return keras_translator(inference_generator(load_keras_file(path), mode))


def load_saved_model(version: Path):
    """A SavedModel version, which must have the serving_default signature."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(version))
        loaded.signatures["serving_default"]
    except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
        raise ModelError(f"--model {version}: cannot load it as a SavedModel ({first_line(e)})") from None
    return loaded


def signature_translator(loaded, name: str = "serving_default") -> BatchTranslator:
    """A loaded SavedModel's uint8 signature."""
    import tensorflow as tf

    signature = loaded.signatures[name]
    return batched(lambda images: signature(images=tf.constant(images))["translated"])


def saved_model_translator(version: Path) -> BatchTranslator:
    """An exported SavedModel version folder, through its serving_default signature."""
    return signature_translator(load_saved_model(version))


def refuse_empty(file: Path, runtime: str):
    """An empty model file (a copy that never started) in plain words rather than the runtime's own."""
    if file.stat().st_size == 0:
        raise ModelError(f"--model {file}: {runtime} cannot load it (the file is empty: 0 bytes); {AGAIN}")


def tflite_translator(file: Path) -> BatchTranslator:
    """A .tflite file in the LiteRT interpreter, one image at a time (its input is [1, H, W, 3], resized to
    each image's size)."""
    from ai_edge_litert.interpreter import Interpreter

    refuse_empty(file, "LiteRT")
    try:
        interpreter = Interpreter(model_path=str(file), num_threads=os.cpu_count())
    except (ValueError, RuntimeError) as e:  # what LiteRT raises for a file that is not a model
        raise ModelError(f"--model {file}: LiteRT cannot load it ({first_line(e)}); {AGAIN}") from None
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    shape = [None]

    def one(image):
        if shape[0] != image.shape:
            interpreter.resize_tensor_input(input_index, [1, *image.shape])
            interpreter.allocate_tensors()
            shape[0] = image.shape
        interpreter.set_tensor(input_index, np.ascontiguousarray(image[None]))
        interpreter.invoke()
        return interpreter.get_tensor(output_index)[0]

    return lambda images: np.stack([one(image) for image in images])


def onnx_translator(file: Path) -> BatchTranslator:
    """An .onnx file (export --onnx) in onnxruntime: uint8 [batch, H, W, 3] in and out, any size."""
    onnxruntime = require("onnxruntime", "onnx", f"--model {file}", ModelError)
    refuse_empty(file, "onnxruntime")
    try:
        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a file that is not a model
        raise ModelError(f"--model {file}: onnxruntime cannot load it ({first_line(e)}); {AGAIN}") from None
    name = session.get_inputs()[0].name
    return batched(lambda images: session.run(None, {name: np.ascontiguousarray(images, np.uint8)})[0])
