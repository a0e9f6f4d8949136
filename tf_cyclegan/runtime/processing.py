"""Pre- and post-processing around a generator, as TensorFlow graph code that exports.

The same functions run in the SavedModel signatures, inside the TFLite models and in `translate` on a
training run, so every artifact agrees with the Keras generator. A generator needs sides that are
multiples of its size multiple (size_multiple_of; 4 for the ResNets: two stride-2 downsamplings,
then reflection padding that needs at least 2 pixels): images are reflect-padded up to that multiple and
cropped back; sides that are too small for this are first resized up, and the result resized back, so
that even a 1x1 image translates.
"""

from __future__ import annotations

import tensorflow as tf

from tf_cyclegan.core.pixels import MAX_EXPORT_PIXELS, to_float, to_uint8
from tf_cyclegan.models.networks import size_multiple_of

MIN_SIDE = 8


def translate_float(generator, images):
    """[-1, 1] float32 [batch, H, W, 3] -> the generator's output, same shape, any H and W >= 1."""
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    h, w = shape[1], shape[2]
    # Sides must be multiples of the generator's size multiple (4 for ResNets, 256 for unet_256); the
    # reflection padding that gets them there needs sides over half of it, and the ResNet's own padding
    # needs at least MIN_SIDE.
    multiple = size_multiple_of(generator)
    min_side = max(MIN_SIDE, multiple // 2 + 1)
    th, tw = tf.maximum(h, min_side), tf.maximum(w, min_side)
    # A resize to the same size is an exact copy (bilinear weights 1 and 0), so this only changes images
    # with a side under min_side; no tf.cond, which the TFLite converter would lose the shapes through.
    x = tf.image.resize(images, [th, tw], method="bilinear")
    pad_h, pad_w = (multiple - th % multiple) % multiple, (multiple - tw % multiple) % multiple
    top, left = pad_h // 2, pad_w // 2
    x = tf.pad(x, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]], mode="REFLECT")
    # Padding by computed amounts hides even the channel count from the TFLite converter, whose conv
    # kernels need it; a reshape states it (set_shape and ensure_shape do not reach the converter).
    x = tf.reshape(x, [-1, th + pad_h, tw + pad_w, 3])
    y = generator(x, training=False)
    y = y[:, top:top + th, left:left + tw, :]
    return tf.image.resize(y, [h, w], method="bilinear")


def translate_uint8(generator, images):
    """uint8 [batch, H, W, 3] -> uint8 of the same shape."""
    return to_uint8(translate_float(generator, to_float(images)))


def check_pixels(height, width, max_pixels: int):
    """Refuse an image over the pixel budget before any large allocation happens."""
    pixels = tf.cast(height, tf.int64) * tf.cast(width, tf.int64)
    return tf.debugging.assert_less_equal(
        pixels, tf.constant(max_pixels, tf.int64),
        message=f"image is larger than the export's limit of {max_pixels} pixels (--max_pixels)")


def _be32(data, offset):
    """Big-endian uint32 at a byte offset of a scalar string."""
    b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, 4), tf.uint8), tf.int64)
    return ((b[0] * 256 + b[1]) * 256 + b[2]) * 256 + b[3]


def _le16(data, offset):
    b = tf.cast(tf.io.decode_raw(tf.strings.substr(data, offset, 2), tf.uint8), tf.int64)
    return b[0] + 256 * b[1]


def header_size(data):
    """(height, width) from a PNG, JPEG or GIF header, without decoding pixels; (0, 0) if unknown.

    So that a small file claiming 30000x30000 pixels (a decompression bomb) is refused before decoding.
    """
    length = tf.strings.length(data)
    magic = tf.strings.substr(data, 0, 4)
    is_png = tf.logical_and(tf.equal(magic, b"\x89PNG"), length >= 24)
    is_jpeg = tf.equal(tf.strings.substr(data, 0, 2), b"\xff\xd8")
    is_gif = tf.logical_and(tf.equal(tf.strings.substr(data, 0, 3), b"GIF"), length >= 10)
    zero = tf.constant([0, 0], tf.int64)
    return tf.case([
        (is_png, lambda: tf.stack([_be32(data, 20), _be32(data, 16)])),
        (is_jpeg, lambda: tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64)),
        (is_gif, lambda: tf.stack([_le16(data, 8), _le16(data, 6)])),
    ], default=lambda: zero, exclusive=False)


def translate_bytes(generator, encoded, max_pixels: int = MAX_EXPORT_PIXELS):
    """A batch of encoded images (JPEG, PNG, GIF, BMP; any mode) -> a batch of PNG-encoded translations."""

    def one(data):
        size = header_size(data)
        with tf.control_dependencies([check_pixels(size[0], size[1], max_pixels)]):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
        image = tf.ensure_shape(image, [None, None, 3])
        with tf.control_dependencies([check_pixels(tf.shape(image)[0], tf.shape(image)[1], max_pixels)]):
            out = translate_uint8(generator, image[None])[0]
        return tf.io.encode_png(out)

    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([], tf.string))
