"""python -m tf_cyclegan.export --run RUN_DIR --output EXPORT_DIR [--checkpoint N] [--onnx]

Writes the generators of a training run (a CycleGAN has two: a2b and b2a; pix2pix and CUT one) as TF Serving
versions EXPORT_DIR/<direction>/<version>/: a SavedModel (uint8, bytes, float and tile signatures), TFLite
models (float32, float16 weights, dynamic-range int8), with --onnx an ONNX model, and tf_cyclegan.json
(tf_cyclegan.exporting). In Python, tf_cyclegan.export(ExportOptions(run=..., output=...)): this module is
also that function (tf_cyclegan.exporting.run.export_run).
"""

from __future__ import annotations

import sys

from tf_cyclegan.cli import callable_as, parse_options, quiet_tensorflow, run_command
from tf_cyclegan.core.errors import ExportError
from tf_cyclegan.core.moved import forwarding
from tf_cyclegan.exporting.options import ExportOptions

PROG = "python -m tf_cyclegan.export"
callable_as(__name__, "tf_cyclegan.exporting.run:export_run")
__getattr__ = forwarding("tf_cyclegan.export")  # the library names this module held in 0.5


def main(argv=None) -> int:
    parser, options = parse_options(PROG, "Export a run's generators for TF Serving, LiteRT and "
                                    "onnxruntime.", ExportOptions,
                                    argv, required=("run", "output"))
    if options.max_pixels < 1:
        parser.error(f"--max_pixels: must be at least 1, got {options.max_pixels}")
    quiet_tensorflow()

    def work():
        try:
            from tf_cyclegan.exporting.run import export_run

            export_run(options)
        except OSError as e:
            raise ExportError(f"cannot write to {options.output}: {e.strerror or e}") from None

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
