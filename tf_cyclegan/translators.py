"""Every way to run a generator, as one kind of function: uint8 [N, H, W, 3] in, uint8 [N, H, W, 3] out,
and `Translator`, the one-image API on top of it that tiles large images.

A Keras generator (from a run's checkpoint, a .keras file or memory), an exported SavedModel version, a
TFLite file and an ONNX file all translate with the same pre- and post-processing (tf_cyclegan.serving),
so translate, evaluate, bench and --eval_every see what a user of the exports sees.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np

from tf_cyclegan import layout
from tf_cyclegan.errors import TranslateError, first_line

BatchTranslator = Callable[[np.ndarray], np.ndarray]

BATCH = 8  # images per generator call: bounds memory at 256x256 with the paper's networks


def batched(fn) -> BatchTranslator:
    """fn (a batch of images -> a batch of images) applied BATCH images at a time, the results joined."""
    return lambda images: np.concatenate([np.asarray(fn(images[i:i + BATCH])) for i in range(0, len(images), BATCH)])


def keras_translator(generator) -> BatchTranslator:
    """A Keras generator with the export's processing (any size, padded to its size multiple and back)."""
    import tensorflow as tf

    from tf_cyclegan import serving

    return batched(tf.function(lambda x: serving.translate_uint8(generator, x),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]))


def load_keras_file(path: Path):
    """A generator saved with model.save("G.keras"), loaded in Keras' safe mode, which refuses Lambda
    layers and pickled code (stated here on purpose: safe_mode=False appears nowhere)."""
    import keras

    import tf_cyclegan.layers  # noqa: F401  (registers the custom layers for deserialisation)

    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as e:
        raise TranslateError(f"--model {path}: refused or unreadable Keras file ({first_line(e)})") from None


def keras_file_translator(path: Path, mode: str = "train") -> BatchTranslator:
    """A .keras generator (load_keras_file) run in `mode`."""
    from tf_cyclegan.inference import inference_generator

    return keras_translator(inference_generator(load_keras_file(path), mode))


def saved_model_translator(version: Path) -> BatchTranslator:
    """An exported SavedModel version folder, through its serving_default signature."""
    return batched(_saved_model_signature(_load_saved_model(version), "serving_default"))


def _load_saved_model(version: Path):
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(version))
        loaded.signatures["serving_default"]
    except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
        raise TranslateError(f"--model {version}: cannot load it as a SavedModel ({first_line(e)})") from None
    return loaded


def _saved_model_signature(loaded, name: str):
    import tensorflow as tf

    signature = loaded.signatures[name]
    return lambda images: signature(images=tf.constant(images))["translated"]


def tflite_translator(file: Path) -> BatchTranslator:
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


ONNX_INSTALL = "pip install 'tf_cyclegan[onnx]'"


def onnx_translator(file: Path) -> BatchTranslator:
    """An .onnx file (export --onnx) in onnxruntime: uint8 [batch, H, W, 3] in and out, any size."""
    try:
        import onnxruntime
    except ImportError:
        raise TranslateError(f"--model {file}: onnxruntime is not installed; {ONNX_INSTALL}") from None
    try:
        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a file that is not a model
        raise TranslateError(f"--model {file}: onnxruntime cannot load it ({first_line(e)})") from None
    name = session.get_inputs()[0].name
    return batched(lambda images: session.run(None, {name: np.ascontiguousarray(images, np.uint8)})[0])


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


@dataclasses.dataclass
class OpenedModel:
    """A loaded model: `translate` (whole images in batches), `description` (what was loaded, for logs) and
    `tiled()` (the tiling.TiledModel that tiles large images; built on first use, as it traces)."""

    translate: BatchTranslator
    description: str
    tiled: Callable[[], object]


def open_translator(path: str | os.PathLike, direction: str | None = None,
                    mode: str | None = None) -> tuple[BatchTranslator, str]:
    """(translator, what was loaded): open_model's batch translator."""
    opened = open_model(path, direction, mode)
    return opened.translate, opened.description


def open_model(path: str | os.PathLike, direction: str | None = None, mode: str | None = None) -> OpenedModel:
    """A .tflite, .onnx or .keras file, a SavedModel version folder, a TF Serving model folder or export folder
    (its newest version; `direction` picks a2b/ or b2a/, by default the only one or a2b), or a run folder.
    `mode` (tf_cyclegan.inference.MODES) runs a Keras generator so (default: train, the reference's test
    mode); an export runs in the mode it was exported in, and refuses another."""
    from tf_cyclegan.inference import inference_generator

    p = Path(path)
    if p.is_file() and p.suffix in (".tflite", ".onnx"):
        contract = layout.read_contract(p.parent)  # the contract of its version
        check_mode(contract, mode, f"--model {p}")
        translate = tflite_translator(p) if p.suffix == ".tflite" else onnx_translator(p)
        kind = "TFLite" if p.suffix == ".tflite" else "ONNX"
        return OpenedModel(translate, f"{kind} model {p}", lambda: whole_image_tiles(translate, contract))
    if p.is_file() and p.suffix == ".keras":
        generator = inference_generator(load_keras_file(p), mode or "train")
        return generator_model(generator, f"Keras model {p} ({mode or 'train'} mode)")
    if layout.RunFolder(p).exists():
        from tf_cyclegan.export import load_generators

        _, generators, _, checkpoint = load_generators(p)
        direction = pick_direction(list(generators), direction, f"the run {p}")
        generator = inference_generator(generators[direction], mode or "train")
        return generator_model(generator, f"run {p} ({checkpoint}, {direction}, {mode or 'train'} mode)")
    version = version_folder(p, direction)
    contract = layout.read_contract(version)
    check_mode(contract, mode, f"--model {version}")
    return saved_model(version, contract)


def version_folder(p: Path, direction: str | None) -> Path:
    """The SavedModel version that a path names (itself, or the newest of its model or export folder)."""
    if p.is_dir() and not (p / "saved_model.pb").exists():
        available = layout.export_directions(p)
        folder = p / pick_direction(available, direction, f"the export {p}") if available else p
        version = layout.latest_version(folder)
        if version is None:
            raise TranslateError(f"--model {p}: not a SavedModel, an export folder with a2b/ or b2a/, a "
                                 ".tflite, .onnx or .keras file, or a training run folder")
        return version
    if not p.exists():
        raise TranslateError(f"--model {p}: no such file or folder")
    return p


def generator_model(generator, description: str) -> OpenedModel:
    """A Keras generator already in its inference mode."""
    from tf_cyclegan import shared_norm

    return OpenedModel(keras_translator(generator), description, lambda: shared_norm.keras_tiled_model(generator))


def saved_model(version: Path, contract: dict) -> OpenedModel:
    """A SavedModel version; its tile signatures (exports since tf_cyclegan 0.5) share statistics."""
    loaded = _load_saved_model(version)
    translate = batched(_saved_model_signature(loaded, "serving_default"))
    description = f"SavedModel {version}"
    if "tile_statistics" not in loaded.signatures or "tiling" not in contract:
        return OpenedModel(translate, description, lambda: whole_image_tiles(translate, contract))
    from tf_cyclegan import shared_norm

    return OpenedModel(translate, description, lambda: shared_norm.saved_model_tiled_model(loaded, contract))


def whole_image_tiles(translate: BatchTranslator, contract: dict):
    """tiling.TiledModel of a model that takes no statistics in (TFLite, ONNX, SavedModels from before the
    tile signatures): each tile normalised by its own statistics."""
    from tf_cyclegan.tiling import GRID, TiledModel

    def run(tile, statistics, core):
        return translate(tile[None])[0].astype(np.float32) / 127.5 - 1.0, np.zeros([0], np.float32)

    return TiledModel(run, [], int(contract.get("tiling", {}).get("multiple", GRID)), shares=False)


# -- one image at a time -------------------------------------------------------------------------------
class Translator:
    """One image in, its translation out, for every model kind: `Translator.load(path)` then
    `translator(image)` with a PIL image, a uint8 NumPy array [H, W, 3] (or [H, W] grey, [H, W, 4] RGBA)
    or a file path, returning a PIL image, an array, or (for a path) a PIL image; with `output=` it also
    writes the translation there atomically and returns that path. Images over the tiling limit are
    translated in tiles that share their normalisation statistics (tf_cyclegan.tiling); see
    docs/translator.md."""

    def __init__(self, opened: OpenedModel, tiles=None):
        from tf_cyclegan.tiling import TileOptions

        self._opened, self.tiles = opened, tiles or TileOptions()
        self._tiled = None

    @classmethod
    def load(cls, path: str | os.PathLike, direction: str | None = None, mode: str | None = None, tiles=None,
             **tile_options) -> "Translator":
        """Any model that `translate --model` accepts; `direction` and `mode` as there. `tiles` is a
        tiling.TileOptions, or give its fields as keywords (tile=512, overlap=64, norm_stats=...)."""
        return cls(open_model(path, direction, mode), _tile_options(tiles, tile_options))

    @classmethod
    def from_generator(cls, generator, mode: str = "train", tiles=None, **tile_options) -> "Translator":
        """A Keras generator in memory (a run's G, networks.build_generator(), a from_torch import)."""
        from tf_cyclegan.inference import inference_generator

        model = generator_model(inference_generator(generator, mode), f"Keras generator {generator.name}")
        return cls(model, _tile_options(tiles, tile_options))

    @property
    def description(self) -> str:
        return self._opened.description

    def tiled_model(self):
        if self._tiled is None:
            self._tiled = self._opened.tiled()
        return self._tiled

    def tile_runs(self, height: int, width: int) -> int:
        """How many tile runs an image of this size takes; 0 when it is translated whole."""
        from tf_cyclegan import tiling

        if not self.tiles.tiles_image(height, width):
            return 0
        return tiling.passes(self.tiled_model(), (height, width), self.tiles)

    def describe_tiling(self, height: int, width: int) -> str:
        from tf_cyclegan import tiling

        model = self.tiled_model()
        tile = tiling.tile_side(model, self.tiles)
        runs = self.tile_runs(height, width)
        if not model.widths:
            how = ("tiles with their own statistics (this model kind cannot take shared ones in: translate "
                   "with the SavedModel or the run for seamless tiles)" if not model.shares else
                   "tiles (no per-image statistics to share)")
        else:
            how = f"tiles, {self.tiles.norm_stats} statistics"
        return f"{runs} {tile}x{tile} {how}, overlap {self.tiles.overlap}"

    def translate_array(self, image: np.ndarray, progress=None) -> np.ndarray:
        """uint8 [H, W, 3] -> uint8 [H, W, 3], tiled when the image is over the limit. `progress(n)` is told
        of each tile run."""
        from tf_cyclegan import tiling

        if not self.tiles.tiles_image(*image.shape[:2]):
            return np.asarray(self._opened.translate(image[None]))[0]
        return tiling.translate_tiled(self.tiled_model(), image, self.tiles, progress)

    def __call__(self, image, output: str | os.PathLike | None = None):
        array, kind = _as_rgb(image)
        translated = self.translate_array(array)
        if output is not None:
            from tf_cyclegan.fileio import atomic_write
            from tf_cyclegan.translate import encode_like

            return atomic_write(output, encode_like(translated, str(output)))
        if kind == "array":
            return translated
        from PIL import Image

        return Image.fromarray(translated)


def _tile_options(tiles, values: dict):
    from tf_cyclegan.tiling import TileOptions

    if tiles is not None and values:
        raise TypeError("give either tiles=TileOptions(...) or its fields as keywords, not both")
    try:
        return tiles or TileOptions(**values)
    except ValueError as e:
        raise TranslateError(str(e)) from None


def _as_rgb(image) -> tuple[np.ndarray, str]:
    """(uint8 [H, W, 3], "pil" | "array" | "path") for what Translator accepts."""
    from PIL import Image

    from tf_cyclegan.data import decode, to_rgb

    if isinstance(image, (str, os.PathLike)):
        try:
            return np.asarray(decode(str(image)), np.uint8), "path"
        except FileNotFoundError:
            raise TranslateError(f"{image}: no such file") from None
        except Exception as e:  # Pillow raises many types for unreadable files
            raise TranslateError(f"{image}: cannot read it as an image ({first_line(e)})") from None
    if isinstance(image, Image.Image):
        return np.asarray(to_rgb(image), np.uint8), "pil"
    array = np.asarray(image) if not isinstance(image, np.ndarray) else image
    if array.dtype != np.uint8:
        raise TranslateError(f"image array of dtype {array.dtype}: give uint8 pixels (0-255), e.g. "
                             "np.clip(x * 255, 0, 255).astype(np.uint8) for floats in [0, 1]")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    elif array.ndim == 3 and array.shape[-1] == 4:
        array = np.asarray(Image.fromarray(array, "RGBA").convert("RGB"))
    elif array.ndim != 3 or array.shape[-1] != 3:
        raise TranslateError(f"image array of shape {array.shape}: give [H, W, 3] RGB, [H, W] grey or "
                             "[H, W, 4] RGBA")
    if min(array.shape[:2]) < 1:
        raise TranslateError(f"image array of shape {array.shape}: it has no pixels")
    return np.ascontiguousarray(array), "array"
