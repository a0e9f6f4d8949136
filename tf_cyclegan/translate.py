"""python -m tf_cyclegan.translate --model PATH --input FILE_OR_DIR --output DIR [--direction a2b|b2a]

PATH is an exported SavedModel version folder, a model folder or export folder (the newest version is
used), a .tflite file (run with the LiteRT interpreter), a .keras generator (loaded in Keras' safe mode,
which refuses Lambda layers) or a training run folder (latest checkpoint).
Images of any size and mode are translated and written under their own names; files that cannot be read
are reported and skipped while the rest are translated.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

from tf_cyclegan.cli import first_line

PROG = "python -m tf_cyclegan.translate"


class TranslateError(Exception):
    """A problem with --model, --input or --output, worded for the user."""


BATCH = 8  # images per generator call in keras_translator: bounds memory at 256x256 with the paper's networks


def latest_version(model_dir: Path) -> Path | None:
    versions = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").exists()]
    return max(versions, key=lambda p: int(p.name)) if versions else None


def keras_translator(generator):
    """uint8 [N, H, W, 3] -> uint8 [N, H, W, 3] through a Keras generator with the export's processing, in
    calls of at most BATCH images."""
    import tensorflow as tf

    from tf_cyclegan import serving

    return batched(tf.function(lambda x: serving.translate_uint8(generator, x),
                               input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]))


def batched(fn):
    """fn (a batch of images -> a batch of images) applied BATCH images at a time, the results joined."""
    import numpy as np

    return lambda images: np.concatenate([np.asarray(fn(images[i:i + BATCH])) for i in range(0, len(images), BATCH)])


def _one_image(translator):
    """A batch translator as a uint8 [H, W, 3] -> uint8 [H, W, 3] function."""
    return lambda image: translator(image[None])[0]


def open_model(path: str | os.PathLike, direction: str = "a2b"):
    """A function uint8 [H, W, 3] -> uint8 [H, W, 3], and a description of what was loaded."""

    p = Path(path)
    if p.is_file() and p.suffix == ".tflite":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(p), num_threads=os.cpu_count())
        input_index = interpreter.get_input_details()[0]["index"]
        output_index = interpreter.get_output_details()[0]["index"]
        shape = [None]

        def run_tflite(image):
            if shape[0] != image.shape:
                interpreter.resize_tensor_input(input_index, [1, *image.shape])
                interpreter.allocate_tensors()
                shape[0] = image.shape
            interpreter.set_tensor(input_index, image[None])
            interpreter.invoke()
            return interpreter.get_tensor(output_index)[0]

        return run_tflite, f"TFLite model {p}"

    import tensorflow as tf

    if p.is_file() and p.suffix == ".keras":
        import keras

        import tf_cyclegan.layers  # noqa: F401  (registers ReflectionPadding2D for deserialisation)

        try:  # safe_mode (the default, stated here on purpose) refuses Lambda layers and pickled code
            generator = keras.saving.load_model(str(p), compile=False, safe_mode=True)
        except Exception as e:
            raise TranslateError(f"--model {p}: refused or unreadable Keras file ({first_line(e)})") from None
        return _one_image(keras_translator(generator)), f"Keras model {p}"

    if p.is_dir() and not (p / "saved_model.pb").exists():
        if (p / "config.json").is_file() and (p / "checkpoints").is_dir():
            from tf_cyclegan.export import ExportError, load_generators

            try:
                _, generators, names, checkpoint = load_generators(p)
            except ExportError as e:
                raise TranslateError(str(e)) from None
            return _one_image(keras_translator(generators[direction])), f"run {p} ({checkpoint}, {direction})"
        if (p / direction).is_dir():
            p = p / direction
        version = latest_version(p)
        if version is None:
            raise TranslateError(f"--model {path}: not a SavedModel, an export folder with {direction}/, a "
                                 ".tflite file or a training run folder")
        p = version
    if not p.exists():
        raise TranslateError(f"--model {path}: no such file or folder")
    try:
        signature = tf.saved_model.load(str(p)).signatures["serving_default"]
    except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
        raise TranslateError(f"--model {p}: cannot load it as a SavedModel ({first_line(e)})") from None
    return (lambda image: signature(images=tf.constant(image[None]))["translated"].numpy()[0]), f"SavedModel {p}"


def list_inputs(path: Path) -> list[tuple[Path, Path]]:
    """(file, path relative to the input) for a file or every image file under a folder."""
    from tf_cyclegan.data import IMAGE_EXTENSIONS

    if path.is_file():
        return [(path, Path(path.name))]
    if not path.is_dir():
        raise TranslateError(f"--input {path}: no such file or folder")
    files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                   and not f.name.startswith("."))
    return [(f, f.relative_to(path)) for f in files]


def encode_like(image, name: str) -> bytes:
    """Encode in the format the file name asks for (JPEG at quality 95)."""
    from PIL import Image

    buffer = io.BytesIO()
    pil = Image.fromarray(image)
    fmt = Image.registered_extensions().get(Path(name).suffix.lower(), "PNG")
    pil.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def translate_files(model: str, input: str, output: str, direction: str = "a2b", log=print,
                    progress: bool = True) -> tuple[int, list[tuple[Path, str]]]:
    """Translate every image; returns (number written, [(file, reason skipped)])."""
    import numpy as np
    from tqdm.auto import tqdm

    from tf_cyclegan.data import decode
    from tf_cyclegan.fileio import atomic_write

    source, out = Path(input), Path(output)
    if source.resolve() == out.resolve():
        raise TranslateError("--output is the --input folder: choose another folder so originals are kept")
    jobs = list_inputs(source)
    if not jobs:
        raise TranslateError(f"--input {input}: no image files there")
    fn, description = open_model(model, direction)
    log(f"Translating {len(jobs)} image(s) with {description} into {out}")
    written, skipped = 0, []
    for path, relative in tqdm(jobs, unit="image", disable=not progress or len(jobs) < 2):
        try:
            image = np.asarray(decode(str(path)), dtype=np.uint8)
        except Exception as e:  # Pillow raises many types for unreadable files
            skipped.append((path, f"{type(e).__name__}: {e}"))
            tqdm.write(f"skipped {path}: cannot read it as an image ({type(e).__name__}: {e})")
            continue
        atomic_write(out / relative, encode_like(fn(image), relative.name))
        written += 1
    log(f"Wrote {written} image(s) to {out}" + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""))
    return written, skipped


def main(argv=None) -> int:
    from tf_cyclegan.cli import fail

    parser = argparse.ArgumentParser(prog=PROG, description="Translate images with an exported or trained "
                                     "CycleGAN generator.")
    parser.add_argument("--model", required=True, help="SavedModel / export folder, .tflite file or run folder")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the translations (same file names)")
    parser.add_argument("--direction", choices=("a2b", "b2a"), default="a2b",
                        help="which generator of an export folder or run (default: a2b)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        written, skipped = translate_files(args.model, args.input, args.output, args.direction)
    except TranslateError as e:
        fail(PROG, str(e))
    except OSError as e:
        fail(PROG, f"cannot write to {args.output}: {e.strerror or e}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
