# TEMPORARY shim until the restyled package lands
from tf_cyclegan.datasets.seasons import *  # noqa
from tf_cyclegan.datasets.seasons import MARKER, MIN_SIZE, RENDER_VERSION, SEASONS, SIZE, SPLITS, Split  # noqa
