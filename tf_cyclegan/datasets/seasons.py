"""python -m tf_cyclegan.datasets.seasons ROOT [--size 128] [--n_train 400] [--n_test 40] [--paired]
python -m tf_cyclegan.datasets.seasons --preview out.png [--seeds 0 1 2 3]

Writes the embedded dataset (tf_cyclegan.data.seasons) into a folder in the reference's layout, or a
summer-above-winter preview of some scenes. No TensorFlow is imported, so the command starts at once.
"""

from __future__ import annotations

import argparse
import sys

from tf_cyclegan.cli import positive_int, run_command
from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.core.moved import forwarding
from tf_cyclegan.data import seasons

PROG = "python -m tf_cyclegan.datasets.seasons"
__getattr__ = forwarding("tf_cyclegan.datasets.seasons")  # the library names it held in 0.5: data.seasons


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Write the embedded summer/winter dataset, or a "
                                     "preview of its scenes.")
    parser.add_argument("root", nargs="?", help="the dataset folder to write (trainA/ trainB/ testA/ testB/)")
    parser.add_argument("--size", type=int, default=seasons.SIZE,
                        help=f"image side in pixels, at least {seasons.MIN_SIZE} (default %(default)s)")
    parser.add_argument("--n_train", "--n-train", type=positive_int, default=seasons.dataset.TRAIN,
                        help="images in trainA/ and in trainB/ (default %(default)s)")
    parser.add_argument("--n_test", "--n-test", type=positive_int, default=seasons.dataset.TEST,
                        help="images in testA/ and in testB/: the same scenes in both seasons (default %(default)s)")
    parser.add_argument("--paired", action="store_true",
                        help="trainB/ holds the winter of trainA/'s scenes (pix2pix's paired form)")
    parser.add_argument("--preview", help="write a PNG of summer above winter for --seeds here")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5], help="scenes of the preview")
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.root is None and args.preview is None:
        parser.error("give a dataset ROOT and/or --preview PATH")
    if args.size < seasons.MIN_SIZE:
        parser.error(f"--size {args.size}: must be at least {seasons.MIN_SIZE}")
    if any(seed < 0 for seed in args.seeds):
        parser.error("--seeds: must not be negative")

    def work():
        from PIL import Image

        try:
            if args.preview:
                Image.fromarray(seasons.preview_grid(args.seeds, args.size)).save(args.preview)
                print(args.preview)
            if args.root:
                print(seasons.write_dataset(args.root, args.size, args.n_train, args.n_test, args.paired))
        except (OSError, ValueError) as e:  # a folder that is not ours, a full disk, too many scenes
            raise DatasetError(str(e)) from None

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
