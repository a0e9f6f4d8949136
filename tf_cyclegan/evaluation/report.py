"""Evaluating a model: its test images translated (both ways and back for CycleGAN; the one way for pix2pix
and CUT), measured, and written as DIR/metrics.json and a results page (python -m tf_cyclegan.evaluate,
tf_cyclegan.evaluate(EvaluateOptions(...))).

Measures per direction: cycle-reconstruction L1, PSNR and SSIM (models with both directions); on paired
test data (pix2pix's, and the embedded dataset's: testA[i] and testB[i] are the same scene) PSNR and SSIM
of the translation against the truth next to the identity baseline (input against truth); FID and KID
when InceptionV3's weights are on disk.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

from tf_cyclegan.core.errors import EvaluateError, first_line
from tf_cyclegan.core.files import atomic_write
from tf_cyclegan.data.sources import is_paired_dataset
from tf_cyclegan.evaluation import inception
from tf_cyclegan.evaluation.measures import measure, summary_lines
from tf_cyclegan.evaluation.options import EvaluateOptions
from tf_cyclegan.evaluation.page import write_page
from tf_cyclegan.evaluation.test_data import load_test_images, load_test_pairs
from tf_cyclegan.models import trains_on_pairs
from tf_cyclegan.runtime.opening import open_model


def evaluate(options: EvaluateOptions, log=print) -> dict:
    """Measure, write DIR/metrics.json and DIR/index.html; returns the report (what metrics.json holds)."""
    started = time.perf_counter()
    output = Path(options.output)
    opened = open_model(options.model, "eval" if options.eval else None, options.variant, options.checkpoint)
    test_a, test_b, paired, description, size = test_data(options, opened, log)
    log(f"Evaluating {opened.description} on {len(test_a)} + {len(test_b)} test images of {description} at "
        f"{size}x{size}" + (" (paired: also against the truth)" if paired else ""))
    features, fid_note = _features(options, min(len(test_a), len(test_b)))
    if fid_note:
        log(fid_note)
    results, images = measure(opened.translators.get("a2b"), opened.translators.get("b2a"), test_a, test_b,
                              paired, features)
    report = {"model": opened.description, "dataset": description, "size": size, "paired": paired,
              "domains": opened.names, **results,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              **({"fid_note": fid_note} if fid_note else {})}
    try:
        write_page(output, report, images)
        atomic_write(output / "metrics.json", json.dumps(report, indent=2))
    except OSError as e:
        raise EvaluateError(f"cannot write to {output}: {e.strerror or e}") from None
    for line in summary_lines(report):
        log(line)
    log(f"Wrote {output / 'metrics.json'} and {output / 'index.html'} in {time.perf_counter() - started:.1f} s")
    return report


def test_data(options: EvaluateOptions, opened, log):
    """(test_a, test_b, paired, description, size): the model's own dataset and size unless the options
    name others; pairs for a model trained on pairs or an aligned dataset."""
    dataset = options.dataset or opened.training.get("dataset")
    if not dataset:
        raise EvaluateError(f"--model {options.model} does not say what it was trained on: pass --dataset")
    size = options.size or opened.training.get("crop_size")
    if not size:
        raise EvaluateError(f"--model {options.model} does not say its training size: pass --size")
    if size < 11:
        raise EvaluateError(f"--size {size}: SSIM needs at least 11 pixels a side; pass a larger --size")
    if trains_on_pairs(opened.training) or is_paired_dataset(dataset):
        found = load_test_pairs(dataset, size, options.num_test, opened.training.get("paired", False), log)
    else:
        data_dir = options.data_dir or opened.training.get("data_dir")
        found = load_test_images(dataset, data_dir, size, options.num_test, log)
    test_a, test_b, paired, description = found
    return test_a, test_b, paired or options.paired, description, size


def _features(options: EvaluateOptions, images: int):
    """(InceptionV3's features for FID and KID, or None; the line that says why they are skipped, or "")."""
    if options.no_fid:
        note = "FID/KID skipped (--no_fid)"
    elif images < 2:
        note = "FID/KID skipped: they need at least 2 test images per domain"
    else:
        weights, note = inception.inception_weights(options.inception_weights)
        if weights is not None:
            try:
                return inception.InceptionFeatures(weights), ""
            except Exception as e:  # Keras raises many types for a wrong or damaged weights file
                raise EvaluateError(f"--inception_weights {weights}: cannot load InceptionV3 weights from it "
                                    f"({first_line(e)}); it must be Keras' {inception.INCEPTION_FILE}") from None
    return None, note
