"""Translating files: an image file, or every image under a folder, written under the same names in
another folder. Files that cannot be read are reported and skipped while the rest are translated. Each image
is translated at its own size, or first resized as the reference's test.py does (--preprocess)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.core.pictures import save_image
from tf_cyclegan.data.images import decode, is_image_file, resized
from tf_cyclegan.runtime.tiling import TileOptions
from tf_cyclegan.runtime.translator import Translator


def list_inputs(path: Path) -> list[tuple[Path, Path]]:
    """(file, path relative to the input) for a file or every image file under a folder."""
    if path.is_file():
        return [(path, Path(path.name))]
    if not path.is_dir():
        raise TranslateError(f"--input {path}: no such file or folder")
    files = sorted(f for f in path.rglob("*") if f.is_file() and is_image_file(f.name))
    return [(f, f.relative_to(path)) for f in files]


# --preprocess at test time: none keeps each image's size; resize makes it load_size x load_size and
# scale_width load_size wide (the reference's test.py, whose default resize_and_crop with crop = load resizes).
TEST_PREPROCESS = ("none", "resize", "scale_width")
PREPROCESS_ALIASES = {"resize_and_crop": "resize"}
CROPPING = ("crop", "scale_width_and_crop")  # the reference's training crops: nothing to crop at test time
PREPROCESS_HELP = ("resize each image before translating it, bicubic as the reference's test.py: none (each "
                   "image at its own size), resize (load_size x load_size; the reference's resize_and_crop "
                   "is the same), scale_width (width load_size, height in proportion, rounded to a multiple "
                   "of 4); the translation has the resized size")


def translation_preprocess(preprocess: str, load_size: int) -> str:
    """The --preprocess mode that translating runs (aliases resolved), or a one-line TranslateError."""
    mode = PREPROCESS_ALIASES.get(preprocess, preprocess)
    if mode in CROPPING:
        raise TranslateError(f"--preprocess {preprocess}: crops are a training augmentation; to translate, "
                             f"use {', '.join(TEST_PREPROCESS)} (resize_and_crop means resize)")
    if mode not in TEST_PREPROCESS:
        raise TranslateError(f"--preprocess {preprocess!r}: not one of {', '.join(TEST_PREPROCESS)} "
                             "(or resize_and_crop, which means resize)")
    if isinstance(load_size, bool) or not isinstance(load_size, int) or load_size < 1:
        raise TranslateError(f"--load_size {load_size}: must be a whole number of at least 1")
    return mode


def translation_size(width: int, height: int, preprocess: str, load_size: int) -> tuple[int, int]:
    """(width, height) that --preprocess (a mode of TEST_PREPROCESS) gives an image of this size."""
    if preprocess == "resize":
        return load_size, load_size
    if preprocess == "scale_width":
        return load_size, max(round(height * load_size / width / 4), 1) * 4
    return width, height


def translate_files(model: str | os.PathLike, input: str | os.PathLike, output: str | os.PathLike,
                    direction: str | None = None, log=print, progress: bool = True, mode: str | None = None,
                    tiles: TileOptions | None = None, preprocess: str = "none",
                    load_size: int = 256) -> tuple[int, list[tuple[Path, str]]]:
    """Translate every image; returns (number written, [(file, reason skipped)]). `model`, `direction` and
    `mode`: see Translator.load; `tiles` says when and how large images are tiled; `preprocess` and
    `load_size` how each image is resized first (translation_size)."""
    preprocess = translation_preprocess(preprocess, load_size)
    source, out = Path(input), Path(output)
    if source.resolve() == out.resolve():
        raise TranslateError("--output is the --input folder: choose another folder so originals are kept")
    jobs = list_inputs(source)
    if not jobs:
        raise TranslateError(f"--input {input}: no image files there")
    translator = Translator.load(model, direction, mode, tiles=tiles)
    resize = {"resize": f", each resized to {load_size}x{load_size} (bicubic)",
              "scale_width": f", each resized to width {load_size} (bicubic)"}.get(preprocess, "")
    log(f"Translating {len(jobs)} image(s) with {translator.description} into {out}{resize}")
    written, skipped = 0, []
    for path, relative in tqdm(jobs, unit="image", disable=not progress or len(jobs) < 2):
        try:
            picture = decode(str(path))
            size = translation_size(*picture.size, preprocess, load_size)
            image = np.asarray(resized(picture, size), dtype=np.uint8)
        except Exception as e:  # Pillow raises many types for unreadable files
            skipped.append((path, f"{type(e).__name__}: {e}"))
            tqdm.write(f"skipped {path}: cannot read it as an image ({type(e).__name__}: {e})")
            continue
        save_image(out / relative, translate_one(translator, image, path, progress))
        written += 1
    log(f"Wrote {written} image(s) to {out}" + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""))
    return written, skipped


def translate_one(translator: Translator, image: np.ndarray, path: Path, progress: bool) -> np.ndarray:
    """One image, with a progress bar over its tiles when it is tiled."""
    h, w = image.shape[:2]
    count = translator.tile_runs(h, w)
    if not count:
        return translator.translate_array(image)
    tqdm.write(f"{path}: {w}x{h} in {translator.describe_tiling(h, w)}")
    with tqdm(total=count, unit="tile", leave=False, disable=not progress) as bar:
        return translator.translate_array(image, progress=bar.update)
