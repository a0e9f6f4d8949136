"""tf_cyclegan: CycleGAN (Zhu et al., 2017) for TensorFlow 2 and Keras 3.

The networks are loaded lazily so that `python -m tf_cyclegan.train --help` answers without TensorFlow.
"""

from tf_cyclegan.config import Config

__version__ = "0.1.0"
__all__ = ["Config", "build_generator", "build_discriminator"]


def __getattr__(name):
    if name in ("build_generator", "build_discriminator"):
        from tf_cyclegan import models

        return getattr(models, name)
    raise AttributeError(f"module 'tf_cyclegan' has no attribute {name!r}")
