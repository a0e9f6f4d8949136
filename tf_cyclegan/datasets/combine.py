"""python -m tf_cyclegan.datasets.combine --fold_A A --fold_B B --fold_AB AB [--num_imgs N] [--use_AB]

The reference's datasets/combine_A_and_B.py: A and B images side by side, the layout pix2pix reads
(tf_cyclegan.data.combine). No TensorFlow is imported, so the command starts at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tf_cyclegan.cli import positive_int, run_command
from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.core.moved import forwarding
from tf_cyclegan.data.combine import NUM_IMGS, REPORT, combine

PROG = "python -m tf_cyclegan.datasets.combine"
__getattr__ = forwarding("tf_cyclegan.datasets.combine")  # the library names it held in 0.5: data.combine


def _cli_log(line: str):
    """Skipped files on stderr (beside the progress bar), the rest on stdout."""
    print(line, file=sys.stderr if line.startswith("skipped ") else sys.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Put A and B images side by side (A left, B "
                                     "right) for pix2pix, split by split.")
    parser.add_argument("--fold_A", "--fold-A", required=True, help="folder of A images (train/ val/ ... subfolders)")
    parser.add_argument("--fold_B", "--fold-B", required=True, help="folder of B images, with the same names")
    parser.add_argument("--fold_AB", "--fold-AB", required=True, help="output folder for the pairs")
    parser.add_argument("--num_imgs", "--num-imgs", type=positive_int, default=NUM_IMGS,
                        help=f"at most this many images per split (default: {NUM_IMGS})")
    parser.add_argument("--use_AB", "--use-AB", action="store_true",
                        help="pair x_A.ext with x_B.ext, written as x.ext")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="threads that read and write images (default: the number of CPUs)")
    args = parser.parse_args(argv)

    def work():
        written, skipped = combine(args.fold_A, args.fold_B, args.fold_AB, args.num_imgs, args.use_AB,
                                   args.workers, log=_cli_log)
        if not sum(written.values()):
            raise DatasetError(f"--fold_A {args.fold_A}: no pairs written ({len(skipped)} skipped, see "
                               f"{Path(args.fold_AB) / REPORT})")
        return 0

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
