"""The benchmark command: FLOPs counted from graphs, and one tiny end-to-end run of every section."""

import json
import os
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
        return tape.gradient(y, x)

    # The input gradient is a convolution of the same size.
    assert count_flops(conv_and_gradients.get_concrete_function()) >= 2 * count_flops(conv.get_concrete_function())


@pytest.mark.slow
def test_bench_runs_every_section_and_prints_json_lines(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = ["--size", "32", "--ngf", "8", "--netG", "resnet_1blocks", "--iters", "2", "--infer_size", "24",
            "--batch_sizes", "1,2", "--json", "--only", "machine,train,reference,pipeline,inference"]
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", *args], capture_output=True, text=True,
                            env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
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
    runtimes = {r["runtime"]: r for r in by_kind["inference"]}
    assert set(runtimes) == {"keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
                             "tflite_int8_selective"}
    assert all(r["median_s"] > 0 and r["size"] == 24 and r["peak_rss_mib"] > 0 for r in runtimes.values())


@pytest.mark.slow
def test_bench_flags_are_checked_before_anything_runs():
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.bench", "--only", "train,gpu"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "--only: gpu is not one of machine, train, reference, pipeline, inference" in result.stderr


def test_the_reference_timing_without_pytorch_says_what_to_install(monkeypatch, capsys):
    from tf_cyclegan.bench.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as without the extra
    with pytest.raises(SystemExit) as info:
        main(["--only", "reference"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 1 and len(err) == 1
    assert "needs PyTorch" in err[0] and "pip install 'tf_cyclegan[torch]'" in err[0]
