"""python -m tf_cyclegan.distill --teacher PATH --output DIR [--dataset D] [--netG mobile_resnet_9blocks]
[--ngf 32] [the training, data and schedule flags of train]

A small student generator learns a trained teacher's translations (GAN Compression, Li et al. 2020;
tf_cyclegan.models.distiller): every direction the teacher has, on the teacher's data unless flags say
otherwise. The run is a training run (resume, signals, TensorBoard, --eval_every), and its folder exports,
translates and evaluates like any run. --ngf 16,24,32 distills one student per width into DIR/ngf16, ...
and writes DIR/widths.tsv: width, MACs, parameters, TFLite latency and quality, to pick a point from.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

from tf_cyclegan.cli import add_dataclass_options, fail, quiet_tensorflow, run_command
from tf_cyclegan.core.catalog import MODEL_DEFAULTS
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import Error

PROG = "python -m tf_cyclegan.distill"
# Set by the command from the teacher (teacher_model and teacher_directions remain flags for a bare .keras).
OWN_FLAGS = ("model", "ngf", "teacher", "output")


def _widths(text: str) -> list[int]:
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a width or comma-separated widths: {text!r}") from None
    if not widths or min(widths) < 1 or len(set(widths)) != len(widths):
        raise argparse.ArgumentTypeError(f"widths must be distinct whole numbers of at least 1: {text!r}")
    return widths


def parse(argv=None) -> tuple[Config, list[int]]:
    """The student's config (its first width) and every width asked for."""
    from tf_cyclegan.models.teacher import teacher_facts
    from tf_cyclegan.training.distillation import student_defaults

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--teacher")
    pre.add_argument("--teacher_model", "--teacher-model")
    known = pre.parse_known_args(argv)[0]
    parser = argparse.ArgumentParser(prog=PROG, description="Distill a trained model into a small student "
                                     "generator (GAN Compression).", epilog="Running the same command again "
                                     "resumes. Data, discriminator and schedule settings default to the "
                                     "teacher run's; the student's to mobile_resnet_9blocks at --ngf 32.")
    parser.add_argument("--teacher", required=True, help="the trained model: a training run folder of any "
                        "model, a .keras file, or a from_torch import")
    parser.add_argument("--output", required=True, help="the student's run folder (several widths: a folder "
                        "of one run per width, ngf<N>/)")
    parser.add_argument("--ngf", type=_widths, default=[32], help="the student's width (default: 32); several, "
                        "comma-separated (16,24,32), distill one student each and write OUTPUT/widths.tsv")
    add_dataclass_options(parser, Config, skip=OWN_FLAGS)
    # The student's own defaults (mobile_resnet_9blocks, ...) under those its teacher decides.
    parser.set_defaults(**{k: v for k, v in MODEL_DEFAULTS["distill"].items() if k not in OWN_FLAGS})
    if known.teacher:
        try:
            facts = teacher_facts(known.teacher)
        except Error as e:
            fail(PROG, str(e), code=2)
        parser.set_defaults(**{k: v for k, v in student_defaults(facts, known.teacher_model).items()
                               if k not in OWN_FLAGS})
    args = parser.parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if f.name not in OWN_FLAGS}
    config = Config(**values, model="distill", ngf=args.ngf[0], teacher=os.path.abspath(args.teacher),
                    output=args.output)
    errors = config.errors()
    if errors:
        parser.error("; ".join(errors))
    return config, args.ngf


def _distill_widths(config: Config, widths: list[int], train):
    """One student per width into OUTPUT/ngf<N>/, then OUTPUT/widths.tsv."""
    from tf_cyclegan.bench.widths import write_width_table

    runs = {}
    for width in widths:
        print(f"Student {width} of {', '.join(map(str, widths))} filters")
        runs[width] = train(dataclasses.replace(config, ngf=width, output=str(Path(config.output) / f"ngf{width}")))
    write_width_table(runs, Path(config.output))


def main(argv=None) -> int:
    config, widths = parse(argv)
    sys.stdout.reconfigure(line_buffering=True)
    quiet_tensorflow()

    def work():
        from tf_cyclegan.training.run import TrainingInterrupted, train

        print(f"Teacher: {config.teacher} ({config.teacher_model}, {config.teacher_directions.replace(',', ' and ')}, "
              f"{config.teacher_mode} mode); student: {config.netG}")
        try:
            if len(widths) == 1:
                train(config)
                return 0
            from tf_cyclegan.core.layout import RunFolder
            from tf_cyclegan.training.lock import hold_folder

            # OUTPUT holds one run per width (each locked by its training) and widths.tsv: one distillation
            # at a time there too. Multi-worker: every worker runs this, so only the runs' chiefs lock.
            with (contextlib.nullcontext() if config.strategy == "multi_worker"
                  else hold_folder(Path(config.output), RunFolder(config.output).lock)):
                _distill_widths(config, widths, train)
        except TrainingInterrupted as e:
            print(e, file=sys.stderr)
            return 128 + e.signum

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
