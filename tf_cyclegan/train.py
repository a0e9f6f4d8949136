"""python -m tf_cyclegan.train --dataset cycle_gan/summer2winter_yosemite  (defaults are the paper's);
python -m tf_cyclegan.train --model pix2pix --dataset pix2pix/facades --direction BtoA  (pix2pix's).

In Python, tf_cyclegan.train(config) trains (tf_cyclegan.training.run.train): this module is also that
function (tf_cyclegan.cli.callable_as)."""

from __future__ import annotations

import argparse
import sys

from tf_cyclegan.cli import add_dataclass_options, callable_as, dataclass_from, quiet_tensorflow, run_command
from tf_cyclegan.core.catalog import MODEL_DEFAULTS
from tf_cyclegan.core.config import Config

PROG = "python -m tf_cyclegan.train"
callable_as(__name__, "tf_cyclegan.training.run:train")


def parse_config(argv=None) -> Config:
    """The run's config: --model's defaults (catalog.MODEL_DEFAULTS) under the flags given."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default="cycle_gan")
    model = pre.parse_known_args(argv)[0].model
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train an image-translation model (or resume the run in --output).",
        epilog="Running the same command again on the same --output resumes where it stopped. Each --model "
               "has its own defaults (pix2pix: --netG unet_256 --norm batch, dropout, --gan_mode vanilla, "
               "--pool_size 0), as the reference's.")
    add_dataclass_options(parser, Config)
    parser.set_defaults(**MODEL_DEFAULTS.get(model, {}))
    parser.add_argument("--no_dropout", "--no-dropout", action="store_true",
                        help="no dropout in the generator (pix2pix has it by default; CycleGAN has none "
                             "unless --use_dropout, which wins over --no_dropout)")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    if args.no_dropout and not {"--use_dropout", "--use-dropout"} & set(given):  # --use_dropout wins, as in 0.1
        args.use_dropout = False
    config = dataclass_from(args, Config)
    errors = config.errors()
    if errors:
        parser.error("; ".join(errors))  # exit code 2, like any argparse error
    return config


def main(argv=None) -> int:
    config = parse_config(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach a log file as they happen
    # After parsing, so that --help and flag errors answer without loading TensorFlow.
    quiet_tensorflow()
    from tf_cyclegan.training.run import TrainingInterrupted, train

    def work():
        try:
            train(config)
        except TrainingInterrupted as e:
            print(e, file=sys.stderr)
            return 128 + e.signum  # the shell's convention for a process stopped by a signal
        except KeyboardInterrupt:  # a second Ctrl-C, or Ctrl-C in a multi-worker run: no final checkpoint
            print(f"{PROG}: interrupted; run the same command again to resume from the last checkpoint",
                  file=sys.stderr)
            return 130

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
