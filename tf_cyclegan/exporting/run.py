"""Exporting a training run: every generator of its newest readable checkpoint (or ckpt-N) as the next
version of EXPORT/<direction>/, then EXPORT/models.config for TF Serving (python -m tf_cyclegan.export,
tf_cyclegan.export(ExportOptions(...)))."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from tf_cyclegan.core.directions import source_target
from tf_cyclegan.data.pipeline import first_pairs
from tf_cyclegan.data.sources import load_domains, load_pairs
from tf_cyclegan.exporting.generator import export_generator
from tf_cyclegan.exporting.onnx import onnx_converter
from tf_cyclegan.exporting.options import ExportOptions
from tf_cyclegan.exporting.serving import write_models_config
from tf_cyclegan.exporting.tflite import TFLITE_VARIANTS
from tf_cyclegan.models import trains_on_pairs
from tf_cyclegan.runtime.opening import load_generators


def representative_images(config, n: int = 16):
    """Calibration data for full-integer int8: training images of the run's dataset (for a model trained
    on pairs, the inputs of its pairs)."""
    if trains_on_pairs(config):
        pairs = load_pairs(config.dataset, config.paired).train.checked(config.max_image_pixels)[0]
        inputs = first_pairs(pairs, n, config.crop_size)[0 if config.direction == "AtoB" else 1]
        return lambda: ({"images": image[None]} for image in inputs)
    domains = load_domains(config.dataset, config.data_dir)

    def gen():
        for images in (domains.train_a, domains.train_b):
            for i in range(min(n // 2, len(images))):
                yield {"images": images.load(i, config.crop_size)[None]}

    return gen


def export_run(options: ExportOptions, log=print) -> dict[str, Path]:
    """Export every generator of the run, then name the folder's models for TF Serving; returns {direction:
    version folder}."""
    started = time.perf_counter()
    if options.onnx:
        onnx_converter()  # a missing package fails now, not after the SavedModel and TFLite files
    config, generators, domain_names, checkpoint = load_generators(options.run, options.checkpoint, log)
    ways = ", ".join(" -> ".join(source_target(domain_names, d)) for d in generators)
    log(f"Exporting {checkpoint} ({ways}) to {options.output}")
    extra = (("int8_full",) if options.full_int8 else ()) + (("int8_selective",) if options.int8_selective else ())
    variants = () if options.no_tflite else TFLITE_VARIANTS + extra
    representative = representative_images(config) if extra else None
    mode = "eval" if options.eval else "train"
    about = {"model": config.model, "model_directions": list(generators)}
    written = {}
    for direction, generator in generators.items():
        source, target = source_target(domain_names, direction)
        written[direction] = export_generator(
            generator, Path(options.output) / direction, direction, source, target, os.path.abspath(checkpoint),
            dataclasses.asdict(config), options.max_pixels, variants, representative, mode, about, options.onnx,
            options.keras)
        log(f"  {direction} ({source} -> {target}, {mode} mode): {written[direction]}")
    log(f"  TF Serving config: {write_models_config(options.output)}")
    log(f"Done in {time.perf_counter() - started:.1f} s")
    return written
