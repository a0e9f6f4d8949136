"""TFLite models for LiteRT (phones, CPUs): uint8 in, uint8 out, any H x W, the pre- and post-processing
inside, from the generator's TFLite-friendly copy (tf_cyclegan.exporting.lite). float32, float16 weights,
dynamic-range int8, and on request full-integer int8 and selective int8 (convolutions int8, instance
norms float), both calibrated on training images.
"""

from __future__ import annotations

import sys
import tempfile

import keras
import tensorflow as tf

from tf_cyclegan.core.errors import first_line
from tf_cyclegan.exporting.lite import lite_generator
from tf_cyclegan.runtime import processing

TFLITE_VARIANTS = ("float32", "float16", "int8_dynamic")
# int8_selective keeps these ops (instance norm's arithmetic, residual sums) in float32: 8-bit per-image
# statistics are what makes full-integer int8 lose colour fidelity.
FLOAT_OPS = ("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "SUB", "MUL", "ADD")


def tflite_models(generator, variants, representative=None) -> dict[str, bytes]:
    """uint8 in, uint8 out, dynamic H x W; pre/post-processing inside, as the SavedModel's default."""
    generator = lite_generator(generator)
    archive = keras.export.ExportArchive()  # no track(): see saved_model_archive
    archive.add_endpoint("serving_default",
                         lambda images: {"translated": processing.translate_uint8(generator, images)},
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
