"""python -m tf_cyclegan.export --run RUN_DIR --output EXPORT_DIR [--checkpoint N] [--onnx]

Writes the generators of a training run (a CycleGAN has two: a2b and b2a; pix2pix one) as TF Serving versions
EXPORT_DIR/<direction>/<version>/: a SavedModel (uint8, bytes and float signatures), TFLite models (float32,
float16 weights, dynamic-range int8), with --onnx an ONNX model, and tf_cyclegan.json. Each version is
assembled in a temporary folder and renamed into place, so TF Serving never loads a half-written model.

Models go through keras.export.ExportArchive: a Keras 3 model held by a bare tf.Module saves a SavedModel
that runs, but converts to a TFLite file without its weights.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tf_cyclegan.directions import ab_names, by_direction, source_target
from tf_cyclegan.errors import CheckpointError, ExportError, first_line
from tf_cyclegan.layout import CONTRACT_FILE, RunFolder, onnx_file, tflite_file, write_version
from tf_cyclegan.translators import ONNX_INSTALL

PROG = "python -m tf_cyclegan.export"
TFLITE_VARIANTS = ("float32", "float16", "int8_dynamic")
# int8_selective keeps these ops (instance norm's arithmetic, residual sums) in float32: 8-bit per-image
# statistics are what makes full-integer int8 lose colour fidelity.
FLOAT_OPS = ("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "SUB", "MUL", "ADD")
# ONNX opset 15: what tf2onnx 1.17 writes by default, and what onnxruntime has run since 1.10.
ONNX_OPSET = 15
SIGNATURES = {
    "serving_default": {"inputs": {"images": "uint8 [batch, H, W, 3]"},
                        "outputs": {"translated": "uint8 [batch, H, W, 3]"}},
    "translate_bytes": {"inputs": {"image_bytes": "string [batch]: JPEG, PNG, GIF or BMP"},
                        "outputs": {"translated_bytes": "string [batch]: PNG"}},
    "translate_float": {"inputs": {"images": "float32 [batch, H, W, 3] in [-1, 1]"},
                        "outputs": {"translated": "float32 [batch, H, W, 3] in [-1, 1]"}},
    # Tiled translation with shared normalisation statistics (docs/translate.md#serving-clients).
    "tile_statistics": {"inputs": {"tile": "uint8 [h, w, 3]"},
                        "outputs": {"translated": "float32 [h, w, 3] in [-1, 1]", "statistics": "float32 [S]"}},
    "translate_tile": {"inputs": {"tile": "uint8 [h, w, 3]", "statistics": "float32 [S]",
                                  "core": "float32 [4]: top, left, bottom, right as fractions of the tile"},
                       "outputs": {"translated": "float32 [h, w, 3] in [-1, 1]",
                                   "statistics": "float32 [S] over the core"}},
}


@dataclasses.dataclass
class ExportOptions:
    run: str = dataclasses.field(default="", metadata={"help": "training run folder (has config.json)"})
    output: str = dataclasses.field(default="", metadata={"help": "export folder (TF Serving base path)"})
    checkpoint: int | None = dataclasses.field(
        default=None, metadata={"help": "checkpoint step N (ckpt-N) to export; default: the latest"})
    max_pixels: int = dataclasses.field(
        default=4096 * 4096, metadata={"help": "largest image (height x width) the SavedModel accepts"})
    no_tflite: bool = dataclasses.field(default=False, metadata={"help": "SavedModel only"})
    full_int8: bool = dataclasses.field(
        default=False, metadata={"help": "also try a full-integer int8 TFLite model, calibrated on "
                                         "training images (see docs/export.md for its measured error)"})
    int8_selective: bool = dataclasses.field(
        default=False, metadata={"help": "also an int8 TFLite model whose convolutions are int8 and whose "
                                         "instance norms stay float, calibrated on training images: the fast "
                                         "int8 (see docs/export.md for its speed and error)"})
    eval: bool = dataclasses.field(
        default=False, metadata={"help": "export the generator in eval mode (batch norm's running statistics, "
                                         "no dropout; PyTorch's model.eval()) instead of the reference's test "
                                         "mode (each image's own statistics, dropout on); the same for "
                                         "generators without batch norm or dropout (CycleGAN's)"})
    onnx: bool = dataclasses.field(
        default=False, metadata={"help": "also an ONNX model per direction (<direction>.onnx: uint8 in and out, "
                                         f"any batch and H x W) for onnxruntime; needs {ONNX_INSTALL}"})


# -- reading the run -------------------------------------------------------------------------------
def load_generators(run: str | os.PathLike, checkpoint: int | None = None, log=print):
    """(config, {direction: generator}, {"A": name, "B": name}, checkpoint path): the run's generators alone,
    restored from its newest readable checkpoint (the one training would resume from) or from ckpt-N."""
    import tensorflow as tf

    from tf_cyclegan.checkpoints import restore_newest
    from tf_cyclegan.models import model_class

    folder = RunFolder(run)
    config = folder.read_config()
    model = model_class(config.model)
    generators = model.build_generators(config)
    reader = tf.train.Checkpoint(**generators)
    path = restore_newest(folder.checkpoints, lambda prefix: reader.read(prefix).expect_partial()
                          .assert_existing_objects_matched(), log, step=checkpoint,
                          advice="pass --checkpoint N of a readable one, or use another run")
    if path is None:
        raise CheckpointError(f"--run {run}: no checkpoint in {folder.checkpoints} yet; train first")
    names = ab_names(folder.read_domain_names(), config.direction)
    return config, by_direction(generators, model.GENERATOR_SOURCES, config.direction), names, path


# -- writing ---------------------------------------------------------------------------------------
def saved_model_archive(generator, max_pixels: int):
    """The three serving signatures around one generator."""
    import keras
    import tensorflow as tf

    from tf_cyclegan import serving, shared_norm

    # No archive.track(generator): it would save every weight twice (the Keras variables and, through
    # the endpoints, the tf.Variables under them); the endpoints alone track the variables they use.
    archive = keras.export.ExportArchive()

    def translate(images):
        shape = tf.shape(images)
        with tf.control_dependencies([serving.check_pixels(shape[1], shape[2], max_pixels)]):
            return {"translated": serving.translate_uint8(generator, images)}

    def translate_bytes(image_bytes):
        return {"translated_bytes": serving.translate_bytes(generator, image_bytes, max_pixels)}

    def translate_float(images):
        shape = tf.shape(images)
        with tf.control_dependencies([serving.check_pixels(shape[1], shape[2], max_pixels)]):
            return {"translated": serving.translate_float(generator, images)}

    archive.add_endpoint("serving_default", translate,
                         input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    archive.add_endpoint("translate_bytes", translate_bytes,
                         input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.add_endpoint("translate_float", translate_float,
                         input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    for name, (function, spec) in shared_norm.tile_endpoints(generator).items():
        archive.add_endpoint(name, _checked_tile(function, max_pixels), input_signature=spec)
    return archive


def _checked_tile(function, max_pixels: int):
    """A tile endpoint that refuses a tile over the pixel budget."""
    import tensorflow as tf

    from tf_cyclegan import serving

    def checked(tile, *args):
        shape = tf.shape(tile)
        with tf.control_dependencies([serving.check_pixels(shape[0], shape[1], max_pixels)]):
            return function(tile, *args)
    return checked


def tflite_models(generator, variants, representative=None) -> dict[str, bytes]:
    """uint8 in, uint8 out, dynamic H x W; pre/post-processing inside, as the SavedModel's default."""
    import keras
    import tensorflow as tf

    from tf_cyclegan import serving
    from tf_cyclegan.lite import lite_generator

    generator = lite_generator(generator)
    archive = keras.export.ExportArchive()  # no track(): see saved_model_archive
    archive.add_endpoint("serving_default", lambda images: {"translated": serving.translate_uint8(generator, images)},
                         input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="images")])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        for variant in variants:
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
            if variant == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            elif variant == "int8_dynamic":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            elif variant == "int8_full":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = representative
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            elif variant == "int8_selective":  # TFLite's selective quantization: a denylist of float ops
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = representative
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=representative,
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS)))
                out[variant] = debugger.get_nondebug_quantized_model()
                continue
            try:
                out[variant] = converter.convert()
            except Exception as e:  # the converter raises several types
                if variant != "int8_full":
                    raise
                out[variant] = None
                print(f"full-integer int8 conversion failed: {first_line(e)}", file=sys.stderr)
    return out


def onnx_converter():
    """tf2onnx, or an ExportError that says how to install it (export asks before any long work starts)."""
    try:
        import tf2onnx
    except ImportError:
        raise ExportError(f"--onnx: the ONNX converter (tf2onnx) is not installed; {ONNX_INSTALL}") from None
    return tf2onnx


def onnx_model(generator, metadata: dict | None = None) -> bytes:
    """uint8 [batch, H, W, 3] in, uint8 out, dynamic batch, H and W: the TFLite files' function, converted by
    tf2onnx from the same lite copy (4-D instance norm and sliced padding also run faster in onnxruntime).
    Keras' model.export(format="onnx") converts the network's call alone: float input, and no padding to
    the size multiple, so a 37x53 image comes back 40x56. `metadata` goes into the file's metadata_props,
    so that a file copied on its own still says its direction and inference mode."""
    import tensorflow as tf

    from tf_cyclegan import serving
    from tf_cyclegan.lite import lite_generator

    tf2onnx = onnx_converter()
    generator = lite_generator(generator)
    spec = [tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")]
    function = tf.function(lambda images: {"translated": serving.translate_uint8(generator, images)},
                           input_signature=spec)
    try:
        model, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=ONNX_OPSET)
    except Exception as e:  # tf2onnx raises several types for an op it cannot convert
        raise ExportError(f"--onnx: tf2onnx cannot convert {generator.name} ({first_line(e)})") from None
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value if isinstance(value, str) else json.dumps(value))
    return model.SerializeToString()


def representative_images(config, n: int = 16):
    """Calibration data for full-integer int8: training images of the run's dataset (for a model trained
    on pairs, the inputs of its pairs)."""
    from tf_cyclegan.models import model_class

    if model_class(config.model).PAIRED:
        from tf_cyclegan.paired import first_pairs, load_pairs

        pairs = load_pairs(config.dataset, config.paired).train.checked(config.max_image_pixels)[0]
        inputs = first_pairs(pairs, n, config.crop_size)[0 if config.direction == "AtoB" else 1]
        return lambda: ({"images": image[None]} for image in inputs)
    from tf_cyclegan.data import load_domains

    domains = load_domains(config.dataset, config.data_dir)

    def gen():
        for images in (domains.train_a, domains.train_b):
            for i in range(min(n // 2, len(images))):
                yield {"images": images.load(i, config.crop_size)[None]}

    return gen


def inference_contract(generator, mode: str) -> dict:
    """What an export says of how its generator runs (see tf_cyclegan.inference)."""
    from tf_cyclegan.inference import MODE_MEANS, has_train_mode_layers

    what = dict(MODE_MEANS)
    differ = has_train_mode_layers(generator)
    if not differ:
        what = dict.fromkeys(what, "no batch norm or dropout: both modes compute the same")
    return {"inference_mode": mode, "inference_mode_means": what[mode], "inference_modes_differ": differ}


def export_generator(generator, model_dir: Path, name: str, source: str, target: str, origin: str,
                     training_config: dict | None, max_pixels: int, variants=TFLITE_VARIANTS,
                     representative=None, mode: str = "train", about: dict | None = None,
                     onnx: bool = False) -> Path:
    """One generator as the next TF Serving version of model_dir: SavedModel, TFLite files, with `onnx` an
    ONNX file, contract. The generator runs in inference `mode` (tf_cyclegan.inference.MODES); `about` adds
    to the contract (the model and the directions of its export)."""
    import tensorflow as tf

    import tf_cyclegan
    from tf_cyclegan import shared_norm
    from tf_cyclegan.inference import inference_generator

    described = inference_contract(generator, mode)
    generator = inference_generator(generator, mode)
    identity = {"direction": name, "source_domain": source, "target_domain": target, **(about or {}), **described}

    def build(tmp: Path):
        saved_model_archive(generator, max_pixels).write_out(str(tmp), verbose=False)
        files = {}
        for variant, flatbuffer in tflite_models(generator, variants, representative).items():
            if flatbuffer is None:
                continue
            files[variant] = tflite_file(name, variant)
            (tmp / files[variant]).write_bytes(flatbuffer)
        extra = {}
        if onnx:
            (tmp / onnx_file(name)).write_bytes(onnx_model(generator, identity))
            extra["onnx"] = {"file": onnx_file(name), "input": "uint8 [batch, H, W, 3]",
                             "output": "uint8 [batch, H, W, 3]", "opset": ONNX_OPSET,
                             "converter": f"tf2onnx {onnx_converter().__version__}"}
        contract = {
            **identity, "checkpoint": origin,
            "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "tf_cyclegan": tf_cyclegan.__version__, "tensorflow": tf.__version__, "signatures": SIGNATURES,
            "max_pixels": max_pixels, "tiling": shared_norm.tiling_contract(generator),
            "tflite": {v: {"file": f, "input": "uint8 [1, H, W, 3]", "output": "uint8 [1, H, W, 3]"}
                       for v, f in files.items()},
            **extra, "training_config": training_config,
        }
        (tmp / CONTRACT_FILE).write_text(json.dumps(contract, indent=2))

    return write_version(model_dir, build)[1]


def export(options: ExportOptions, log=print) -> dict[str, Path]:
    """Export every generator of the run; returns {direction: version folder}."""
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
            dataclasses.asdict(config), options.max_pixels, variants, representative, mode, about, options.onnx)
        log(f"  {direction} ({source} -> {target}, {mode} mode): {written[direction]}")
    log(f"Done in {time.perf_counter() - started:.1f} s")
    return written


def main(argv=None) -> int:
    from tf_cyclegan.cli import parse_options, quiet_tensorflow, run_command

    parser, options = parse_options(PROG, "Export a run's generators for TF Serving, LiteRT and "
                                    "onnxruntime.", ExportOptions,
                                    argv, required=("run", "output"))
    if options.max_pixels < 1:
        parser.error(f"--max_pixels: must be at least 1, got {options.max_pixels}")
    quiet_tensorflow()

    def work():
        try:
            export(options)
        except OSError as e:
            raise ExportError(f"cannot write to {options.output}: {e.strerror or e}") from None

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
