"""The networks, parameter for parameter the reference's: generators of every --netG family (one module
each, registered in tf_cyclegan.core.catalog), the discriminators, and the layers they are made of."""

from tf_cyclegan.models.networks.discriminators import build_discriminator
from tf_cyclegan.models.networks.generators import (build_generator, discriminator_options, dtype_policy,
                                                    generator_options, size_multiple_of)

__all__ = ["build_generator", "build_discriminator", "size_multiple_of", "generator_options",
           "discriminator_options", "dtype_policy"]
