"""The measurements of python -m tf_cyclegan.bench, each run in a worker process of its own (so that the peak
resident memory it reports is its own)."""

from __future__ import annotations

import os
import resource
import statistics
import time

from tf_cyclegan.bench.options import INFERENCE, BenchOptions


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def vm_hwm_mib(pid: int | str = "self") -> int:
    """A process's peak resident memory from /proc (VmHWM). Unlike getrusage's ru_maxrss, which Linux keeps
    across exec, it does not include the peak of the process that started it, or reads another process."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


def timings(fn, iters: int) -> dict:
    """Seconds of each call of fn after one warm-up call."""
    fn()
    times = []
    for _ in range(iters):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return {"median_s": statistics.median(times), "mean_s": statistics.fmean(times), "min_s": min(times),
            "iters": iters}


def count_flops(concrete_function) -> int:
    """Floating-point operations of one call, counted op by op from the traced graph with the statistics TF's
    profiler uses (convolutions and their two gradients, matmuls, element-wise ops, reductions), over the ops a
    call runs: those its outputs and its stateful ops (the variable updates) depend on. The traced graph also
    holds ops that nothing uses, which grappler drops before the graph runs: each gradient call of a
    persistent tape traces the whole backward pass from its loss, and only the gradients asked for are used
    (CUT's three optimizers would count G's backward pass three times)."""
    from tensorflow.python.framework import ops

    graph = concrete_function.graph
    run, stack = set(), [t.op for t in graph.outputs] + list(graph.control_outputs)
    while stack:
        op = stack.pop()
        if op.name in run:
            continue
        run.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    total = 0
    for op in graph.get_operations():
        if op.name not in run:
            continue
        try:
            total += ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
        except ValueError:  # a shape not known at trace time: the profiler skips the op too
            pass
    return int(total)


# -- the measurements, each run in a worker process --------------------------------------------------
def matmul_speeds(iters: int, n: int = 2048) -> dict[str, float]:
    """GFLOP/s of an n x n fp32 matmul in each library at hand (TensorFlow, NumPy's BLAS, PyTorch when it is
    installed): they differ by up to 2x on one CPU, and the best of them is what the machine can do."""
    import numpy as np
    import tensorflow as tf

    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.matmul(a, b))
    runs = {"tensorflow": lambda: matmul().numpy()}
    a_np, b_np = np.asarray(a), np.asarray(b)
    runs["numpy"] = lambda: a_np @ b_np
    try:
        import torch

        a_t, b_t = torch.from_numpy(a_np), torch.from_numpy(b_np)
        runs["torch"] = lambda: torch.mm(a_t, b_t)
    except ImportError:
        pass
    return {name: 2 * n**3 / timings(run, iters)["min_s"] / 1e9 for name, run in runs.items()}


def cpu_description() -> tuple[str, str]:
    """(the CPU's model name, its widest vector extensions: AMX, AVX-512, AVX2 or other)."""
    import platform

    from tf_cyclegan.training.distribute import cpu_flags

    cpu, flags = platform.processor(), cpu_flags()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), cpu)
    simd = [name for flag, name in (("amx_bf16", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in flags]
    return cpu, " + ".join(simd) or "no AVX2"


def measure_machine(options: BenchOptions) -> dict:
    """The CPU and its fp32 matmul speed: the ceiling the convolutions can hope to reach."""
    import tensorflow as tf

    speeds = matmul_speeds(max(options.iters, 5))
    cpu, simd = cpu_description()
    return {"cpu": cpu, "simd": simd, "cores": os.cpu_count(), "tensorflow": tf.__version__,
            "matmul_gflop_s": speeds, "best_matmul_gflop_s": max(speeds.values())}


def bench_config(options: BenchOptions, batch_size: int = 1):
    """The run config of what is timed: the model's defaults (Config.for_model: pix2pix's are batch norm,
    dropout, vanilla GAN, no pool, lambda_L1 100; CUT's and FastCUT's their PatchNCE settings, anti-aliasing,
    no pool) with the bench's networks and sizes."""
    from tf_cyclegan.core.config import Config

    return Config.for_model(options.model, netG=options.netG, ngf=options.ngf, ndf=options.ndf or options.ngf,
                            crop_size=options.size, load_size=options.size, batch_size=batch_size,
                            jit_compile=options.jit_compile, low_memory=options.low_memory,
                            mixed_precision=options.mixed_precision)


def measure_train(options: BenchOptions, batch_size: int) -> dict:
    import tensorflow as tf

    from tf_cyclegan.models import model_class
    from tf_cyclegan.models.networks.costs import generator_costs

    tf.config.optimizer.set_experimental_options({"remapping": False})  # as train() does
    model = model_class(options.model)(bench_config(options, batch_size), steps_per_epoch=10**6,
                                       image_shape=(options.size, options.size))
    shape = [batch_size, options.size, options.size, 3]
    # CycleGAN, CUT, FastCUT: an X and a Y image; pix2pix: an input and its paired truth.
    real_x, real_y = tf.random.uniform(shape, -1, 1, seed=1), tf.random.uniform(shape, -1, 1, seed=2)

    def step():  # to the end: every log fetched
        return {name: value.numpy() for name, value in model.train_step(real_x, real_y).items()}

    started = time.perf_counter()
    step()
    trace_s = time.perf_counter() - started
    flops = count_flops(model.train_step.get_concrete_function(real_x, real_y))
    timing = timings(step, options.iters)
    costs = generator_costs(next(iter(model.generators.values())), options.size, options.size)
    return {"batch_size": batch_size, "trace_and_first_s": trace_s, **timing, "steps_s": 1 / timing["median_s"],
            "generator_macs": costs["macs"], "generator_parameters": costs["parameters"],
            "images_s": 2 * batch_size / timing["median_s"],  # two images per batch element
            "tflop": flops / 1e12, "gflop_s": flops / timing["median_s"] / 1e9}


def measure_reference(options: BenchOptions, batch_size: int) -> dict:
    """The same iteration in the reference's PyTorch code, with as many threads as cores."""
    from tf_cyclegan.bench.options import REFERENCE_MODELS
    from tf_cyclegan.core.catalog import GENERATOR_FAMILIES, downsamplings, resnet_blocks

    if options.model not in REFERENCE_MODELS:  # cli.run skips them with a note
        raise ValueError(f"there is no PyTorch reference timing of {options.model}, only of "
                         f"{' and '.join(REFERENCE_MODELS)}")

    blocks = resnet_blocks(options.netG)
    unet = GENERATOR_FAMILIES["unet"].pattern.match(options.netG)
    if options.model == "cycle_gan" and not blocks:
        raise ValueError(f"the reference timing covers the ResNet generators, not {options.netG}")
    if options.model == "pix2pix" and not (blocks or unet):
        raise ValueError(f"the reference timing covers the ResNet and U-Net generators, not {options.netG}")
    import torch

    from tf_cyclegan.bench import torch_reference as ref

    torch.set_num_threads(os.cpu_count() or 1)
    if options.model == "pix2pix":
        downs = downsamplings(options.netG) if unet else 8
        times = ref.time_reference_pix2pix_step(options.size, batch_size, options.iters, downs, blocks, options.ngf,
                                                options.mixed_precision)
        G = ref.pix2pix_generator(downs, blocks, options.ngf)
        inference = ref.time_reference_inference(options.infer_size, options.iters, G=G)
    else:
        times = ref.time_reference_step(options.size, batch_size, options.iters, blocks, options.ngf,
                                        options.mixed_precision)
        inference = ref.time_reference_inference(options.infer_size, options.iters, blocks, options.ngf)
    median = statistics.median(times)
    return {"batch_size": batch_size, "median_s": median, "min_s": min(times), "iters": options.iters,
            "images_s": 2 * batch_size / median, "torch": torch.__version__,
            "inference_size": options.infer_size, "inference_median_s": statistics.median(inference)}


def measure_pipeline(options: BenchOptions) -> dict:
    """Decode, resize, crop and flip alone, as fast as tf.data delivers them."""
    from tf_cyclegan.core.config import Config
    from tf_cyclegan.data.pipeline import Unpaired
    from tf_cyclegan.data.sources import load_domains

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


def bench_generator(options: BenchOptions):
    """The model's generator (random weights: speed does not depend on them), with its norm and dropout."""
    from tf_cyclegan.models.networks import build_generator, generator_options

    return build_generator(**generator_options(bench_config(options)), name="G")


def onnx_missing() -> str | None:
    """Why the ONNX row cannot be timed here (its packages are an extra), or None when it can."""
    import importlib.util

    from tf_cyclegan.core.extras import install_hint

    absent = [name for name in ("tf2onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    return f"{' and '.join(absent)} not installed; {install_hint('onnx')}" if absent else None


def export_for_inference(options: BenchOptions, folder: str) -> dict:
    """The model's generator as SavedModel, TFLite and, when its packages are installed, ONNX."""
    from pathlib import Path

    import numpy as np

    from tf_cyclegan.core.pixels import MAX_EXPORT_PIXELS
    from tf_cyclegan.exporting.generator import export_generator
    from tf_cyclegan.exporting.tflite import TFLITE_VARIANTS
    from tf_cyclegan.models.networks.costs import generator_costs

    G = bench_generator(options)
    rng = np.random.default_rng(0)

    def calibration():  # random images: the speed of int8 does not depend on its ranges
        for _ in range(4):
            yield {"images": rng.integers(0, 256, (1, options.infer_size, options.infer_size, 3), np.uint8)}

    missing = onnx_missing()
    started = time.perf_counter()
    version = export_generator(G, Path(folder), "a2b", "A", "B", "random weights", None, MAX_EXPORT_PIXELS,
                               TFLITE_VARIANTS + ("int8_selective",), calibration, onnx=missing is None)
    costs = generator_costs(G, options.infer_size, options.infer_size)
    sizes = {file.name: file.stat().st_size for file in sorted(version.glob("*.tflite"))}
    return {"export_s": time.perf_counter() - started, "folder": str(version), "onnx": missing is None,
            "generator_macs": costs["macs"], "generator_parameters": costs["parameters"],
            "infer_size": options.infer_size, "tflite_bytes": sizes, **({"onnx_missing": missing} if missing else {})}


def measure_inference(options: BenchOptions, runtime: str, folder: str) -> dict:
    """One generator call at infer_size in a runtime: Keras, or the export's SavedModel, a TFLite file or the
    ONNX file, opened as translate and evaluate open them."""
    import numpy as np

    if runtime == "keras":
        from tf_cyclegan.runtime.translators import keras_translator

        translate = keras_translator(bench_generator(options))
    else:
        from tf_cyclegan.runtime.opening import open_model

        variant = runtime if runtime in ("saved_model", "onnx") else runtime.removeprefix("tflite_")
        translate = open_model(folder, variant=variant).direction("a2b").translate
    image = np.random.default_rng(0).integers(0, 256, (1, options.infer_size, options.infer_size, 3), np.uint8)
    return {"runtime": runtime, **timings(lambda: translate(image), options.iters)}


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


