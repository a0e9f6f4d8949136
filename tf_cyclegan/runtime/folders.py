"""Translating files: an image file, or every image under a folder, written under the same names in
another folder. Files that cannot be read are reported and skipped while the rest are translated."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.core.pictures import save_image
from tf_cyclegan.data.images import decode, is_image_file
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


def translate_files(model: str | os.PathLike, input: str | os.PathLike, output: str | os.PathLike,
                    direction: str | None = None, log=print, progress: bool = True, mode: str | None = None,
                    tiles: TileOptions | None = None) -> tuple[int, list[tuple[Path, str]]]:
    """Translate every image; returns (number written, [(file, reason skipped)]). `model`, `direction` and
    `mode`: see Translator.load; `tiles` says when and how large images are tiled."""
    source, out = Path(input), Path(output)
    if source.resolve() == out.resolve():
        raise TranslateError("--output is the --input folder: choose another folder so originals are kept")
    jobs = list_inputs(source)
    if not jobs:
        raise TranslateError(f"--input {input}: no image files there")
    translator = Translator.load(model, direction, mode, tiles=tiles)
    log(f"Translating {len(jobs)} image(s) with {translator.description} into {out}")
    written, skipped = 0, []
    for path, relative in tqdm(jobs, unit="image", disable=not progress or len(jobs) < 2):
        try:
            image = np.asarray(decode(str(path)), dtype=np.uint8)
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
