"""Every way to run a generator, as one kind of function: uint8 [N, H, W, 3] in, uint8 [N, H, W, 3] out.

A Keras generator (from a run's checkpoint, a .keras file or memory), an exported SavedModel version and a
TFLite file all translate with the same pre- and post-processing (tf_cyclegan.serving), so translate,
evaluate, bench and --eval_every see what a user of the exports sees.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from tf_cyclegan import layout
from tf_cyclegan.errors import TranslateError, first_line

Translator = Callable[[np.ndarray], np.ndarray]

BATCH = 8  # images per generator call: bounds memory at 256x256 with the paper's networks


def batched(fn) -> Translator:
    """fn (a batch of images -> a batch of images) applied BATCH images at a time, the results joined."""
    return lambda images: np.concatenate([np.asarray(fn(images[i:i + BATCH])) for i in range(0, len(images), BATCH)])


def keras_translator(generator) -> Translator:
    """A Keras generator with the export's processing (any size, padded to its size multiple and back)."""
    import tensorflow as tf

    from tf_cyclegan import serving

    return batched(tf.function(lambda x: serving.translate_uint8(generator, x),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]))


def keras_file_translator(path: Path, mode: str = "train") -> Translator:
    """A generator saved with model.save("G.keras"), loaded in Keras' safe mode, which refuses Lambda
    layers and pickled code (stated here on purpose: safe_mode=False appears nowhere); run in `mode`."""
    import keras

    import tf_cyclegan.layers  # noqa: F401  (registers the custom layers for deserialisation)
    from tf_cyclegan.inference import inference_generator

    try:
        generator = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as e:
        raise TranslateError(f"--model {path}: refused or unreadable Keras file ({first_line(e)})") from None
    return keras_translator(inference_generator(generator, mode))


def saved_model_translator(version: Path) -> Translator:
    """An exported SavedModel version folder, through its serving_default signature."""
    import tensorflow as tf

    try:
        signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
        raise TranslateError(f"--model {version}: cannot load it as a SavedModel ({first_line(e)})") from None
    return batched(lambda images: signature(images=tf.constant(images))["translated"])


def tflite_translator(file: Path) -> Translator:
    """A .tflite file in the LiteRT interpreter, one image at a time (its input is [1, H, W, 3], resized to
    each image's size)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(file), num_threads=os.cpu_count())
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


def check_mode(contract: dict, mode: str | None, what: str, error=TranslateError):
    """Refuse an inference mode that an export was not made in (the mode is fixed when exporting)."""
    made = contract.get("inference_mode")
    if mode and made and made != mode and contract.get("inference_modes_differ", True):
        flag = "with --eval" if mode == "eval" else "without --eval"
        raise error(f"{what} was exported in {made} mode; export the run again {flag} for {mode} mode")


def pick_direction(available: list[str], direction: str | None, what: str) -> str:
    """The direction asked for, or the model's only one, or a2b."""
    if direction is None:
        return available[0] if len(available) == 1 else "a2b"
    if direction not in available:
        raise TranslateError(f"--direction {direction}: {what} has only {', '.join(available)}")
    return direction


def open_translator(path: str | os.PathLike, direction: str | None = None,
                    mode: str | None = None) -> tuple[Translator, str]:
    """(translator, what was loaded) for a .tflite or .keras file, a SavedModel version folder, a TF Serving
    model folder or export folder (its newest version; `direction` picks a2b/ or b2a/, by default the only
    one or a2b), or a run folder. `mode` (tf_cyclegan.inference.MODES) runs a Keras generator so (default:
    train, the reference's test mode); an export runs in the mode it was exported in, and refuses another."""
    from tf_cyclegan.inference import inference_generator

    p = Path(path)
    if p.is_file() and p.suffix == ".tflite":
        check_mode(layout.read_contract(p.parent), mode, f"--model {p}")  # the contract of its version
        return tflite_translator(p), f"TFLite model {p}"
    if p.is_file() and p.suffix == ".keras":
        return keras_file_translator(p, mode or "train"), f"Keras model {p} ({mode or 'train'} mode)"
    if layout.RunFolder(p).exists():
        from tf_cyclegan.export import load_generators

        _, generators, _, checkpoint = load_generators(p)
        direction = pick_direction(list(generators), direction, f"the run {p}")
        generator = inference_generator(generators[direction], mode or "train")
        return keras_translator(generator), f"run {p} ({checkpoint}, {direction}, {mode or 'train'} mode)"
    if p.is_dir() and not (p / "saved_model.pb").exists():
        available = layout.export_directions(p)
        if available:
            p = p / pick_direction(available, direction, f"the export {p}")
        version = layout.latest_version(p)
        if version is None:
            raise TranslateError(f"--model {path}: not a SavedModel, an export folder with a2b/ or b2a/, a "
                                 ".tflite or .keras file, or a training run folder")
        p = version
    if not p.exists():
        raise TranslateError(f"--model {path}: no such file or folder")
    check_mode(layout.read_contract(p), mode, f"--model {p}")
    return saved_model_translator(p), f"SavedModel {p}"
