"""The training pipelines: what --preprocess makes of an image, and batches (real_x, real_y) in [-1, 1] for
every step, unpaired (CycleGAN, CUT) or paired (pix2pix).

A pipeline is a pure function of (seed, step): which images and which crops step s sees never depends on
what ran before, so a resumed run sees exactly the data an uninterrupted one would have seen. X and Y are
the paper's domains: A and B, swapped by --direction BtoA.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tf_cyclegan.core.catalog import size_multiple
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.directions import swap_ab
from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.core.pixels import to_float
from tf_cyclegan.data.images import decode, resized
from tf_cyclegan.data.paired import PairList, Pairs
from tf_cyclegan.data.unpaired import Domains, ImageList


# -- one image as --preprocess prepares it ---------------------------------------------------------
def preprocessed_size(width: int, height: int, config: Config) -> tuple[int, int]:
    """(width, height) of an image after --preprocess resizes it, before any crop; bicubic, as the
    reference. resize_and_crop: load_size square; scale_width[_and_crop]: width load_size, height kept in
    proportion but at least crop_size; crop and none: as it is. Modes that crop resize an image smaller
    than the crop up (aspect kept) instead of failing; modes that do not crop round each side to a multiple
    the generator accepts (the reference's make_power_2 for none, which scale_width lacks there)."""
    load, crop = config.load_size, config.crop_size
    if config.preprocess == "resize_and_crop":
        return load, load
    if config.preprocess in ("scale_width", "scale_width_and_crop"):
        if width != load or height < crop:
            width, height = load, int(max(load * height / width, crop))
    if config.crops:
        scale = max(1.0, crop / min(width, height))
        return max(round(width * scale), crop), max(round(height * scale), crop)
    multiple = size_multiple(config.netG)
    return tuple(max(round(side / multiple), 1) * multiple for side in (width, height))


def load_preprocessed(item: str | bytes, config: Config) -> np.ndarray:
    """(height, width, 3) uint8: the image as --preprocess prepares it before any random crop."""
    image = decode(item)
    return np.asarray(resized(image, preprocessed_size(*image.size, config)), dtype=np.uint8)


def load_pair(pairs: PairList, index: int, config: Config) -> np.ndarray:
    """(height, width, 6) uint8: the A and B images of a pair, both prepared by --preprocess at A's size
    (before any random crop), stacked on the channel axis so that one crop and one flip apply to both."""
    a, b = pairs.images(index)
    size = preprocessed_size(*a.size, config)
    return np.concatenate([np.asarray(resized(a, size), np.uint8), np.asarray(resized(b, size), np.uint8)], axis=-1)


def first_images(images: ImageList, n: int, size: int) -> np.ndarray:
    """The first n images (or all, if fewer) as uint8 [n, size, size, 3], bicubic-resized."""
    return np.stack([images.load(i, size) for i in range(min(n, len(images)))])


def first_pairs(pairs: PairList, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n pairs (or all, if fewer) as uint8 ([n, size, size, 3] A, the same of B), bicubic."""
    a, b = zip(*(pairs.images(i) for i in range(min(n, len(pairs)))))
    return tuple(np.stack([np.asarray(resized(image, (size, size)), np.uint8) for image in side]) for side in (a, b))


def training_shapes(sizes, config: Config):
    """(the (height, width) of every training image, or None when sizes vary; the largest one), from the
    images' (width, height) before preprocessing (a callable that reads them: not needed when cropping).

    Modes that crop give crop_size squares. The others keep each image's own (rounded) size, read from
    the headers; images of different sizes can only be trained one per step, as in the reference.
    """
    if config.crops:
        return (config.crop_size, config.crop_size), (config.crop_size, config.crop_size)
    shapes = sorted({preprocessed_size(w, h, config)[::-1] for w, h in sizes()})
    largest = (max(h for h, _ in shapes), max(w for _, w in shapes))
    if len(shapes) == 1:
        return shapes[0], largest
    if config.batch_size > 1:
        examples = ", ".join(f"{w}x{h}" for h, w in shapes[:3]) + (", ..." if len(shapes) > 3 else "")
        raise DatasetError(f"--preprocess {config.preprocess}: the training images have {len(shapes)} sizes "
                           f"after preprocessing ({examples}), which cannot share a batch; use --batch_size "
                           "1, or a --preprocess mode that crops")
    return None, largest


# -- the steps' batches ----------------------------------------------------------------------------
def image_indices(config: Config, start_step: int, total: int,
                  input_context: tf.distribute.InputContext | None = None) -> tuple[tf.data.Dataset, int]:
    """(the positions g in the run's image sequence from start_step on that this input pipeline reads, its
    batch size): everything, or under tf.distribute each worker's contiguous share of every global batch,
    in per-replica batches."""
    indices, batch = tf.data.Dataset.range(int(start_step) * config.batch_size, total), config.batch_size
    if input_context is not None:
        batch = input_context.get_per_replica_batch_size(config.batch_size)
        pipelines, pipeline = input_context.num_input_pipelines, input_context.input_pipeline_id
        if pipelines > 1:
            share = config.batch_size // pipelines
            indices = indices.filter(lambda g: (g % config.batch_size) // share == pipeline)
    return indices, batch


def augment(image, config: Config, seed, counter):
    """The random crop (seed (seed, counter)) and flip (seed (seed, counter + 1)) of one image, or of a pair
    stacked on the channel axis, then [-1, 1]."""
    if config.crops:
        image = tf.image.stateless_random_crop(image, [config.crop_size, config.crop_size, image.shape[-1]],
                                               seed=tf.stack([seed, counter]))
    if not config.no_flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=tf.stack([seed, counter + 1]))
    return to_float(image)


@dataclasses.dataclass
class TrainingData:
    """What the loop needs of a run's data: the names of X and Y, the epoch geometry, batches from any step
    on, and fixed test images. `paired`: test_x[i] and test_y[i] show the same scene (a truth to measure
    against)."""

    name_x: str
    name_y: str
    steps_per_epoch: int
    image_shape: tuple[int, int] | None  # (height, width) of every training image; None: they vary
    max_shape: tuple[int, int]  # the largest (height, width), which the image pools hold
    paired: bool

    def train_dataset(self, config: Config, start_step: int = 0,
                      input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Batches (real_x, real_y) in [-1, 1] for every step from start_step to the end of training.

        With an input_context (tf.distribute), this input pipeline's share of each global batch, in
        per-replica batches: the global batch of step s is images s*B .. s*B+B-1 of the sequence either
        way, so the images of a step do not depend on the number of replicas or workers."""
        per_epoch = self.steps_per_epoch * config.batch_size
        total = config.total_epochs * per_epoch
        pick, load = self._reading(config, per_epoch, total, tf.constant(config.seed, tf.int64))
        indices, batch = image_indices(config, start_step, total, input_context)
        return (indices.map(pick).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))

    def _reading(self, config: Config, per_epoch: int, total: int, seed):
        """(pick: position g -> what to read, load: that -> (real_x, real_y)), tf.data functions."""
        raise NotImplementedError

    def _test_images(self, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The first n test images of X and of Y, uint8 at size x size."""
        raise NotImplementedError

    def _decoded(self, fn, args, config: Config, channels: int):
        """fn(*args) -> a uint8 image, as a tf.data op, with the shape it is known to have."""
        image = tf.numpy_function(fn, args, tf.uint8, stateful=False)
        image.set_shape([None, None, channels] if config.crops or self.image_shape is None
                        else [*self.image_shape, channels])
        return image

    def sample_batch(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """Fixed test images of each domain at crop_size, in [-1, 1], for the sample grid."""
        return tuple(to_float(images) for images in self._test_images(config.n_samples, config.crop_size))

    def eval_images(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """The first --eval_images test images of each domain, uint8 at crop_size, for --eval_every."""
        x, y = self._test_images(config.eval_images, config.crop_size)
        return (x[:len(y)], y[:len(x)]) if self.paired else (x, y)


@dataclasses.dataclass
class Unpaired(TrainingData):
    """Domain X and domain Y of a run; an epoch is max(|X|, |Y|) images, the shorter domain re-sampled."""

    x: ImageList
    y: ImageList
    test_x: ImageList
    test_y: ImageList

    @classmethod
    def from_domains(cls, domains: Domains, config: Config) -> "Unpaired":
        swap = lambda a, b: swap_ab((a, b), config.direction)  # noqa: E731  (X and Y from A and B)
        x, y = swap(domains.train_a.capped(config.max_dataset_size), domains.train_b.capped(config.max_dataset_size))
        test_x, test_y = swap(domains.test_a or domains.train_a, domains.test_b or domains.train_b)
        name_x, name_y = swap(domains.name_a, domains.name_b)
        steps = max(len(x), len(y)) // config.batch_size
        if steps < 1:
            raise DatasetError(f"--batch_size {config.batch_size} is larger than the dataset "
                               f"({max(len(x), len(y))} images per domain)")
        image_shape, max_shape = training_shapes(lambda: x.sizes() + y.sizes(), config)
        paired = domains.paired and domains.test_a is not None and domains.test_b is not None
        return cls(name_x, name_y, steps, image_shape, max_shape, paired, x, y, test_x, test_y)

    def summary(self) -> str:
        return f"{len(self.x)} {self.name_x} (X) and {len(self.y)} {self.name_y} (Y) training images"

    def _reading(self, config, per_epoch, total, seed):
        n_x, n_y = len(self.x), len(self.y)
        # CUT's decay epochs see the images resized to crop_size (Config.decay_resizes); the epoch of
        # image g decides, so a resumed run resizes as one that never stopped.
        configs = {False: config, True: dataclasses.replace(config, load_size=config.crop_size)}
        decay_from = (config.n_epochs - config.epoch_count + 1) if config.decay_resizes else total + 1

        def pick(g):
            epoch, i = g // per_epoch, g % per_epoch
            position = (g, epoch >= decay_from)
            if config.serial_batches:  # the reference's --serial_batches: both domains in order
                return i % n_x, i % n_y, position
            # A fresh permutation of the epoch for X (reference: shuffled index % |A|), uniform for Y.
            ix = tf.random.experimental.index_shuffle(
                i, seed=tf.stack([seed, epoch]), max_index=per_epoch - 1) % n_x
            iy = tf.random.stateless_uniform([], seed=tf.stack([seed, 4 * g]), minval=0, maxval=n_y,
                                             dtype=tf.int64)
            return ix, iy, position

        def read(images: ImageList, index, decaying):
            return self._decoded(lambda i, d: load_preprocessed(images.items[int(i)], configs[bool(d)]),
                                 [index, decaying], config, 3)

        def load(ix, iy, position):
            # Seeds (seed, 4g+1..3) never collide with the one pick() uses for Y, (seed, 4g).
            g, decaying = position
            return (augment(read(self.x, ix, decaying), config, seed, 4 * g + 1),
                    augment(read(self.y, iy, decaying), config, seed, 4 * g + 2))

        return pick, load

    def _test_images(self, n, size):
        return first_images(self.test_x, n, size), first_images(self.test_y, n, size)


@dataclasses.dataclass
class PairedData(TrainingData):
    """A run's pairs (x, y); an epoch is every pair once, as the reference."""

    train: PairList
    test: PairList
    swap: bool  # x is B

    @classmethod
    def from_pairs(cls, pairs: Pairs, config: Config) -> "PairedData":
        train = pairs.train.capped(config.max_dataset_size)
        steps = len(train) // config.batch_size
        if steps < 1:
            raise DatasetError(f"--batch_size {config.batch_size} is larger than the dataset ({len(train)} pairs)")
        image_shape, max_shape = training_shapes(train.sizes, config)
        name_x, name_y = swap_ab((pairs.name_a, pairs.name_b), config.direction)
        return cls(name_x, name_y, steps, image_shape, max_shape, True, train, pairs.test or pairs.train,
                   config.direction == "BtoA")

    def summary(self) -> str:
        return f"{len(self.train)} training pairs ({self.name_x} -> {self.name_y})"

    def _xy(self, a, b):
        return (b, a) if self.swap else (a, b)

    def _reading(self, config, per_epoch, total, seed):
        n = len(self.train)

        def pick(g):
            # A fresh permutation of the n pairs each epoch, of which the epoch's per_epoch (n less the
            # remainder of a batch) are trained on: the left-over pairs differ from epoch to epoch.
            epoch, i = g // per_epoch, g % per_epoch
            if config.serial_batches:
                return (epoch * per_epoch + i) % n, g
            return tf.random.experimental.index_shuffle(i, seed=tf.stack([seed, epoch]), max_index=n - 1), g

        def load(index, g):  # one crop and one flip for both images of the pair
            image = self._decoded(lambda i: load_pair(self.train, int(i), config), [index], config, 6)
            image = augment(image, config, seed, 4 * g + 1)
            return self._xy(image[..., :3], image[..., 3:])

        return pick, load

    def _test_images(self, n, size):
        return self._xy(*first_pairs(self.test, n, size))
