"""python -m tf_cyclegan.evaluate --model MODEL --output DIR [--dataset NAME_OR_PATH]

Translates the test images (both ways and back for CycleGAN; the one way for pix2pix and CUT) and writes
DIR/metrics.json, a results page DIR/index.html (input | translation | reconstruction | truth, like the
reference's results page) and DIR/results.png (tf_cyclegan.evaluation). MODEL is anything translate --model
takes. In Python, tf_cyclegan.evaluate(EvaluateOptions(model=..., output=...)): this module is also that
function (tf_cyclegan.evaluation.report.evaluate).
"""

from __future__ import annotations

import sys

from tf_cyclegan.cli import callable_as, parse_options, quiet_tensorflow, run_command
from tf_cyclegan.core.moved import forwarding
from tf_cyclegan.evaluation.options import EvaluateOptions

PROG = "python -m tf_cyclegan.evaluate"
callable_as(__name__, "tf_cyclegan.evaluation.report:evaluate")
__getattr__ = forwarding("tf_cyclegan.evaluate")  # the library names this module held in 0.5


def main(argv=None) -> int:
    parser, options = parse_options(PROG, "Measure a trained or exported model on test images and write a "
                                    "results page.", EvaluateOptions, argv, required=("model", "output"))
    if options.size is not None and options.size < 11:
        parser.error(f"--size: SSIM needs at least 11 pixels a side, got {options.size}")
    if options.num_test < 2:
        parser.error(f"--num_test: at least 2 images per domain, got {options.num_test}")
    quiet_tensorflow()

    def work():
        from tf_cyclegan.evaluation.report import evaluate

        evaluate(options)

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
