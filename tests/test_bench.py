"""The benchmark command: FLOPs counted from graphs, its options, the PyTorch reference's pix2pix step, several
models timed in one command against CycleGAN, the inference section's ONNX row (timed, or a note without the
onnx extra), and one tiny end-to-end run of every section (CycleGAN), of the train and reference sections
(pix2pix) and of the train section of CUT, FastCUT and CycleGAN together."""

import json
import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

from tf_cyclegan.bench.workers import count_flops


def test_flops_are_counted_from_the_graph():
    kernel = tf.random.normal([3, 3, 5, 7])

    @tf.function(input_signature=[tf.TensorSpec([2, 16, 12, 5])])
    def conv(x):
        return tf.nn.conv2d(x, kernel, strides=1, padding="SAME")

    # 2 operations (multiply, add) per kernel tap, per output value.
    assert count_flops(conv.get_concrete_function()) == 2 * (2 * 16 * 12 * 7) * (3 * 3 * 5)

    @tf.function(input_signature=[tf.TensorSpec([2, 16, 12, 5])])
    def conv_and_gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
        return y, tape.gradient(y, x)

    # The input gradient is a convolution of the same size.
    assert count_flops(conv_and_gradients.get_concrete_function()) >= 2 * count_flops(conv.get_concrete_function())

    @tf.function(input_signature=[tf.TensorSpec([2, 16, 12, 5])])
    def conv_and_ops_nothing_uses(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = tf.nn.conv2d(x, kernel, strides=1, padding="SAME")
            unused = tf.nn.conv2d(x, tf.random.normal([3, 3, 5, 64]), strides=1, padding="SAME")
        tape.gradient(unused, x)  # traced, never run: grappler drops what no output or update depends on
        return y

    # Only what a call runs is counted: not the unused convolution, nor the gradient no one asks for.
    assert count_flops(conv_and_ops_nothing_uses.get_concrete_function()) == count_flops(conv.get_concrete_function())
    total = tf.Variable(0.0)

    @tf.function(input_signature=[tf.TensorSpec([2, 16, 12, 5])])
    def update(x):  # no output: the variable update is what runs, and the convolution it needs
        total.assign_add(tf.reduce_sum(tf.nn.conv2d(x, kernel, strides=1, padding="SAME")))

    assert count_flops(update.get_concrete_function()) >= count_flops(conv.get_concrete_function())


@pytest.mark.slow
def test_bench_runs_every_section_and_prints_json_lines(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = ["--size", "32", "--ngf", "8", "--netG", "resnet_1blocks", "--iters", "2", "--infer_size", "24",
            "--batch_sizes", "1,2", "--json", "--only", "machine,train,reference,pipeline,inference"]
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", *args], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(record["model"] == "cycle_gan" for record in records)  # the default
    by_kind = {}
    for record in records:
        by_kind.setdefault(record["bench"], []).append(record)
    machine = by_kind["machine"][0]
    assert set(machine["matmul_gflop_s"]) == {"tensorflow", "numpy", "torch"} and machine["cores"] >= 1
    assert all(speed > 1 for speed in machine["matmul_gflop_s"].values())
    one, two = by_kind["train"]
    assert (one["batch_size"], two["batch_size"]) == (1, 2)
    for record in (one, two):
        assert 0 < record["min_s"] <= record["median_s"] < record["trace_and_first_s"]
        assert 0 < record["of_matmul_peak"] < 2  # against the best matmul of the machine record
        assert record["peak_rss_mib"] > 100
    assert two["tflop"] == pytest.approx(2 * one["tflop"], rel=0.02)  # FLOPs follow the batch
    for ours, reference in zip((one, two), by_kind["reference"]):  # the PyTorch reference, same sizes
        assert reference["batch_size"] == ours["batch_size"] and reference["median_s"] > 0
        assert reference["inference_size"] == 24 and reference["inference_median_s"] > 0
    pipeline = by_kind["pipeline"][0]
    assert pipeline["images_s"] > 0 and pipeline["x_training"] > 0
    assert by_kind["export"][0]["export_s"] > 0
    # Each generator's MACs and parameters next to its timings: at the train size and at the inference size.
    from tf_cyclegan.models.networks import build_generator
    from tf_cyclegan.models.networks.costs import generator_costs

    G = build_generator("resnet_1blocks", ngf=8)
    for record, size in ((one, 32), (two, 32), (by_kind["export"][0], 24)):
        costs = generator_costs(G, size, size)
        assert (record["generator_macs"], record["generator_parameters"]) == (costs["macs"], costs["parameters"])
    assert set(by_kind["export"][0]["tflite_bytes"]) == {f"a2b_{v}.tflite" for v in (
        "float32", "float16", "int8_dynamic", "int8_selective")}
    runtimes = {r["runtime"]: r for r in by_kind["inference"]}
    assert set(runtimes) == {"keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
                             "tflite_int8_selective", "onnx"}  # onnx: the test extra installs tf2onnx, onnxruntime
    assert by_kind["export"][0]["onnx"] is True
    assert all(r["median_s"] > 0 and r["size"] == 24 and r["peak_rss_mib"] > 0 for r in runtimes.values())


@pytest.mark.slow
def test_bench_flags_are_checked_before_anything_runs():
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", "--only", "train,gpu"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "--only: gpu is not one of machine, train, reference, pipeline, inference" in result.stderr


def test_the_reference_timing_without_pytorch_says_what_to_install(monkeypatch, capsys):
    from tf_cyclegan.bench.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as without the extra
    with pytest.raises(SystemExit) as info:
        main(["--only", "reference"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 1 and len(err) == 1
    assert "needs PyTorch" in err[0] and "pip install 'tf_cyclegan[torch]'" in err[0]


def test_bench_options_name_the_model_and_its_generator(capsys):
    from tf_cyclegan.bench.cli import describe, main
    from tf_cyclegan.bench.options import BenchOptions

    assert BenchOptions().netG == "resnet_9blocks" and BenchOptions(model="pix2pix").netG == "unet_256"
    assert BenchOptions(model="pix2pix", netG="unet_128").netG == "unet_128"
    assert BenchOptions(model="cut").netG == "resnet_9blocks" and BenchOptions(model="fastcut").netG == "resnet_9blocks"
    for argv, message in ((["--model", "pix2pixHD"], "--model: 'pix2pixHD' is not one of cycle_gan, pix2pix, cut, "
                                                     "fastcut"),
                          (["--netG", "unet_64"], "--netG: 'unet_64' is not one of"),
                          (["--model", "pix2pix", "--size", "128"],
                           "--size: unet_256 needs a multiple of 256, got 128"),
                          (["--model", "pix2pix", "--netG", "unet_128", "--size", "128", "--infer_size", "200"],
                           "--infer_size: unet_128 needs a multiple of 128, got 200")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err, argv
    train = {"bench": "train", "model": "pix2pix", "size": 256, "netG": "unet_256", "batch_size": 1,
             "jit_compile": False, "low_memory": False, "mixed_precision": "off", "median_s": 1.0, "min_s": 0.9,
             "trace_and_first_s": 9.0, "images_s": 2.0, "tflop": 0.1, "gflop_s": 100.0}
    assert describe(train).startswith("train pix2pix 256x256 unet_256 batch 1: 1.00 s/iter median")
    reference = {**train, "bench": "reference", "torch": "2.13.0", "ours_vs_reference": 0.9, "inference_size": 256,
                 "inference_median_s": 0.1}
    assert describe(reference).startswith("PyTorch reference pix2pix (torch 2.13.0) 256x256 unet_256 batch 1: ")
    assert "ours takes 0.90x its time" in describe(reference)
    assert describe({"bench": "train", "model": "pix2pix", "error": "exit 1"}) == "train pix2pix: failed (exit 1)"


def test_the_reference_pix2pix_networks_have_the_reference_sizes():
    torch = pytest.importorskip("torch")
    from tf_cyclegan.bench.torch_reference import BATCH, NLayerDiscriminator, ReferencePix2Pix, pix2pix_generator

    def count(net):
        return sum(p.numel() for p in net.parameters())

    G = pix2pix_generator(num_downs=8, ngf=64)  # unet_256, batch norm, dropout
    assert count(G) == 54_413_955
    assert count(NLayerDiscriminator(64, BATCH, input_nc=6)) == 2_768_705
    model = ReferencePix2Pix(G)
    assert count(model.D) == 2_768_705 and isinstance(model.D.model[3], torch.nn.BatchNorm2d)
    # Dropout in the num_downs - 5 = 3 intermediate 512-channel levels only, after their up-convolution's norm.
    # The levels nest at model.model[1] and then at each level's model[3]: at depth 3, 4 and 5 of 6 (innermost).
    blocks = {name: m for name, m in G.named_modules() if isinstance(m, torch.nn.Sequential)}
    dropped = {name: layers for name, layers in blocks.items() if isinstance(layers[-1], torch.nn.Dropout)}
    assert sorted(name.count(".model.3") for name in dropped) == [3, 4, 5], list(dropped)
    for layers in dropped.values():
        assert layers[-1].p == 0.5 and isinstance(layers[-2], torch.nn.BatchNorm2d) and layers[-2].num_features == 512
    assert sum(isinstance(m, torch.nn.Dropout) for m in G.modules()) == 3


def test_one_reference_pix2pix_step_updates_both_networks():
    torch = pytest.importorskip("torch")
    from tf_cyclegan.bench.torch_reference import ReferencePix2Pix, pix2pix_generator, time_reference_pix2pix_step

    torch.manual_seed(0)
    model = ReferencePix2Pix(pix2pix_generator(num_downs=6, ngf=4), ndf=4)
    before = {net: {k: v.clone() for k, v in getattr(model, net).state_dict().items()} for net in ("G", "D")}
    real_a, real_b = torch.rand(1, 3, 64, 64) * 2 - 1, torch.rand(1, 3, 64, 64) * 2 - 1
    model.step(real_a, real_b)
    for net in ("G", "D"):
        after = getattr(model, net).state_dict()
        weights = [k for k in after if k.endswith("weight")]
        assert all(not torch.equal(before[net][k], after[k]) for k in weights), net  # every layer learnt
        assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert not any(p.requires_grad for p in model.D.parameters())  # frozen for G's step, as the reference leaves it
    # Adam has taken one step on each network: every parameter of G and of D has its moments.
    for optimizer, net in ((model.optimizer_G, model.G), (model.optimizer_D, model.D)):
        assert all(optimizer.state[p]["step"] == 1 for p in net.parameters())
    times = time_reference_pix2pix_step(size=64, batch_size=1, iters=2, num_downs=6, ngf=4)
    assert len(times) == 2 and all(t > 0 for t in times)


@pytest.mark.slow
def test_bench_times_the_pix2pix_step_against_the_reference():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = ["--model", "pix2pix", "--size", "128", "--netG", "unet_128", "--ngf", "4", "--iters", "1",
            "--infer_size", "128", "--batch_sizes", "1", "--json", "--only", "train,reference"]
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", *args], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(record["model"] == "pix2pix" for record in records)
    by_kind = {}
    for record in records:
        by_kind.setdefault(record["bench"], []).append(record)
    [ours], [reference] = by_kind["train"], by_kind["reference"]
    for record in (ours, reference):
        assert (record["netG"], record["size"], record["batch_size"], record["iters"]) == ("unet_128", 128, 1, 1)
    assert 0 < ours["min_s"] <= ours["median_s"] < ours["trace_and_first_s"] and ours["tflop"] > 0
    assert reference["median_s"] > 0 and reference["inference_median_s"] > 0
    assert reference["ours_vs_reference"] == pytest.approx(ours["median_s"] / reference["median_s"])


def test_the_inference_section_times_pix2pix_with_its_generator(monkeypatch):
    """Every worker of pix2pix's inference section gets pix2pix and its U-Net (the export and each runtime
    run the model's own generator; tests/test_roundtrip.py has the U-Net in every format)."""
    from tf_cyclegan.bench import cli
    from tf_cyclegan.bench.options import INFERENCE, BenchOptions

    spawned = []

    def spawn(kind, options, **extra):
        spawned.append((kind, options.model, options.netG, options.infer_size))
        if kind == "export":
            return {"bench": "export", "export_s": 1.0, "folder": "/v/1", "onnx": True}
        return {"bench": "inference", "runtime": kind, "median_s": 0.1, "min_s": 0.1, "peak_rss_mib": 300.0}

    monkeypatch.setattr(cli, "spawn", spawn)
    records = cli.run(BenchOptions(model="pix2pix", netG="unet_128", ngf=4, infer_size=128, only="inference"),
                      lambda record: None)
    assert [kind for kind, *_ in spawned] == ["export", *INFERENCE]
    assert all(tuple(rest) == ("pix2pix", "unet_128", 128) for _, *rest in spawned)
    assert all(r["netG"] == "unet_128" and r["model"] == "pix2pix" for r in records)


def test_bench_times_several_models_and_gives_their_ratios_to_cycle_gan(monkeypatch):
    """One command, several models and sizes: a train line each, then each model's step time and peak RSS over
    CycleGAN's; the reference skips CUT and FastCUT with a note; the pipeline and inference time the first."""
    from tf_cyclegan.bench import cli
    from tf_cyclegan.bench.options import BenchOptions

    step_s = {"cut": 0.5, "fastcut": 0.25, "cycle_gan": 1.0, "pix2pix": 0.8}
    rss = {"cut": 600.0, "fastcut": 500.0, "cycle_gan": 1000.0, "pix2pix": 900.0}
    spawned = []

    def spawn(kind, options, **extra):  # the worker's record, without the worker
        spawned.append((kind, options.model, options.size, options.netG, extra.get("batch_size")))
        if kind == "machine":
            return {"bench": "machine", "cpu": "a CPU", "simd": "AVX2", "cores": 2, "tensorflow": "2",
                    "matmul_gflop_s": {"numpy": 100.0}, "best_matmul_gflop_s": 100.0}
        if kind in ("train", "reference"):
            median = step_s[options.model] * options.size / 32 * extra["batch_size"]
            return {"bench": kind, "batch_size": extra["batch_size"], "median_s": median, "mean_s": median,
                    "min_s": median, "steps_s": 1 / median, "images_s": 2 / median, "trace_and_first_s": 9.0,
                    "tflop": 0.1, "gflop_s": 50.0, "peak_rss_mib": rss[options.model] * options.size / 32,
                    "torch": "2", "inference_size": 24, "inference_median_s": 0.1}
        if kind == "pipeline":
            return {"bench": "pipeline", "dataset": options.dataset, "images_s": 100.0}
        if kind == "export":
            return {"bench": "export", "export_s": 1.0}  # no folder: the Keras runtime alone
        return {"bench": "inference", "runtime": kind, "median_s": 0.1, "min_s": 0.1}

    monkeypatch.setattr(cli, "spawn", spawn)
    monkeypatch.setattr(cli, "_have_torch", lambda: True)
    lines = []
    options = BenchOptions(model="cut,fastcut,cycle_gan,pix2pix", batch_sizes="1,2", ngf=8,
                           only="machine,train,reference,pipeline,inference")
    records = cli.run(options, lambda record: lines.append(cli.describe(record)), sizes=[32, 64])
    assert len(lines) == len(records)
    # Each model with its own generator at each size and batch, the machine once, at the top.
    assert spawned[0][0] == "machine" and [s[0] for s in spawned].count("machine") == 1
    trains = [s[1:] for s in spawned if s[0] == "train"]
    assert trains == [(model, size, netG, batch) for size in (32, 64)
                      for model, netG in (("cut", "resnet_9blocks"), ("fastcut", "resnet_9blocks"),
                                          ("cycle_gan", "resnet_9blocks"), ("pix2pix", "unet_256"))
                      for batch in (1, 2)]
    assert sum(line.startswith("train ") for line in lines) == 16
    ratios = {(r["model"], r["size"], r["batch_size"]): r for r in records if r["bench"] == "ratio"}
    assert set(ratios) == {(model, size, batch) for model in ("cut", "fastcut", "pix2pix") for size in (32, 64)
                           for batch in (1, 2)}
    for (model, _, _), record in ratios.items():
        assert record["step_ratio"] == pytest.approx(step_s[model] / step_s["cycle_gan"])
        assert record["peak_rss_ratio"] == pytest.approx(rss[model] / rss["cycle_gan"])
    assert "cut 64x64 batch 2: 0.50x cycle_gan's step, 0.60x its peak RSS" in lines
    assert "fastcut 32x32 batch 1: 0.25x cycle_gan's step, 0.50x its peak RSS" in lines
    # The ratios of a size follow its train lines.
    assert lines.index("cut 32x32 batch 1: 0.50x cycle_gan's step, 0.60x its peak RSS") \
        < lines.index(next(line for line in lines if line.startswith("train cut 64x64")))
    assert "train cut 32x32 resnet_9blocks batch 1: 0.50 s/iter median, mean 0.50 s, fastest 0.50 s, 2.00 steps/s" \
        in [line.split(";")[0] for line in lines]
    # The PyTorch reference: CycleGAN's and pix2pix's, at every size and batch; a note for CUT's and FastCUT's.
    assert sorted({s[1] for s in spawned if s[0] == "reference"}) == ["cycle_gan", "pix2pix"]
    assert sum(s[0] == "reference" for s in spawned) == 8
    skipped = [line for line in lines if line.startswith("PyTorch reference") and "skipped" in line]
    assert skipped == [f"PyTorch reference {model}: skipped (there is no PyTorch reference timing of {model}, only "
                       "of cycle_gan and pix2pix)" for model in ("cut", "fastcut")]
    references = [r for r in records if r["bench"] == "reference" and "ours_vs_reference" in r]
    assert len(references) == 8 and all(r["ours_vs_reference"] == pytest.approx(1) for r in references)
    # The pipeline and inference: the first model, the first size.
    assert [s[1:3] for s in spawned if s[0] in ("pipeline", "export", "keras")] == [("cut", 32)] * 3
    assert not any("error" in r for r in records)


def test_the_inference_section_times_onnx_or_says_why_not(monkeypatch):
    """An export with an ONNX file: its row is timed like the others; without the extra: a note, no worker."""
    from tf_cyclegan.bench import cli
    from tf_cyclegan.bench.options import INFERENCE, BenchOptions

    missing = "tf2onnx and onnxruntime not installed; pip install 'tf_cyclegan[onnx]'"
    for export in ({"export_s": 1.0, "folder": "/v/1", "onnx": True},
                   {"export_s": 1.0, "folder": "/v/1", "onnx": False, "onnx_missing": missing}):
        spawned = []

        def spawn(kind, options, **extra):
            spawned.append((kind, extra.get("folder")))
            if kind == "export":
                return {"bench": "export", **export}
            return {"bench": "inference", "runtime": kind, "median_s": 0.1, "min_s": 0.1, "peak_rss_mib": 300.0}

        monkeypatch.setattr(cli, "spawn", spawn)
        lines = []
        records = cli.run(BenchOptions(ngf=8, infer_size=24, only="inference"), lambda r: lines.append(cli.describe(r)))
        timed = [kind for kind, folder in spawned[1:] if folder == "/v/1"]
        assert timed == [r for r in INFERENCE if export["onnx"] or r != "onnx"]
        assert [r.get("runtime") for r in records[1:]] == list(INFERENCE) and not any("error" in r for r in records)
        onnx_line = next(line for line in lines if line.startswith("inference cycle_gan resnet_9blocks 24x24 onnx:"))
        if export["onnx"]:
            assert lines[0].startswith("export cycle_gan resnet_9blocks (SavedModel + 4 TFLite + ONNX): 1.0 s")
            assert onnx_line.endswith("onnx: 0.100 s median, fastest 0.100 s, peak RSS 300 MiB")
        else:
            assert lines[0].startswith("export cycle_gan resnet_9blocks (SavedModel + 4 TFLite): 1.0 s")
            assert onnx_line.endswith(f"onnx: skipped ({missing})")


def test_the_export_worker_adds_onnx_when_its_packages_are_there(monkeypatch, tmp_path):
    import tf_cyclegan.exporting.generator
    from tf_cyclegan.bench import workers
    from tf_cyclegan.bench.options import BenchOptions

    asked = []
    monkeypatch.setattr(tf_cyclegan.exporting.generator, "export_generator",  # the arguments, not the files
                        lambda *args, onnx=False, **kwargs: asked.append(onnx) or tmp_path / "1")
    options = BenchOptions(netG="resnet_1blocks", ngf=8, infer_size=24)
    assert workers.onnx_missing() is None  # the test extra has tf2onnx and onnxruntime
    record = workers.export_for_inference(options, str(tmp_path))
    assert asked == [True] and record["onnx"] is True and "onnx_missing" not in record
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as without the extra
    record = workers.export_for_inference(options, str(tmp_path))
    assert asked == [True, False] and record["onnx"] is False
    assert record["onnx_missing"] == "tf2onnx not installed; pip install 'tf_cyclegan[onnx]'"


def test_bench_without_cycle_gan_gives_no_ratios(monkeypatch):
    from tf_cyclegan.bench import cli
    from tf_cyclegan.bench.options import BenchOptions

    monkeypatch.setattr(cli, "spawn", lambda kind, options, **extra: {
        "bench": kind, "batch_size": 1, "median_s": 1.0, "min_s": 1.0, "images_s": 2.0, "trace_and_first_s": 2.0,
        "tflop": 0.1, "gflop_s": 100.0, "peak_rss_mib": 500.0})
    records = cli.run(BenchOptions(model="cut,fastcut", batch_sizes="1", only="train"), lambda record: None)
    assert [r["model"] for r in records] == ["cut", "fastcut"] and all(r["bench"] == "train" for r in records)
    # A failed CycleGAN timing: its line says so, and no ratio is made up.
    monkeypatch.setattr(cli, "spawn", lambda kind, options, **extra: {"bench": kind, "error": "exit 1: boom"}
                        if options.model == "cycle_gan" else {"bench": kind, "batch_size": 1, "median_s": 1.0,
                                                              "min_s": 1.0, "images_s": 2.0, "peak_rss_mib": 5.0})
    records = cli.run(BenchOptions(model="cut,cycle_gan", batch_sizes="1", only="train"), lambda record: None)
    assert [r["bench"] for r in records] == ["train", "train"] and "error" in records[1]


def test_bench_model_and_size_lists_are_checked(capsys):
    from tf_cyclegan.bench.cli import main
    from tf_cyclegan.bench.options import BenchOptions, split_list

    assert split_list("cut, fastcut|cycle_gan,cut") == ["cut", "fastcut", "cycle_gan"]
    assert BenchOptions(model="cut|pix2pix").models == ["cut", "pix2pix"]
    assert BenchOptions(model="cut,pix2pix").for_model("pix2pix").netG == "unet_256"
    assert BenchOptions(model="cut,pix2pix", netG="unet_128").for_model("cut", 64).netG == "unet_128"
    for argv, message in ((["--model", "cut,pix2pixHD"], "--model: 'pix2pixHD' is not one of cycle_gan, pix2pix, "
                                                         "cut, fastcut"),
                          (["--model", "cut|CUT|gan"], "--model: 'CUT', 'gan' is not one of"),
                          (["--model", ","], "--model: ',' is not one of"),
                          (["--model", "cut,cycle_gan", "--netG", "unet_256", "--size", "256"],
                           "--netG: --model cut needs a ResNet generator (resnet_<N>blocks or "
                           "mobile_resnet_<N>blocks), got unet_256"),
                          (["--model", "cut,fastcut", "--size", "128,254"],
                           "--size: resnet_9blocks needs a multiple of 4, got 254"),
                          (["--size", "128,big"], "--size: '128,big' is not a size or a comma-separated list"),
                          (["--model", "cut", "--netG", "resnet_1blocks", "--size", "0"],
                           "--size: must be at least 1")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert info.value.code == 2 and len(errors) == 1, (argv, errors)  # argparse's usage, then one line
        assert errors[0].startswith("python -m tf_cyclegan.bench: error: ") and message in errors[0], argv


@pytest.mark.slow
def test_bench_times_cut_fastcut_and_cycle_gan_in_one_command():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = ["--model", "cut,fastcut,cycle_gan", "--only", "train", "--batch_sizes", "1", "--size", "32", "--ngf", "8",
            "--iters", "1"]
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", *args], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stdout.splitlines()
    number = r"[0-9]+\.[0-9]+"
    trains = [line for line in lines if line.startswith("train ")]
    assert [line.split()[1] for line in trains] == ["cut", "fastcut", "cycle_gan"], lines
    for line in trains:  # each with its own defaults: CUT's and FastCUT's generator is CycleGAN's
        assert re.match(rf"train \w+ 32x32 resnet_9blocks batch 1: {number} s/iter median, mean {number} s, "
                        rf"fastest {number} s, {number} steps/s; .*, peak RSS [0-9]+ MiB$", line), line
    ratios = [line for line in lines if "cycle_gan's step" in line]
    assert len(ratios) == 2 and len(lines) == 5, lines
    for model, line in zip(("cut", "fastcut"), ratios):
        assert re.fullmatch(rf"{model} 32x32 batch 1: {number}x cycle_gan's step, {number}x its peak RSS", line), line
        assert all(float(value) > 0 for value in re.findall(number, line))
