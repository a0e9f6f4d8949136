"""python -m tf_cyclegan.translate --model PATH --input FILE_OR_DIR --output DIR [--direction a2b|b2a]

PATH is an exported SavedModel version folder, a model folder or export folder (the newest version is
used), a .tflite file (run with the LiteRT interpreter), an .onnx file (onnxruntime), a .keras generator
(loaded in Keras' safe mode, which refuses Lambda layers) or a training run folder (its newest readable
checkpoint); see tf_cyclegan.translators.
Images of any size and mode are translated and written under their own names, large ones in tiles that
share their normalisation statistics (tf_cyclegan.tiling); files that cannot be read are reported and
skipped while the rest are translated.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from tf_cyclegan.errors import TranslateError

PROG = "python -m tf_cyclegan.translate"


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


def translate_files(model: str, input: str, output: str, direction: str | None = None, log=print,
                    progress: bool = True, mode: str | None = None,
                    tiles=None) -> tuple[int, list[tuple[Path, str]]]:
    """Translate every image; returns (number written, [(file, reason skipped)]). `direction` and `mode`:
    see translators.open_model; `tiles` (tiling.TileOptions) says when and how large images are tiled."""
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
    from tf_cyclegan.translators import Translator

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
        atomic_write(out / relative, encode_like(translate_one(translator, image, path, progress),
                                                 relative.name))
        written += 1
    log(f"Wrote {written} image(s) to {out}" + (f"; skipped {len(skipped)} unreadable file(s)" if skipped else ""))
    return written, skipped


def translate_one(translator, image, path: Path, progress: bool):
    """One image, with a progress bar over its tiles when it is tiled."""
    from tqdm.auto import tqdm

    h, w = image.shape[:2]
    count = translator.tile_runs(h, w)
    if not count:
        return translator.translate_array(image)
    tqdm.write(f"{path}: {w}x{h} in {translator.describe_tiling(h, w)}")
    with tqdm(total=count, unit="tile", leave=False, disable=not progress) as bar:
        return translator.translate_array(image, progress=bar.update)


def add_tile_arguments(parser: argparse.ArgumentParser):
    """The tiling flags (translate, and every command that translates images of any size)."""
    from tf_cyclegan import tiling

    group = parser.add_argument_group("large images (docs/translate.md#large-images)")
    group.add_argument("--tile", type=int, default=tiling.DEFAULT_TILE,
                       help="side of the tiles large images are translated in (default %(default)s)")
    group.add_argument("--overlap", type=int, default=tiling.DEFAULT_OVERLAP,
                       help="pixels neighbouring tiles share, blended (default %(default)s)")
    group.add_argument("--norm_stats", choices=tiling.NORM_STATS, default=tiling.DEFAULT_NORM_STATS,
                       help=tiling.NORM_STATS_HELP + " (default %(default)s)")
    group.add_argument("--max_pixels_untiled", type=int, default=None,
                       help="images with more pixels are tiled (default: what a quarter of this machine's "
                            f"memory translates untiled, now {tiling.untiled_pixel_limit():,})")
    group.add_argument("--thumbnail_pixels", type=int, default=tiling.DEFAULT_THUMBNAIL_PIXELS,
                       help="pixels of the shrunk copy that --norm_stats thumbnail takes statistics from "
                            "(default %(default)s)")
    group.add_argument("--always_tile", action="store_true", help="tile every image, however small")


def tile_options(args):
    """tiling.TileOptions from the flags, or a one-line TranslateError."""
    from tf_cyclegan import tiling

    try:
        return tiling.TileOptions(args.tile, args.overlap, args.norm_stats, args.max_pixels_untiled,
                                  args.always_tile, args.thumbnail_pixels)
    except ValueError as e:
        raise TranslateError(str(e)) from None


def main(argv=None) -> int:
    from tf_cyclegan.cli import quiet_tensorflow, run_command

    parser = argparse.ArgumentParser(prog=PROG, description="Translate images with an exported or trained "
                                     "generator (CycleGAN, pix2pix, CUT).")
    parser.add_argument("--model", required=True,
                        help="SavedModel / export folder, .tflite, .onnx or .keras file, or run folder")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the translations (same file names)")
    parser.add_argument("--direction", choices=("a2b", "b2a"), default=None,
                        help="which generator of an export folder or run (default: its only one, else a2b)")
    parser.add_argument("--eval", action="store_true",
                        help="run folders and .keras files: batch norm's running statistics and no dropout "
                             "(PyTorch's model.eval()) instead of the reference's test mode (each image's own "
                             "statistics, dropout on); exports run in the mode they were exported in")
    add_tile_arguments(parser)
    args = parser.parse_args(argv)
    quiet_tensorflow()

    def work():
        tiles = tile_options(args)
        try:
            written, _ = translate_files(args.model, args.input, args.output, args.direction,
                                         mode="eval" if args.eval else None, tiles=tiles)
        except OSError as e:
            raise TranslateError(f"cannot write to {args.output}: {e.strerror or e}") from None
        return 0 if written else 1

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
