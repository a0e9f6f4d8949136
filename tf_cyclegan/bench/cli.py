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

from tf_cyclegan.bench.options import DEFAULT_SECTIONS, INFERENCE, PROG, RESULT, SECTIONS, BenchOptions
from tf_cyclegan.cli import add_dataclass_options, fail
from tf_cyclegan.config import GENERATORS_HELP, RESNET, UNET_DOWNS, size_multiple
from tf_cyclegan.errors import first_line


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


def describe(record: dict) -> str:
    kind = record["bench"]
    rss = f", peak RSS {record['peak_rss_mib'] / 1024:.2f} GiB" if "peak_rss_mib" in record else ""
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
                f"{record['median_s']:.2f} s/iter median, "
                f"fastest {record['min_s']:.2f} s; trace + first {record['trace_and_first_s']:.1f} s; "
                f"{record['images_s']:.2f} images/s; {record['tflop']:.3f} TFLOP/iter, {record['gflop_s']:.0f} "
                f"GFLOP/s" + (f" ({peak:.0%} of the best matmul)" if peak else "") + rss)
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
        return f"export {record['model']} {record['netG']} (SavedModel + {tflite} TFLite): {record['export_s']:.1f} s"
    return (f"inference {record['model']} {record['netG']} {record['size']}x{record['size']} {record['runtime']}: "
            f"{record['median_s']:.3f} s "
            f"median, fastest {record['min_s']:.3f} s" + rss)


def run(options: BenchOptions, emit) -> list[dict]:
    sections = [s for s in options.only.split(",") if s] or list(DEFAULT_SECTIONS)
    records, matmul, training_images_s, ours = [], None, None, {}
    model = {"model": options.model}  # in every record: what was measured, ours and the reference's
    tag = {**model, "size": options.size, "netG": options.netG, "ngf": options.ngf,
           "jit_compile": options.jit_compile, "low_memory": options.low_memory,
           "mixed_precision": options.mixed_precision}

    def add(record):
        record = {**record, **model}
        records.append(record)
        emit(record)

    if "machine" in sections:
        add(spawn("machine", options))
        matmul = records[-1].get("best_matmul_gflop_s")
    if "train" in sections:
        for batch_size in (int(b) for b in options.batch_sizes.split(",")):
            record = {**spawn("train", options, batch_size=batch_size), **tag}
            if matmul and "gflop_s" in record:
                record["of_matmul_peak"] = record["gflop_s"] / matmul
            training_images_s = training_images_s or record.get("images_s")
            ours[batch_size] = record.get("median_s")
            add(record)
    if "reference" in sections:
        for batch_size in (int(b) for b in options.batch_sizes.split(",")):
            record = {**spawn("reference", options, batch_size=batch_size), **tag}
            if ours.get(batch_size) and "median_s" in record:
                record["ours_vs_reference"] = ours[batch_size] / record["median_s"]
            add(record)
    if "pipeline" in sections:
        record = {**spawn("pipeline", options), "size": options.size}
        if training_images_s and "images_s" in record:
            record["x_training"] = record["images_s"] / training_images_s
        add(record)
    if "inference" in sections:
        with tempfile.TemporaryDirectory() as tmp:
            exported = spawn("export", options, folder=tmp)
            add({**exported, "netG": options.netG})
            for runtime in INFERENCE:
                if "folder" not in exported and runtime != "keras":
                    continue
                add({**spawn(runtime, options, folder=exported.get("folder", tmp)), "size": options.infer_size,
                     "netG": options.netG})
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Time training (CycleGAN's or pix2pix's step, ours and "
                                     "the PyTorch reference's), the input pipeline and inference.")
    add_dataclass_options(parser, BenchOptions)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(json.loads(args.worker))
    options = BenchOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(BenchOptions)})
    unknown = [s for s in options.only.split(",") if s and s not in SECTIONS]
    if unknown:
        parser.error(f"--only: {', '.join(unknown)} is not one of {', '.join(SECTIONS)}")
    for name in ("size", "iters", "ngf", "infer_size"):
        if getattr(options, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    if not (RESNET.match(options.netG) or options.netG in UNET_DOWNS):
        parser.error(f"--netG: {options.netG!r} is not one of {GENERATORS_HELP}")
    if options.netG in UNET_DOWNS:  # its 2^n downsamplings need sides that halve n times
        for name in ("size", "infer_size"):
            if getattr(options, name) % size_multiple(options.netG):
                parser.error(f"--{name}: {options.netG} needs a multiple of {size_multiple(options.netG)}, "
                             f"got {getattr(options, name)}")
    try:
        [int(b) for b in options.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch_sizes: {options.batch_sizes!r} is not a comma-separated list of integers")
    if "reference" in options.only.split(",") and not _have_torch():
        fail(PROG, "--only reference times the PyTorch reference on this machine and needs PyTorch: "
                   "pip install 'tf_cyclegan[torch]'")
    emit = (lambda r: print(json.dumps(r), flush=True)) if options.json else (lambda r: print(describe(r), flush=True))
    try:
        records = run(options, emit)
    except OSError as e:
        fail(PROG, first_line(e))
    return 1 if any("error" in r for r in records) else 0


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
