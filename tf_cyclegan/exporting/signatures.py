"""The SavedModel that TF Serving loads: its signatures around one generator (uint8 images, encoded bytes,
[-1, 1] floats, and the two tile functions of tiled translation), each refusing an image over the export's
pixel budget before anything large is allocated.

Models go through keras.export.ExportArchive: a Keras 3 model held by a bare tf.Module saves a SavedModel
that runs, but converts to a TFLite file without its weights.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_cyclegan.runtime import processing, shared_norm

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


def saved_model_archive(generator, max_pixels: int):
    """The serving signatures around one generator."""
    # No archive.track(generator): it would save every weight twice (the Keras variables and, through
    # the endpoints, the tf.Variables under them); the endpoints alone track the variables they use.
    archive = keras.export.ExportArchive()

    def translate(images):
        shape = tf.shape(images)
        with tf.control_dependencies([processing.check_pixels(shape[1], shape[2], max_pixels)]):
            return {"translated": processing.translate_uint8(generator, images)}

    def translate_bytes(image_bytes):
        return {"translated_bytes": processing.translate_bytes(generator, image_bytes, max_pixels)}

    def translate_float(images):
        shape = tf.shape(images)
        with tf.control_dependencies([processing.check_pixels(shape[1], shape[2], max_pixels)]):
            return {"translated": processing.translate_float(generator, images)}

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
    def checked(tile, *args):
        shape = tf.shape(tile)
        with tf.control_dependencies([processing.check_pixels(shape[0], shape[1], max_pixels)]):
            return function(tile, *args)
    return checked
