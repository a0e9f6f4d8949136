"""Pixels: the [-1, 1] scale the networks work in, and the pixel limits that keep memory bounded.

Images travel as uint8 everywhere a user sees them (files, exports, translators) and as float32 in [-1, 1]
inside the networks; these two functions are the only conversion, for TensorFlow tensors and NumPy arrays
alike, so that training, serving, tiling and the measures round the same way.
"""

from __future__ import annotations

import numpy as np

SCALE = 127.5  # uint8 level per unit of the [-1, 1] range

# The largest image (height x width) an export accepts (--max_pixels): checked before anything is decoded.
MAX_EXPORT_PIXELS = 4096 * 4096
# The largest training or test image that is decoded (--max_image_pixels): larger ones are skipped.
MAX_IMAGE_PIXELS = 8192 * 8192
# The largest upload the demo page decodes (--max_pixels of the demo).
MAX_UPLOAD_PIXELS = 40_000_000  # a 7,700 x 5,200 photo
# What translate and Translator translate whole, at most and at least, whatever the machine's memory says.
UNTILED_PIXELS_RANGE = (1024 * 1024, 4096 * 4096)


def to_float(images):
    """uint8 levels as float32 in [-1, 1]: a tf.Tensor for a tensor, a NumPy array for anything else."""
    if isinstance(images, (np.ndarray, np.generic, int, float)):
        return np.asarray(images, np.float32) / np.float32(SCALE) - np.float32(1.0)
    import tensorflow as tf

    return tf.cast(images, tf.float32) / SCALE - 1.0


def to_uint8(images):
    """[-1, 1] as uint8, rounded to the nearest level and clipped: a tf.Tensor for a tensor, else NumPy."""
    if isinstance(images, (np.ndarray, np.generic, int, float)):
        return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * SCALE), 0, 255).astype(np.uint8)
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * SCALE), 0.0, 255.0), tf.uint8)
