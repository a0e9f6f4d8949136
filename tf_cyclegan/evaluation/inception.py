"""InceptionV3's pool features, which FID and KID are defined with: the weights are Keras', read from its
cache or a file the user names, never downloaded here (an offline machine gets a line that says what to do)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tf_cyclegan.core.pixels import to_float

INCEPTION_SIZE = 299
INCEPTION_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + INCEPTION_FILE


def keras_cache_weights() -> Path:
    """Where keras.applications keeps the InceptionV3 weights it downloads."""
    home = os.environ.get("KERAS_HOME") or os.path.join(Path.home(), ".keras")
    return Path(home) / "models" / INCEPTION_FILE


def inception_weights(path: str | None = None) -> tuple[Path | None, str]:
    """(weights file, '') when FID/KID can run offline, else (None, a one-line reason saying what to do)."""
    if path:
        if not Path(path).is_file():
            return None, f"--inception_weights {path}: no such file"
        return Path(path), ""
    cached = keras_cache_weights()
    if cached.is_file():
        return cached, ""
    return None, (f"FID/KID skipped: no InceptionV3 weights at {cached}; download {INCEPTION_URL} "
                  "there (or anywhere, and pass --inception_weights FILE) to get them")


class InceptionFeatures:
    """2048-d pool features of Keras' InceptionV3 (ImageNet weights), the network FID is defined with.
    The weights are Keras' port, so values compare across runs of this package, not with papers' FIDs."""

    def __init__(self, weights: str | os.PathLike, batch_size: int = 16):
        import keras
        import tensorflow as tf

        self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=str(weights),
                                                    input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))
        self.batch_size = batch_size
        self._features = tf.function(lambda x: self.model(
            to_float(tf.image.resize(tf.cast(x, tf.float32), (INCEPTION_SIZE, INCEPTION_SIZE))), training=False))

    def __call__(self, images) -> np.ndarray:
        images = np.asarray(images, np.uint8)
        return np.concatenate([np.asarray(self._features(images[i:i + self.batch_size]))
                               for i in range(0, len(images), self.batch_size)])
