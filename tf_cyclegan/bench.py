"""python -m tf_cyclegan.bench [--size 128] [--iters 5] [--json]

Measures what a run costs on this machine: the train iteration of the paper networks (batch 1 and 4),
its FLOPs counted from the traced graph and the share of the machine's measured matmul speed it reaches,
the input pipeline alone, and generator inference at 256x256 through Keras, the SavedModel and each TFLite
variant. Every measurement runs in a process of its own, so the peak resident memory reported is its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from tf_cyclegan.cli import add_dataclass_options, fail, first_line
from tf_cyclegan.config import MIXED_PRECISION

PROG = "python -m tf_cyclegan.bench"
RESULT = "BENCH_RESULT "  # a worker's one line of JSON on stdout starts with this
SECTIONS = ("machine", "train", "reference", "pipeline", "inference")
DEFAULT_SECTIONS = ("machine", "train", "pipeline", "inference")  # the reference is slow: ask for it
INFERENCE = ("keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
             "tflite_int8_selective")


@dataclasses.dataclass
class BenchOptions:
    size: int = dataclasses.field(default=128, metadata={"help": "training image size (crop_size)"})
    iters: int = dataclasses.field(default=5, metadata={"help": "timed iterations per measurement, after "
                                                                "the trace and one warm-up iteration"})
    batch_sizes: str = dataclasses.field(default="1,4", metadata={"help": "train batch sizes to time"})
    netG: str = dataclasses.field(default="resnet_9blocks", metadata={
        "help": "generator (the reference's default; the paper uses resnet_6blocks at 128)"})
    ngf: int = dataclasses.field(default=64, metadata={"help": "generator and discriminator filters"})
    jit_compile: bool = dataclasses.field(default=False, metadata={"help": "time the XLA-compiled train step"})
    low_memory: bool = dataclasses.field(default=False, metadata={"help": "time the train step with --low_memory"})
    mixed_precision: str = dataclasses.field(default="off", metadata={
        "help": "time the train step in this precision (the reference's under torch.autocast)",
        "choices": tuple(MIXED_PRECISION)})
    infer_size: int = dataclasses.field(default=256, metadata={"help": "inference image size"})
    dataset: str = dataclasses.field(default="seasons", metadata={"help": "dataset for the pipeline timing"})
    only: str = dataclasses.field(default="", metadata={
        "help": f"comma-separated sections to run ({', '.join(SECTIONS)}); default: all but reference, "
                "the PyTorch reference's iteration timed on this machine (needs PyTorch)"})
    json: bool = dataclasses.field(default=False, metadata={"help": "one JSON object per line"})


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _timings(fn, iters: int) -> dict:
    """Seconds of each call of fn after one warm-up call."""
    fn()
    times = []
    for _ in range(iters):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "min_s": min(times), "iters": iters}


def count_flops(concrete_function) -> int:
    """Floating-point operations of one call, counted op by op from the traced graph by TF's profiler
    (convolutions and their two gradients, matmuls, element-wise ops, reductions)."""
    import tensorflow as tf

    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(tf.compat.v1.profiler.profile(concrete_function.graph, options=options).total_float_ops)


# -- the measurements, each run in a worker process --------------------------------------------------
def measure_machine(options: BenchOptions) -> dict:
    """fp32 matmul speed: the ceiling the convolutions can hope to reach on this CPU."""
    import platform

    import tensorflow as tf

    n = 2048
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.matmul(a, b))
    timing = _timings(lambda: matmul().numpy(), max(options.iters, 5))
    cpu = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    return {"cpu": cpu, "cores": os.cpu_count(), "tensorflow": tf.__version__,
            "matmul_gflop_s": 2 * n**3 / timing["min_s"] / 1e9}


def measure_train(options: BenchOptions, batch_size: int) -> dict:
    import tensorflow as tf

    from tf_cyclegan.config import Config
    from tf_cyclegan.trainer import CycleGAN

    tf.config.optimizer.set_experimental_options({"remapping": False})  # as train() does
    config = Config(netG=options.netG, ngf=options.ngf, ndf=options.ngf, crop_size=options.size,
                    load_size=options.size, batch_size=batch_size, jit_compile=options.jit_compile,
                    low_memory=options.low_memory, mixed_precision=options.mixed_precision)
    model = CycleGAN(config, steps_per_epoch=10**6)
    shape = [batch_size, options.size, options.size, 3]
    real_x, real_y = tf.random.uniform(shape, -1, 1, seed=1), tf.random.uniform(shape, -1, 1, seed=2)
    started = time.perf_counter()
    model.train_step(real_x, real_y)["loss_G"].numpy()
    trace_s = time.perf_counter() - started
    flops = count_flops(model.train_step.get_concrete_function(real_x, real_y))
    timing = _timings(lambda: model.train_step(real_x, real_y)["loss_G"].numpy(), options.iters)
    return {"batch_size": batch_size, "trace_and_first_s": trace_s, **timing,
            "images_s": 2 * batch_size / timing["median_s"],  # an X and a Y image per batch element
            "tflop": flops / 1e12, "gflop_s": flops / timing["median_s"] / 1e9}


def measure_reference(options: BenchOptions, batch_size: int) -> dict:
    """The same iteration in the reference's PyTorch code, with as many threads as cores."""
    from tf_cyclegan.config import RESNET

    match = RESNET.match(options.netG)
    if not match:
        raise ValueError(f"the reference timing covers the ResNet generators, not {options.netG}")
    import torch

    from tf_cyclegan.torch_reference import time_reference_inference, time_reference_step

    torch.set_num_threads(os.cpu_count() or 1)
    blocks = int(match.group(1))
    times = time_reference_step(options.size, batch_size, options.iters, blocks, options.ngf, options.mixed_precision)
    median = statistics.median(times)
    inference = time_reference_inference(options.infer_size, options.iters, blocks, options.ngf)
    return {"batch_size": batch_size, "median_s": median, "min_s": min(times), "iters": options.iters,
            "images_s": 2 * batch_size / median, "torch": torch.__version__,
            "inference_size": options.infer_size, "inference_median_s": statistics.median(inference)}


def measure_pipeline(options: BenchOptions) -> dict:
    """Decode, resize, crop and flip alone, as fast as tf.data delivers them."""
    from tf_cyclegan.config import Config
    from tf_cyclegan.data import Unpaired, load_domains

    config = Config(dataset=options.dataset, crop_size=options.size, load_size=round(options.size * 286 / 256))
    data = Unpaired.from_domains(load_domains(config.dataset), config)
    batches = iter(data.train_dataset(config))
    for _ in range(20):  # fill the prefetch buffer and let autotune settle
        next(batches)
    n = 400
    started = time.perf_counter()
    for _ in range(n):
        next(batches)
    seconds = time.perf_counter() - started
    return {"dataset": options.dataset, "images_s": 2 * n / seconds}


def export_for_inference(options: BenchOptions, folder: str) -> dict:
    """The paper generator (random weights: speed does not depend on them) as SavedModel and TFLite."""
    from pathlib import Path

    import numpy as np

    from tf_cyclegan.export import TFLITE_VARIANTS, export_generator
    from tf_cyclegan.models import build_generator

    G = build_generator(options.netG, options.ngf, name="G")
    rng = np.random.default_rng(0)

    def calibration():  # random images: the speed of int8 does not depend on its ranges
        for _ in range(4):
            yield {"images": rng.integers(0, 256, (1, options.infer_size, options.infer_size, 3), np.uint8)}

    started = time.perf_counter()
    version = export_generator(G, Path(folder), "a2b", "A", "B", "random weights", None, 4096 * 4096,
                               TFLITE_VARIANTS + ("int8_selective",), calibration)
    return {"export_s": time.perf_counter() - started, "folder": str(version)}


def measure_inference(options: BenchOptions, runtime: str, folder: str) -> dict:
    import numpy as np

    from tf_cyclegan.translate import open_model

    if runtime == "keras":
        from tf_cyclegan.models import build_generator
        from tf_cyclegan.translate import keras_translator

        batch = keras_translator(build_generator(options.netG, options.ngf, name="G"))
        translate = lambda image: batch(image[None])[0]  # noqa: E731
    elif runtime == "saved_model":
        translate, _ = open_model(folder)
    else:
        translate, _ = open_model(os.path.join(folder, f"a2b_{runtime.removeprefix('tflite_')}.tflite"))
    image = np.random.default_rng(0).integers(0, 256, (options.infer_size, options.infer_size, 3), np.uint8)
    return {"runtime": runtime, **_timings(lambda: translate(image), options.iters)}


def run_worker(spec: dict) -> dict:
    options = BenchOptions(**spec["options"])
    kind = spec["kind"]
    if kind == "machine":
        result = measure_machine(options)
    elif kind == "train":
        result = measure_train(options, spec["batch_size"])
    elif kind == "reference":
        result = measure_reference(options, spec["batch_size"])
    elif kind == "pipeline":
        result = measure_pipeline(options)
    elif kind == "export":
        result = export_for_inference(options, spec["folder"])
    else:
        result = measure_inference(options, kind, spec["folder"])
    return {"bench": "inference" if kind in INFERENCE else kind, **result, "peak_rss_mib": _peak_rss_mib()}


# -- the parent: one process per measurement -----------------------------------------------------------
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
        return f"{kind}: failed ({record['error']})"
    if kind == "machine":
        return (f"machine: {record['cpu']}, {record['cores']} cores, TensorFlow {record['tensorflow']}; fp32 "
                f"matmul {record['matmul_gflop_s']:.0f} GFLOP/s")
    if kind == "train":
        peak = record.get("of_matmul_peak")
        return (f"train {record['size']}x{record['size']} {record['netG']} batch {record['batch_size']}"
                f"{' (XLA)' if record['jit_compile'] else ''}"
                f"{' low-memory' if record['low_memory'] else ''}"
                f"{'' if record['mixed_precision'] == 'off' else ' ' + record['mixed_precision']}: "
                f"{record['median_s']:.2f} s/iter median, "
                f"{record['min_s']:.2f} min; trace + first {record['trace_and_first_s']:.1f} s; "
                f"{record['images_s']:.2f} images/s; {record['tflop']:.3f} TFLOP/iter, {record['gflop_s']:.0f} "
                f"GFLOP/s" + (f" ({peak:.0%} of matmul)" if peak else "") + rss)
    if kind == "reference":
        ours = record.get("ours_vs_reference")
        precision = record["mixed_precision"]
        autocast = "" if precision == "off" else f" under torch.autocast {precision}"
        return (f"PyTorch reference (torch {record['torch']}) {record['size']}x{record['size']} {record['netG']} "
                f"batch {record['batch_size']}{autocast}: {record['median_s']:.2f} s/iter median, "
                f"{record['min_s']:.2f} min"
                + (f"; ours takes {ours:.2f}x its time" if ours else "")
                + f"; its generator inference at {record['inference_size']}x{record['inference_size']}: "
                f"{record['inference_median_s']:.3f} s" + rss)
    if kind == "pipeline":
        ratio = record.get("x_training")
        return (f"input pipeline ({record['dataset']}): {record['images_s']:.0f} images/s"
                + (f", {ratio:.0f}x what training consumes" if ratio else "") + rss)
    if kind == "export":
        tflite = sum(runtime.startswith("tflite_") for runtime in INFERENCE)
        return f"export (SavedModel + {tflite} TFLite): {record['export_s']:.1f} s"
    return (f"inference {record['size']}x{record['size']} {record['runtime']}: {record['median_s']:.3f} s "
            f"median, {record['min_s']:.3f} min" + rss)


def run(options: BenchOptions, emit) -> list[dict]:
    sections = [s for s in options.only.split(",") if s] or list(DEFAULT_SECTIONS)
    records, matmul, training_images_s, ours = [], None, None, {}
    tag = {"size": options.size, "netG": options.netG, "ngf": options.ngf, "jit_compile": options.jit_compile,
           "low_memory": options.low_memory, "mixed_precision": options.mixed_precision}

    def add(record):
        records.append(record)
        emit(record)

    if "machine" in sections:
        add(spawn("machine", options))
        matmul = records[-1].get("matmul_gflop_s")
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
            add(exported)
            for runtime in INFERENCE:
                if "folder" not in exported and runtime != "keras":
                    continue
                add({**spawn(runtime, options, folder=exported.get("folder", tmp)), "size": options.infer_size})
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Time training, the input pipeline and inference.")
    add_dataclass_options(parser, BenchOptions)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        spec = json.loads(args.worker)
        try:
            result = run_worker(spec)
        except (ImportError, ValueError) as e:  # PyTorch missing, a network the reference timing lacks
            result = {"bench": spec["kind"], "error": first_line(e)}
        print(RESULT + json.dumps(result), flush=True)
        return 0
    options = BenchOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(BenchOptions)})
    unknown = [s for s in options.only.split(",") if s and s not in SECTIONS]
    if unknown:
        parser.error(f"--only: {', '.join(unknown)} is not one of {', '.join(SECTIONS)}")
    for name in ("size", "iters", "ngf", "infer_size"):
        if getattr(options, name) < 1:
            parser.error(f"--{name}: must be at least 1")
    try:
        [int(b) for b in options.batch_sizes.split(",")]
    except ValueError:
        parser.error(f"--batch_sizes: {options.batch_sizes!r} is not a comma-separated list of integers")
    emit = (lambda r: print(json.dumps(r), flush=True)) if options.json else (lambda r: print(describe(r), flush=True))
    try:
        records = run(options, emit)
    except OSError as e:
        fail(PROG, first_line(e))
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
