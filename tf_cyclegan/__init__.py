"""tf_cyclegan: image-to-image translation for TensorFlow 2 and Keras 3: CycleGAN (Zhu et al., 2017) and
pix2pix (Isola et al., 2017), parameter for parameter the reference PyTorch implementation's networks.

The networks and the Translator are loaded lazily so that `python -m tf_cyclegan.train --help` answers
without TensorFlow.
"""

from tf_cyclegan.config import Config

__version__ = "0.5.0"
__all__ = ["Config", "Translator", "build_generator", "build_discriminator"]


def __getattr__(name):
    if name in ("build_generator", "build_discriminator"):
        from tf_cyclegan import networks

        return getattr(networks, name)
    if name == "Translator":
        from tf_cyclegan.translators import Translator

        return Translator
    raise AttributeError(f"module 'tf_cyclegan' has no attribute {name!r}")
