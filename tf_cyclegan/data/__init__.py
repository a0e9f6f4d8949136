"""The data: reading and checking images, unpaired and paired datasets from folders, TFDS, the official
pix2pix tarballs and the embedded dataset, the training pipelines, and the aligned-layout builder."""

from tf_cyclegan.core.moved import forwarding

__getattr__ = forwarding(__name__)  # the names tf_cyclegan.data held before 1.0 made it a wing
