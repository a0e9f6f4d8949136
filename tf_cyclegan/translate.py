"""python -m tf_cyclegan.translate --model PATH --input FILE_OR_DIR --output DIR [--direction a2b|b2a]

PATH is a training run folder (its newest readable checkpoint), an export folder, a model or SavedModel
version folder (the newest version is used), a .tflite file (run with the LiteRT interpreter), an .onnx
file (onnxruntime) or a .keras generator (loaded in Keras' safe mode, which refuses Lambda layers); see
tf_cyclegan.runtime.opening. Images of any size and mode are translated and written under their own names,
large ones in tiles that share their normalisation statistics (tf_cyclegan.runtime.tiling); files that
cannot be read are reported and skipped while the rest are translated (tf_cyclegan.runtime.folders).
--preprocess resize or scale_width resizes each image first (--load_size), as the reference's test.py.
"""

from __future__ import annotations

import argparse
import sys

from tf_cyclegan.cli import add_tile_arguments, quiet_tensorflow, run_command, tile_options
from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.core.moved import forwarding

PROG = "python -m tf_cyclegan.translate"
__getattr__ = forwarding("tf_cyclegan.translate")  # the library names this module held in 0.5


def main(argv=None) -> int:
    from tf_cyclegan.runtime.folders import PREPROCESS_HELP, TEST_PREPROCESS

    parser = argparse.ArgumentParser(prog=PROG, description="Translate images with an exported or trained "
                                     "generator (CycleGAN, pix2pix, CUT).")
    parser.add_argument("--model", required=True,
                        help="run folder, export folder, SavedModel, or .tflite, .onnx or .keras file")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the translations (same file names)")
    parser.add_argument("--direction", choices=("a2b", "b2a"), default=None,
                        help="which generator of an export folder or run (default: its only one, else a2b)")
    parser.add_argument("--eval", action="store_true",
                        help="run folders and .keras files: batch norm's running statistics and no dropout "
                             "(PyTorch's model.eval()) instead of the reference's test mode (each image's own "
                             "statistics, dropout on); exports run in the mode they were exported in")
    parser.add_argument("--preprocess", default="none", metavar="{" + ",".join(TEST_PREPROCESS) + "}",
                        help=PREPROCESS_HELP + " (default: %(default)s)")
    parser.add_argument("--load_size", "--load-size", type=int, default=256,
                        help="the size --preprocess resize and scale_width resize to (default: %(default)s)")
    add_tile_arguments(parser)
    args = parser.parse_args(argv)
    quiet_tensorflow()

    def work():
        from tf_cyclegan.runtime.folders import translate_files

        tiles = tile_options(args)
        try:
            written, _ = translate_files(args.model, args.input, args.output, args.direction,
                                         mode="eval" if args.eval else None, tiles=tiles,
                                         preprocess=args.preprocess, load_size=args.load_size)
        except OSError as e:
            raise TranslateError(f"cannot write to {args.output}: {e.strerror or e}") from None
        return 0 if written else 1

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
