"""The parent process of python -m tf_cyclegan.bench: one worker process per measurement, a line (or a JSON
object) per result."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

from tf_cyclegan.bench.options import (BASELINE, DEFAULT_SECTIONS, INFERENCE, PROG, REFERENCE_MODELS, RESULT, SECTIONS,
                                       BenchOptions, split_list)
from tf_cyclegan.cli import add_dataclass_options, fail
from tf_cyclegan.core.catalog import (CONTRASTIVE, FROM_DATA, GENERATORS_HELP, generator_family, residual_blocks,
                                      size_multiple)
from tf_cyclegan.core.errors import first_line
from tf_cyclegan.core.extras import install_hint


def spawn(kind: str, options: BenchOptions, **extra) -> dict:
    spec = {"kind": kind, "options": dataclasses.asdict(options), **extra}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", "--worker", json.dumps(spec)],
                             capture_output=True, text=True, env=env, check=False)
    lines = [line[len(RESULT):] for line in process.stdout.splitlines() if line.startswith(RESULT)]
    if process.returncode != 0 or not lines:
        tail = process.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"bench": kind, "error": f"exit {process.returncode}: {tail[0][:300]}"}
    return json.loads(lines[-1])


def costs(record: dict, size: int | None = None) -> str:
    """The generator's MACs per image and parameters (GAN Compression's counting: models/networks/costs.py)."""
    if "generator_macs" not in record:
        return ""
    at = f" at {size}x{size}" if size else ""
    return (f"; generator {record['generator_macs'] / 1e9:.2f} G MACs{at}, "
            f"{record['generator_parameters'] / 1e6:.2f} M parameters")


def describe(record: dict) -> str:
    kind = record["bench"]
    rss = f", peak RSS {record['peak_rss_mib']:.0f} MiB" if "peak_rss_mib" in record else ""
    if "error" in record:
        return f"{kind}{' ' + record['model'] if 'model' in record else ''}: failed ({record['error']})"
    if kind == "machine":
        speeds = ", ".join(f"{name} {value:.0f}" for name, value in record["matmul_gflop_s"].items())
        return (f"machine: {record['cpu']} ({record['simd']}), {record['cores']} cores, TensorFlow "
                f"{record['tensorflow']}; fp32 2048x2048 matmul {speeds} GFLOP/s (best "
                f"{record['best_matmul_gflop_s']:.0f})")
    if kind == "train":
        peak = record.get("of_matmul_peak")
        return (f"train {record['model']} {record['size']}x{record['size']} {record['netG']} "
                f"batch {record['batch_size']}"
                f"{' (XLA)' if record['jit_compile'] else ''}"
                f"{' low-memory' if record['low_memory'] else ''}"
                f"{'' if record['mixed_precision'] == 'off' else ' ' + record['mixed_precision']}: "
                f"{record['median_s']:.2f} s/iter median"
                + (f", mean {record['mean_s']:.2f} s" if "mean_s" in record else "")
                + f", fastest {record['min_s']:.2f} s"
                + (f", {record['steps_s']:.2f} steps/s" if "steps_s" in record else "")
                + f"; trace + first {record['trace_and_first_s']:.1f} s; "
                f"{record['images_s']:.2f} images/s; {record['tflop']:.3f} TFLOP/iter, {record['gflop_s']:.0f} "
                f"GFLOP/s" + (f" ({peak:.0%} of the best matmul)" if peak else "") + costs(record) + rss)
    if kind == "ratio":
        return (f"{record['model']} {record['size']}x{record['size']} batch {record['batch_size']}: "
                f"{record['step_ratio']:.2f}x {record['baseline']}'s step, {record['peak_rss_ratio']:.2f}x its "
                "peak RSS")
    if kind == "reference" and "skipped" in record:
        return f"PyTorch reference {record['model']}: skipped ({record['skipped']})"
    if kind == "reference":
        ours = record.get("ours_vs_reference")
        precision = record["mixed_precision"]
        autocast = "" if precision == "off" else f" under torch.autocast {precision}"
        return (f"PyTorch reference {record['model']} (torch {record['torch']}) {record['size']}x{record['size']} "
                f"{record['netG']} batch {record['batch_size']}{autocast}: {record['median_s']:.2f} s/iter median, "
                f"fastest {record['min_s']:.2f} s"
                + (f"; ours takes {ours:.2f}x its time" if ours else "")
                + f"; its generator inference at {record['inference_size']}x{record['inference_size']}: "
                f"{record['inference_median_s']:.3f} s" + rss)
    if kind == "pipeline":
        ratio = record.get("x_training")
        return (f"input pipeline ({record['dataset']}): {record['images_s']:.0f} images/s"
                + (f", {ratio:.0f}x what training consumes" if ratio else "") + rss)
    if kind == "export":
        tflite = sum(runtime.startswith("tflite_") for runtime in INFERENCE)
        onnx = " + ONNX" if record.get("onnx") else ""
        files = ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in record.get("tflite_bytes", {}).items())
        return (f"export {record['model']} {record['netG']} (SavedModel + {tflite} TFLite{onnx}): "
                f"{record['export_s']:.1f} s" + costs(record, record.get("infer_size"))
                + (f"; {files}" if files else ""))
    head = f"inference {record['model']} {record['netG']} {record['size']}x{record['size']} {record['runtime']}"
    if "skipped" in record:
        return f"{head}: skipped ({record['skipped']})"
    return f"{head}: {record['median_s']:.3f} s median, fastest {record['min_s']:.3f} s" + rss


def run(options: BenchOptions, emit, sizes: list[int] | None = None) -> list[dict]:
    """Every section asked for, each measurement in a worker: train (and reference) for each model of --model
    at each size, with the ratios of each model's step time and peak RSS to cycle_gan's when it is among
    them; the pipeline and inference for the first model at the first size."""
    sections = [s for s in options.only.split(",") if s] or list(DEFAULT_SECTIONS)
    models, sizes = options.models, sizes or [options.size]
    records, matmul, training_images_s, ours = [], None, None, {}

    def add(record):
        records.append(record)
        emit(record)

    def tag(opts: BenchOptions) -> dict:  # in every record: what was measured, ours and the reference's
        return {"model": opts.model, "size": opts.size, "netG": opts.netG, "ngf": opts.ngf,
                "jit_compile": opts.jit_compile, "low_memory": opts.low_memory,
                "mixed_precision": opts.mixed_precision}

    batch_sizes = [int(b) for b in options.batch_sizes.split(",")]
    first = options.for_model(models[0], sizes[0])
    if "machine" in sections:
        add({**spawn("machine", first), "model": ",".join(models)})
        matmul = records[-1].get("best_matmul_gflop_s")
    if "train" in sections:
        for size in sizes:
            trained = _train_size(options, size, batch_sizes, matmul, tag, add)
            training_images_s = training_images_s or next(
                (r.get("images_s") for r in trained.values() if r.get("images_s")), None)
            ours.update({(model, size, batch): r.get("median_s") for (model, batch), r in trained.items()})
    if "reference" in sections:
        for model in models:
            if model not in REFERENCE_MODELS:
                add({"bench": "reference", "model": model, "skipped": f"there is no PyTorch reference timing of "
                     f"{model}, only of {' and '.join(REFERENCE_MODELS)}"})
                continue
            for size in sizes:
                opts = options.for_model(model, size)
                for batch_size in batch_sizes:
                    record = {**spawn("reference", opts, batch_size=batch_size), **tag(opts)}
                    if ours.get((model, size, batch_size)) and "median_s" in record:
                        record["ours_vs_reference"] = ours[model, size, batch_size] / record["median_s"]
                    add(record)
    if "pipeline" in sections:
        record = {**spawn("pipeline", first), "model": first.model, "size": first.size}
        if training_images_s and "images_s" in record:
            record["x_training"] = record["images_s"] / training_images_s
        add(record)
    if "inference" in sections:
        _inference(first, add)
    return records


def _inference(first: BenchOptions, add) -> None:
    """Export the first model's generator, then time it in each runtime that the export holds; the ONNX row
    is a note when its packages are missing."""
    with tempfile.TemporaryDirectory() as tmp:
        exported = spawn("export", first, folder=tmp)
        add({**exported, "model": first.model, "netG": first.netG})
        for runtime in INFERENCE:
            if "folder" not in exported and runtime != "keras":
                continue
            tag = {"model": first.model, "size": first.infer_size, "netG": first.netG}
            if runtime == "onnx" and not exported.get("onnx"):
                add({"bench": "inference", "runtime": runtime, **tag,
                     "skipped": exported.get("onnx_missing", "the export holds no ONNX model")})
                continue
            add({**spawn(runtime, first, folder=exported.get("folder", tmp)), **tag})


def _train_size(options: BenchOptions, size: int, batch_sizes: list[int], matmul, tag, add) -> dict:
    """Every model's train step at one size, then the ratios to cycle_gan's; {(model, batch): record}."""
    trained = {}
    for model in options.models:
        opts = options.for_model(model, size)
        for batch_size in batch_sizes:
            record = {**spawn("train", opts, batch_size=batch_size), **tag(opts)}
            if matmul and "gflop_s" in record:
                record["of_matmul_peak"] = record["gflop_s"] / matmul
            trained[model, batch_size] = record
            add(record)
    for record in ratios(trained, options.models, batch_sizes, size):
        add(record)
    return trained


def ratios(trained: dict, models: list[str], batch_sizes: list[int], size: int) -> list[dict]:
    """Each model's step time and worker peak RSS over cycle_gan's at the same size and batch (none unless
    cycle_gan is among the models and both timings succeeded)."""
    out = []
    for model in models:
        for batch_size in batch_sizes:
            base, other = trained.get((BASELINE, batch_size)), trained.get((model, batch_size))
            if model == BASELINE or not base or not other or "error" in base or "error" in other:
                continue
            out.append({"bench": "ratio", "model": model, "baseline": BASELINE, "size": size,
                        "batch_size": batch_size, "step_ratio": other["median_s"] / base["median_s"],
                        "peak_rss_ratio": other["peak_rss_mib"] / base["peak_rss_mib"]})
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Time training (the train step of each model of "
                                     "--model, ours and the PyTorch reference's), the input pipeline and inference.")
    # --model and --size take lists (a worker's options hold one of each): in the fields' order, --size as text.
    add_dataclass_options(parser, BenchOptions, skip=[f.name for f in dataclasses.fields(BenchOptions)][1:])
    parser.add_argument("--size", default="128", metavar="SIZE", help=(
        "training image size (crop_size), or several comma-separated, e.g. 128,256: the train and reference "
        "sections time each model at each size in one run, the pipeline the first size (default: 128)"))
    add_dataclass_options(parser, BenchOptions, skip=("model", "size"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(json.loads(args.worker))
    try:
        sizes = [int(size) for size in split_list(args.size)]
    except ValueError:
        sizes = []
    if not sizes:
        parser.error(f"--size: {args.size!r} is not a size or a comma-separated list of sizes such as 128,256")
    models = split_list(args.model)
    unknown = [model for model in models if model not in FROM_DATA]
    if unknown or not models:
        parser.error(f"--model: {', '.join(map(repr, unknown)) or repr(args.model)} is not one of "
                     f"{', '.join(FROM_DATA)} (several: comma-separated, e.g. cut,fastcut,cycle_gan)")
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchOptions)}
    options = BenchOptions(**{**values, "model": ",".join(models), "size": sizes[0]})
    unknown = [s for s in options.only.split(",") if s and s not in SECTIONS]
    if unknown:
        parser.error(f"--only: {', '.join(unknown)} is not one of {', '.join(SECTIONS)}")
    for name in ("iters", "ngf", "infer_size"):
        if getattr(options, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    if any(size < 1 for size in sizes):
        parser.error("--size: must be at least 1")
    try:
        [int(b) for b in options.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch_sizes: {options.batch_sizes!r} is not a comma-separated list of integers")
    for model in models:
        check_model(parser, options.for_model(model), sizes)
    sections = options.only.split(",")
    if "reference" in sections and set(models) & set(REFERENCE_MODELS) and not _have_torch():
        fail(PROG, "--only reference times the PyTorch reference on this machine and needs PyTorch: "
                   + install_hint("torch"))
    emit = (lambda r: print(json.dumps(r), flush=True)) if options.json else (lambda r: print(describe(r), flush=True))
    try:
        records = run(options, emit, sizes)
    except OSError as e:
        fail(PROG, first_line(e))
    return 1 if any("error" in r for r in records) else 0


def check_model(parser: argparse.ArgumentParser, options: BenchOptions, sizes: list[int]) -> None:
    """argparse's one-line error (exit 2) when one model's generator or sizes do not go together."""
    from tf_cyclegan.bench.workers import bench_config

    netG, model = options.netG, options.model
    if generator_family(netG) is None:
        parser.error(f"--netG: {netG!r} is not one of {GENERATORS_HELP}")
    if model in CONTRASTIVE and not residual_blocks(netG):
        parser.error(f"--netG: --model {model} needs a ResNet generator (resnet_<N>blocks or "
                     f"mobile_resnet_<N>blocks), got {netG}")
    multiple = size_multiple(netG)  # its 2^n downsamplings need sides that halve n times
    for name, values in (("size", sizes), ("infer_size", [options.infer_size])):
        for value in values:
            if value % multiple and (not residual_blocks(netG) or name == "size"):
                parser.error(f"--{name}: {netG} needs a multiple of {multiple}, got {value}")
    for size in sizes:
        errors = bench_config(options.for_model(model, size)).errors()
        if errors:
            parser.error(f"--model {model}: {errors[0]}")


def worker_main(spec: dict) -> int:
    """One measurement in this process; its result as one line of JSON on stdout."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tf_cyclegan.bench.workers import run_worker

    try:
        result = run_worker(spec)
    except (ImportError, ValueError) as e:  # a network the reference timing lacks
        result = {"bench": spec["kind"], "error": first_line(e)}
    print(RESULT + json.dumps(result), flush=True)
    return 0


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True
