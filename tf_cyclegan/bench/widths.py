"""The table of a distillation sweep (distill --ngf 16,24,32): for each student width its generator's MACs
and parameters, its TFLite float32 latency on this machine, and its quality on the dataset's test images
(evaluate's measures, and its PSNR to the teacher's translation), so that a user can pick a point."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from tf_cyclegan.core.files import atomic_write

SIZE = 256  # the side at which MACs and latency are given, as GAN Compression gives them
COLUMNS = ("ngf", "direction", "g_macs", "m_parameters", "tflite_ms", "truth_psnr", "teacher_psnr")


def tflite_latency(generator, size: int = SIZE, iters: int = 5) -> float:
    """Median seconds of one size x size image through the generator's TFLite float32 file (XNNPACK, as
    many threads as cores)."""
    from tf_cyclegan.exporting.tflite import tflite_models
    from tf_cyclegan.runtime.translators import tflite_translator

    from tf_cyclegan.bench.workers import timings

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "student.tflite"
        file.write_bytes(tflite_models(generator, ("float32",))["float32"])
        translate = tflite_translator(file)
        image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), np.uint8)
        return timings(lambda: translate(image), iters)["median_s"]


def width_rows(width: int, run: Path, teachers: dict, num_test: int = 16) -> list[dict]:
    """One row per direction of a student run; `teachers`: {direction: the teacher's batch translator}."""
    from tf_cyclegan.evaluation.measures import measure, psnr
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import test_data
    from tf_cyclegan.models.networks.costs import generator_costs
    from tf_cyclegan.models.restoring import load_generators
    from tf_cyclegan.runtime.opening import open_model

    generators = load_generators(run, log=lambda line: None)[1]
    opened = open_model(run)
    test_a, test_b, paired, _, _ = test_data(EvaluateOptions(model=str(run), num_test=num_test), opened,
                                             log=lambda line: None)
    results, _ = measure(opened.translators.get("a2b"), opened.translators.get("b2a"), test_a, test_b, paired)
    rows = []
    for direction, generator in generators.items():
        source = test_a if direction == "a2b" else test_b
        student, teacher = opened.translators[direction](source), teachers[direction](source)
        costs = generator_costs(generator, SIZE, SIZE)
        rows.append({"ngf": width, "direction": direction, "g_macs": round(costs["macs"] / 1e9, 3),
                     "m_parameters": round(costs["parameters"] / 1e6, 3),
                     "tflite_ms": round(1000 * tflite_latency(generator), 1),
                     "truth_psnr": round(results[direction]["truth_psnr"], 2) if paired else "",
                     "teacher_psnr": round(float(np.mean(psnr(student, teacher))), 2)})
    return rows


def write_width_table(runs: dict[int, Path], output: Path, log=print) -> Path:
    """OUTPUT/widths.tsv from the student runs {width: run folder} of one teacher; the table is also logged."""
    from tf_cyclegan.core.layout import RunFolder
    from tf_cyclegan.models.teacher import load_teacher, teacher_facts
    from tf_cyclegan.runtime.translators import keras_translator

    config = RunFolder(next(iter(runs.values()))).read_config()
    teachers = {direction: keras_translator(generator) for direction, generator in
                load_teacher(teacher_facts(config.teacher), config.teacher_mode, log=lambda line: None).items()}
    rows = [row for width, run in sorted(runs.items()) for row in width_rows(width, run, teachers)]
    text = "\t".join(COLUMNS) + "\n" + "".join("\t".join(str(row[c]) for c in COLUMNS) + "\n" for row in rows)
    table = output / "widths.tsv"
    atomic_write(table, text)
    log(f"Students by width (MACs and TFLite float32 latency at {SIZE}x{SIZE}; PSNR in dB on the test images):")
    for line in text.splitlines():
        log("  " + line.replace("\t", "  "))
    log(f"Wrote {table}")
    return table
