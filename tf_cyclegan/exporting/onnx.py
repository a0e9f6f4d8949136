"""ONNX models for onnxruntime (the `onnx` extra): uint8 [batch, H, W, 3] in and out, any size, converted by
tf2onnx from the same TFLite-friendly copy of the generator as the TFLite files."""

from __future__ import annotations

import json

import tensorflow as tf

from tf_cyclegan.core.errors import ExportError, first_line
from tf_cyclegan.core.extras import require
from tf_cyclegan.exporting.lite import lite_generator
from tf_cyclegan.runtime import processing

# ONNX opset 15: what tf2onnx 1.17 writes by default, and what onnxruntime has run since 1.10.
ONNX_OPSET = 15


def onnx_converter():
    """tf2onnx, or an ExportError that says how to install it (export asks before any long work starts)."""
    return require("tf2onnx", "onnx", "--onnx", ExportError)


def onnx_model(generator, metadata: dict | None = None) -> bytes:
    """uint8 [batch, H, W, 3] in, uint8 out, dynamic batch, H and W: the TFLite files' function, converted by
    tf2onnx from the same lite copy (4-D instance norm and sliced padding also run faster in onnxruntime).
    Keras' model.export(format="onnx") converts the network's call alone: float input, and no padding to
    the size multiple, so a 37x53 image comes back 40x56. `metadata` goes into the file's metadata_props,
    so that a file copied on its own still says its direction and inference mode."""
    tf2onnx = onnx_converter()
    generator = lite_generator(generator)
    spec = [tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")]
    function = tf.function(lambda images: {"translated": processing.translate_uint8(generator, images)},
                           input_signature=spec)
    try:
        model, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=ONNX_OPSET)
    except Exception as e:  # tf2onnx raises several types for an op it cannot convert
        raise ExportError(f"--onnx: tf2onnx cannot convert {generator.name} ({first_line(e)})") from None
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value if isinstance(value, str) else json.dumps(value))
    return model.SerializeToString()
