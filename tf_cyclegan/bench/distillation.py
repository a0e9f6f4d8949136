"""python -m tf_cyclegan.bench.distillation --folder DIR [--teacher_model cycle_gan|pix2pix] [--only RUNS]

Distillation's quality on the embedded seasons at 64x64, as docs/mobile.md reports it: a paper-width teacher
(resnet_9blocks, ngf 64) trained on the quick run's schedule (72 -> 64 crops, 2 + 2 epochs of 400 steps);
students at ngf 32 and 16 (mobile_resnet_9blocks) distilled from it with as many steps; the same mobile
generators trained from scratch with that budget; then students and from-scratch twins with a quarter of
the steps (the same schedule on 100 images per domain, so that its decay fits). Every row is measured as
evaluate measures (truth PSNR both ways on the 40 test scenes; pix2pix: the direction it learns). Runs
already in DIR are resumed or reused, so an interrupted benchmark continues.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PROG = "python -m tf_cyclegan.bench.distillation"
QUICK = dict(dataset="seasons", load_size=72, crop_size=64, n_epochs=2, n_epochs_decay=2, ndf=64)
WIDTHS = (32, 16)


def runs(teacher_model: str) -> list[tuple[str, dict]]:
    """(name, config values) of every run, the teacher first; students name the teacher as 'TEACHER'."""
    plan = [("teacher", dict(model=teacher_model, netG="resnet_9blocks", ngf=64))]
    for budget, extra in (("full", {}), ("quarter", dict(max_dataset_size=100))):
        for width in WIDTHS:
            plan.append((f"student_ngf{width}_{budget}", dict(model="distill", teacher="TEACHER", ngf=width, **extra)))
            plan.append((f"scratch_ngf{width}_{budget}", dict(model=teacher_model, netG="mobile_resnet_9blocks",
                                                              ngf=width, use_dropout=False, **extra)))
    return plan


def config_of(name: str, values: dict, folder: Path):
    from tf_cyclegan.core.config import Config
    from tf_cyclegan.models.teacher import teacher_facts
    from tf_cyclegan.training.distillation import student_defaults

    values = {**values, "output": str(folder / name), "print_freq": 400}
    if values["model"] == "distill":
        teacher = str(folder / "teacher")
        defaults = student_defaults(teacher_facts(teacher))
        return Config(**{**defaults, **QUICK, **values, "teacher": teacher})
    return Config.for_model(values.pop("model"), **QUICK, **values)


def measure(run: Path) -> dict:
    """Truth PSNR per direction, as evaluate measures it."""
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    report = evaluate(EvaluateOptions(model=str(run), output=str(run / "eval"), no_fid=True), log=lambda line: None)
    return {d: report[d]["truth_psnr"] for d in ("a2b", "b2a") if d in report}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Distillation against training from scratch on the "
                                     "embedded seasons at 64x64 (docs/mobile.md).")
    parser.add_argument("--folder", required=True, help="where the runs go (reused when run again)")
    parser.add_argument("--teacher_model", default="cycle_gan", choices=("cycle_gan", "pix2pix"))
    parser.add_argument("--only", default="", help="comma-separated run names (default: all)")
    args = parser.parse_args(argv)
    from tf_cyclegan.cli import quiet_tensorflow

    quiet_tensorflow()
    from tf_cyclegan.models.networks.costs import generator_costs
    from tf_cyclegan.models.restoring import load_generators
    from tf_cyclegan.training.run import train

    folder, wanted = Path(args.folder), [n for n in args.only.split(",") if n]
    for name, values in runs(args.teacher_model):
        if wanted and name not in wanted:
            continue
        config = config_of(name, values, folder)
        started = time.perf_counter()
        train(config, log=lambda line: None)
        generator = next(iter(load_generators(folder / name, log=lambda line: None)[1].values()))
        costs = generator_costs(generator, 256, 256)
        row = {"run": name, "netG": config.netG, "ngf": config.ngf,
               "train_s": round(time.perf_counter() - started, 1),  # this invocation's (0 for a finished run)
               "g_macs_256": round(costs["macs"] / 1e9, 2), "m_parameters": round(costs["parameters"] / 1e6, 3),
               "truth_psnr": measure(folder / name)}
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
