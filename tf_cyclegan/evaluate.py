"""python -m tf_cyclegan.evaluate --model RUN_OR_EXPORT --output DIR [--dataset NAME_OR_PATH]

Translates the test images (both ways and back for CycleGAN; the one way for pix2pix) and writes
DIR/metrics.json, a results page DIR/index.html (input | translation | reconstruction | truth, like the
reference's results page) and DIR/results.png (its first rows in one picture). Measures per direction:
cycle-reconstruction L1, PSNR and SSIM (models with both directions); on paired test data (pix2pix's, and
the embedded dataset's: testA[i] and testB[i] are the same scene) PSNR and SSIM of the translation against
the truth next to the identity baseline (input against truth); FID and KID when InceptionV3's weights are
on disk.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import sys
import time
from pathlib import Path

import numpy as np

from tf_cyclegan import layout
from tf_cyclegan.directions import DIRECTIONS, source_target
from tf_cyclegan.errors import EvaluateError, first_line
from tf_cyclegan.metrics import BatchTranslator, measure, summary_lines

PROG = "python -m tf_cyclegan.evaluate"
VARIANTS = ("saved_model", "float32", "float16", "int8_dynamic", "int8_selective", "int8_full", "onnx")


@dataclasses.dataclass
class EvaluateOptions:
    model: str = dataclasses.field(default="", metadata={"help": "training run folder or export folder"})
    output: str = dataclasses.field(default="", metadata={"help": "folder for metrics.json, index.html, images/"})
    dataset: str = dataclasses.field(default="", metadata={
        "help": "'seasons', a TFDS name or a folder with testA/ testB/ (default: the one the model was trained on)"})
    data_dir: str | None = dataclasses.field(default=None, metadata={"help": "TFDS data directory"})
    variant: str = dataclasses.field(default="saved_model", metadata={
        "help": "export folders: the SavedModel, one of its TFLite files or its ONNX file (export --onnx)",
        "choices": VARIANTS})
    checkpoint: int | None = dataclasses.field(default=None, metadata={
        "help": "run folders: checkpoint step N (ckpt-N); default: the latest"})
    size: int | None = dataclasses.field(default=None, metadata={
        "help": "resize test images to SIZE x SIZE (bicubic; default: the training --crop_size)"})
    num_test: int = dataclasses.field(default=50, metadata={"help": "test images per domain, as the "
                                                            "reference's --num_test"})
    paired: bool = dataclasses.field(default=False, metadata={
        "help": "testA[i] and testB[i] (sorted by name) show the same scene: also measure translations "
                "against them (automatic for 'seasons')"})
    inception_weights: str | None = dataclasses.field(default=None, metadata={
        "help": "InceptionV3 notop weights file for FID/KID (default: the Keras cache, ~/.keras/models)"})
    no_fid: bool = dataclasses.field(default=False, metadata={"help": "skip FID and KID"})
    eval: bool = dataclasses.field(default=False, metadata={
        "help": "run folders: batch norm's running statistics, no dropout (PyTorch's model.eval()) instead of "
                "the reference's test mode (each image's own statistics, dropout on); exports are measured in "
                "the mode they were exported in"})


# -- opening the model and the data ----------------------------------------------------------------
@dataclasses.dataclass
class Opened:
    translators: dict  # {direction: BatchTranslator}: both for CycleGAN, one for pix2pix
    description: str
    training: dict  # the training config (dataset, crop_size, ...), or {} when the export has none
    names: dict  # {"A": source domain name, "B": target domain name}


def open_models(path: str, variant: str = "saved_model", checkpoint: int | None = None,
                mode: str | None = None) -> Opened:
    """Every direction of a run folder (newest readable or given checkpoint; its generators in inference
    `mode`, by default train) or an export folder (newest versions)."""
    from tf_cyclegan import translators
    from tf_cyclegan.inference import inference_generator

    p = Path(path)
    if layout.RunFolder(p).exists():
        if variant != "saved_model":
            raise EvaluateError(f"--variant {variant}: a run folder has no TFLite files; export it first "
                                "(python -m tf_cyclegan.export) and pass the export folder")
        from tf_cyclegan.export import load_generators

        config, generators, names, ckpt = load_generators(p, checkpoint)
        found = {d: translators.keras_translator(inference_generator(g, mode or "train"))
                 for d, g in generators.items()}
        return Opened(found, f"run {p} ({Path(ckpt).name}, {mode or 'train'} mode)", dataclasses.asdict(config), names)
    present = layout.export_directions(p)
    if not present:
        raise EvaluateError(f"--model {path}: not a training run folder (config.json, checkpoints/) or an "
                            "export folder (a2b/ and/or b2a/)")
    if checkpoint is not None:
        raise EvaluateError(f"--checkpoint {checkpoint}: only for training run folders; {path} is an export "
                            "folder (its newest versions are evaluated)")
    versions = {d: layout.latest_version(p / d) for d in present}
    missing = [d for d, v in versions.items() if v is None]
    if missing:
        raise EvaluateError(f"--model {path}: {missing[0]}/ holds no exported version")
    # Without a contract (an export by another tool) there is no training config: --dataset and --size.
    contract = layout.read_contract(versions[present[0]])
    translators.check_mode(contract, mode, f"--model {path}", EvaluateError)
    names = {"A": "A", "B": "B"}
    if contract:
        names = dict(zip(("A", "B") if present[0] == "a2b" else ("B", "A"),
                         (contract.get("source_domain", "?"), contract.get("target_domain", "?"))))
    found = {d: _export_translator(versions[d], d, variant) for d in present}
    what = {"saved_model": "SavedModel", "onnx": "ONNX"}.get(variant, f"TFLite {variant}")
    made = f", {contract['inference_mode']} mode" if "inference_mode" in contract else ""
    return Opened(found, f"export {p} ({what}{made}, versions {'/'.join(v.name for v in versions.values())})",
                  contract.get("training_config") or {}, names)


def _export_translator(version: Path, direction: str, variant: str) -> BatchTranslator:
    from tf_cyclegan import translators

    if variant == "saved_model":
        return translators.saved_model_translator(version)
    if variant == "onnx":
        file = version / layout.onnx_file(direction)
        if not file.is_file():
            raise EvaluateError(f"--variant onnx: {file} does not exist (export with --onnx to write it)")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise EvaluateError(f"--variant onnx: onnxruntime is not installed; {translators.ONNX_INSTALL}") from None
        return translators.onnx_translator(file)
    file = version / layout.tflite_file(direction, variant)
    if not file.is_file():
        raise EvaluateError(f"--variant {variant}: {file} does not exist (export with --int8_selective or "
                            "--full_int8 for those variants)")
    return translators.tflite_translator(file)


def load_test_images(dataset: str, data_dir: str | None, size: int, num_test: int, log=print):
    """(test_a, test_b uint8 [N, size, size, 3], paired, description). Unreadable files are skipped and
    counted; without a test split the first training images stand in (said in the log)."""
    from tf_cyclegan.config import Config
    from tf_cyclegan.data import first_images, load_domains

    domains = load_domains(dataset, data_dir)
    arrays = []
    for test, train in ((domains.test_a, domains.train_a), (domains.test_b, domains.train_b)):
        images = test
        if images is None:
            log(f"note: {domains.description} has no {train.name.replace('train', 'test')} split; using the first "
                f"{min(num_test, len(train))} images of {train.name} (seen in training, so the numbers flatter)")
            images = train
        images, bad = images.capped(num_test).checked(Config.max_image_pixels)  # the training default
        for item, reason in bad:
            log(f"skipped {item}: {reason}")
        if not len(images):
            raise EvaluateError(f"--dataset {dataset}: no readable test image in {images.name}")
        arrays.append(first_images(images, len(images), size))
    return arrays[0], arrays[1], domains.paired, domains.description


def is_paired_dataset(dataset: str) -> bool:
    """pix2pix/NAME, or a folder in the aligned layout (train/, val/ or test/, and no trainA/ or testA/)."""
    root = Path(dataset).expanduser()
    aligned = any((root / split).is_dir() for split in ("train", "val", "test"))
    return dataset.startswith("pix2pix/") or (aligned and not any((root / s).is_dir() for s in ("trainA", "testA")))


def load_test_pairs(dataset: str, size: int, num_test: int, paired_folders: bool = False, log=print):
    """load_test_images for a model trained on pairs (pix2pix): the test pairs of an aligned folder, of
    folders paired by name, of pix2pix/NAME or of the embedded dataset's paired form; the training pairs
    when there is no test split (said in the log)."""
    from tf_cyclegan.config import Config
    from tf_cyclegan.paired import first_pairs, load_pairs

    pairs = load_pairs(dataset, paired_folders, need_train=False)
    images = pairs.test
    if images is None:
        log(f"note: {pairs.description} has no test or val split; using its first {min(num_test, len(pairs.train))} "
            "training pairs (seen in training, so the numbers flatter)")
        images = pairs.train
    images, bad = images.capped(num_test).checked(Config.max_image_pixels)
    for item, reason in bad:
        log(f"skipped {item}: {reason}")
    if not len(images):
        raise EvaluateError(f"--dataset {dataset}: no usable test pair in {images.name}")
    test_a, test_b = first_pairs(images, len(images), size)
    return test_a, test_b, True, pairs.description


# -- writing ---------------------------------------------------------------------------------------
_ROWS = {"cycle_l1": "cycle L1 (|F(G(x)) − x|, [−1, 1] units)", "cycle_psnr": "cycle PSNR (dB)",
         "cycle_ssim": "cycle SSIM", "truth_psnr": "PSNR of the translation against the truth (dB)",
         "identity_psnr": "PSNR of the input against the truth (dB): the identity baseline",
         "psnr_gain": "gain over the identity baseline (dB)", "truth_ssim": "SSIM of the translation against the truth",
         "identity_ssim": "SSIM of the input against the truth", "fid": "FID against real target images",
         "fid_identity": "FID of the inputs themselves (baseline)", "kid": "KID against real target images",
         "kid_std": "KID standard deviation over subsets", "kid_identity": "KID of the inputs themselves"}


def write_page(output: Path, report: dict, images: dict) -> Path:
    """images/<direction>/<i>_<kind>.png, results.png and index.html, each written atomically (the page last)."""
    from tf_cyclegan.fileio import atomic_write
    from tf_cyclegan.samples import save_png

    e = html.escape
    names = report["domains"]
    present = [d for d in DIRECTIONS if d in images]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tf_cyclegan: {e(report['model'])}</title>",
             "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{image-rendering:pixelated;display:block}.im td{border:none;padding:2px;text-align:center;"
             "font-size:small}</style></head><body>",
             f"<h1>{e(report['model'])}</h1><p>{e(report['dataset'])}: {report['size']}×{report['size']} test "
             f"images; evaluated {e(report['created'])}.</p>",
             "<table><tr><th>measure</th>" + "".join(f"<th>{e(' → '.join(source_target(names, d)))}</th>"
                                                     for d in present) + "</tr>"]
    for key, label in _ROWS.items():
        if key in report[present[0]]:
            parts.append(f"<tr><td style='text-align:left'>{e(label)}</td>"
                         + "".join(f"<td>{report[d][key]:.4g}</td>" for d in present) + "</tr>")
    parts.append("</table>")
    if report.get("fid_note"):
        parts.append(f"<p>{e(report['fid_note'])}</p>")
    scale = max(1, 128 // report["size"])  # small images are shown enlarged
    for direction in present:
        src, dst = source_target(names, direction)
        shown = images[direction]
        kinds = [k for k in ("real", "fake", "cycled", "truth") if k in shown]
        headers = {"real": f"input ({src})", "fake": f"translation ({dst})", "cycled": f"reconstruction ({src})",
                   "truth": f"truth ({dst})"}
        parts.append(f"<h2>{e(src)} → {e(dst)}</h2><table class='im'><tr>"
                     + "".join(f"<th>{e(headers[k])}</th>" for k in kinds) + "</tr>")
        for i in range(len(shown["real"])):
            cells = []
            for kind in kinds:
                relative = f"images/{direction}/{i:03d}_{kind}.png"
                save_png(output / relative, shown[kind][i])
                note = (f"{shown['cycle_psnr'][i]:.1f} dB" if kind == "cycled" else
                        f"{shown['truth_psnr'][i]:.1f} dB vs truth" if kind == "fake" and "truth" in shown else "")
                cells.append(f"<td><img src='{relative}' width='{report['size'] * scale}'>{e(note)}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    save_png(output / "results.png", results_picture(images))
    return atomic_write(output / "index.html", "\n".join(parts))


def results_picture(images: dict, rows: int = 4) -> np.ndarray:
    """The first images of every direction in one picture: input | translation [| reconstruction] [| truth]
    of A -> B, then the same of B -> A (a model with one direction: its own), a row per test image."""
    from tf_cyclegan.samples import grid

    present = [d for d in DIRECTIONS if d in images]
    kinds = [k for k in ("real", "fake", "cycled", "truth") if k in images[present[0]]]
    n = min([rows] + [len(images[d]["real"]) for d in present])
    return grid([[[images[d][k][i] for k in kinds] for d in present] for i in range(n)])


def evaluate(options: EvaluateOptions, log=print) -> dict:
    """Measure, write DIR/metrics.json and DIR/index.html; returns the report (what metrics.json holds)."""
    from tf_cyclegan import metrics
    from tf_cyclegan.fileio import atomic_write
    from tf_cyclegan.models import model_class

    started = time.perf_counter()
    output = Path(options.output)
    opened = open_models(options.model, options.variant, options.checkpoint, "eval" if options.eval else None)
    dataset = options.dataset or opened.training.get("dataset")
    if not dataset:
        raise EvaluateError(f"--model {options.model} does not say what it was trained on: pass --dataset")
    size = options.size or opened.training.get("crop_size")
    if not size:
        raise EvaluateError(f"--model {options.model} does not say its training size: pass --size")
    if size < 11:
        raise EvaluateError(f"--size {size}: SSIM needs at least 11 pixels a side; pass a larger --size")
    data_dir = options.data_dir or opened.training.get("data_dir")
    if model_class(opened.training.get("model", "cycle_gan")).PAIRED or is_paired_dataset(dataset):
        test_a, test_b, paired, description = load_test_pairs(dataset, size, options.num_test,
                                                               opened.training.get("paired", False), log)
    else:
        test_a, test_b, paired, description = load_test_images(dataset, data_dir, size, options.num_test, log)
    paired = paired or options.paired
    log(f"Evaluating {opened.description} on {len(test_a)} + {len(test_b)} test images of {description} at "
        f"{size}x{size}" + (" (paired: also against the truth)" if paired else ""))
    features, fid_note = None, ""
    if options.no_fid:
        fid_note = "FID/KID skipped (--no_fid)"
    elif min(len(test_a), len(test_b)) < 2:
        fid_note = "FID/KID skipped: they need at least 2 test images per domain"
    else:
        weights, fid_note = metrics.inception_weights(options.inception_weights)
        if weights is not None:
            try:
                features = metrics.InceptionFeatures(weights)
            except Exception as e:  # Keras raises many types for a wrong or damaged weights file
                raise EvaluateError(f"--inception_weights {weights}: cannot load InceptionV3 weights from it "
                                    f"({first_line(e)}); it must be Keras' {metrics.INCEPTION_FILE}") from None
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


def main(argv=None) -> int:
    from tf_cyclegan.cli import parse_options, quiet_tensorflow, run_command

    parser, options = parse_options(PROG, "Measure a trained or exported model on test images and write a "
                                    "results page.", EvaluateOptions, argv, required=("model", "output"))
    if options.size is not None and options.size < 11:
        parser.error(f"--size: SSIM needs at least 11 pixels a side, got {options.size}")
    if options.num_test < 2:
        parser.error(f"--num_test: at least 2 images per domain, got {options.num_test}")
    quiet_tensorflow()

    def work():
        evaluate(options)

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
