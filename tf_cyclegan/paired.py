"""Paired data (pix2pix): image sources where every A image comes with its B image, and their pipeline.

Three layouts, as the reference's users have them: the aligned layout of its `--dataset_mode aligned`
(PATH/train/, val/, test/, each file the A image and the B image side by side, A left), two folders
paired by file name (PATH/trainA/x.jpg with PATH/trainB/x.jpg, `--paired`), and the official pix2pix
datasets by name (`pix2pix/facades`, downloaded once into the cache, aligned). The embedded dataset has a
paired form too. Every step crops and flips both images of a pair in the same way, and, as the unpaired
pipeline, is a pure function of (seed, step), so a resumed run sees exactly the data of one that never
stopped.
"""

from __future__ import annotations

import dataclasses
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from tf_cyclegan.config import Config
from tf_cyclegan.data import (SEASONS, check_image, decode, domain_names, image_indices, list_images,
                              preprocessed_size, seasons_root, training_shapes)
from tf_cyclegan.directions import swap_ab
from tf_cyclegan.errors import DatasetError

ALIGNED_SPLITS = ("train", "val", "test")
PIX2PIX_PREFIX = "pix2pix/"
LAYOUT_HELP = ("a folder with train/ [val/ test/] of A|B images side by side (the aligned layout; "
               "python -m tf_cyclegan.datasets.combine builds it), a folder with trainA/ trainB/ paired by "
               "file name with --paired, 'seasons', or pix2pix/NAME")


def _open(item):
    return Image.open(io.BytesIO(item) if isinstance(item, bytes) else item)


def split_aligned(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """(A, B): the left and right halves of an aligned image."""
    width, height = image.size
    return image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width, height))


@dataclasses.dataclass
class PairList:
    """The pairs of one split: each item a path to an aligned A|B file, or an (A, B) tuple of paths or
    encoded bytes."""

    name: str
    items: list

    def __len__(self):
        return len(self.items)

    def capped(self, n: int | None) -> "PairList":
        return self if n is None else PairList(self.name, self.items[:n])

    def label(self, index: int) -> str:
        item = self.items[index]
        if isinstance(item, tuple):
            return " + ".join(part if isinstance(part, str) else f"{self.name}[{index}]" for part in item)
        return item if isinstance(item, str) else f"{self.name}[{index}]"

    def images(self, index: int) -> tuple[Image.Image, Image.Image]:
        """(A, B) as RGB images at their own size."""
        item = self.items[index]
        if isinstance(item, tuple):
            return decode(item[0]), decode(item[1])
        return split_aligned(decode(item))

    def _map(self, fn) -> list:
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return list(pool.map(fn, self.items))

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of every pair's A image, from the headers."""
        def size(item):
            if isinstance(item, tuple):
                with _open(item[0]) as image:
                    return image.size
            with _open(item) as image:
                return image.size[0] // 2, image.size[1]

        return self._map(size)

    def checked(self, max_pixels: int) -> tuple["PairList", list[tuple[str, str]]]:
        """(the usable pairs, [(file, reason)] for the others)."""
        reasons = self._map(lambda item: check_pair(item, max_pixels))
        good = [item for item, reason in zip(self.items, reasons) if reason is None]
        bad = [(self.label(i), reason) for i, reason in enumerate(reasons) if reason is not None]
        return PairList(self.name, good), bad


def check_pair(item, max_pixels: int) -> str | None:
    """Why a pair cannot be used (None if it can): an unreadable image, an aligned image whose width is odd
    (it is not two halves), or halves of different sizes."""
    parts = item if isinstance(item, tuple) else (item,)
    for part in parts:
        reason = check_image(part, max_pixels)
        if reason:
            return reason
    sizes = []
    for part in parts:
        with _open(part) as image:
            sizes.append(image.size)
    if not isinstance(item, tuple):
        width, height = sizes[0]
        if width % 2:
            return (f"odd width {width}: an aligned image is the A and B images side by side, two halves of "
                    "equal width")
        return None
    (wa, ha), (wb, hb) = sizes
    if (wa, ha) != (wb, hb):
        return f"the A image is {wa}x{ha} and the B image {wb}x{hb}: the two images of a pair must be the same size"
    return None


@dataclasses.dataclass
class Pairs:
    """A paired dataset: training pairs, and test pairs when it has them."""

    train: PairList
    test: PairList | None
    name_a: str = "A"
    name_b: str = "B"
    description: str = ""
    ignored: int = 0  # non-image files seen in the folders
    unpartnered: list = dataclasses.field(default_factory=list)  # files of one folder without a partner
    paired: bool = True  # (what Domains.paired says: a truth for every test input)

    def checked(self, max_pixels: int, max_bad_fraction: float, report: Path):
        """The pairs without unusable ones; every skipped file (unreadable, an odd width, halves of
        different sizes, no partner) goes into `report`. Stops before any model is built when the training
        split has no usable pair or too many bad ones."""
        from tf_cyclegan.fileio import atomic_write

        lines = [f"{split}\t{file}\tno partner of the same name in the other folder"
                 for split, file in self.unpartnered]
        train, bad = self.train.checked(max_pixels)
        lines += [f"{self.train.name}\t{item}\t{reason}" for item, reason in bad]
        test = None
        if self.test is not None:
            test, bad_test = self.test.checked(max_pixels)
            lines += [f"{self.test.name}\t{item}\t{reason}" for item, reason in bad_test]
            test = test if len(test) else None
        atomic_write(report, f"# {len(lines)} file(s) skipped; split, file, reason\n"
                     + "".join(line + "\n" for line in lines))
        problem = None
        if not len(train):
            problem = f"{self.train.name} has no usable pair ({len(bad)} unusable)"
        elif bad and len(bad) / len(self.train) > max_bad_fraction:
            problem = (f"{len(bad)} of {len(self.train)} pairs in {self.train.name} are unusable "
                       f"({len(bad) / len(self.train):.0%}, over --max_bad_fraction {max_bad_fraction})")
        if problem:
            raise DatasetError(f"{self.description}: {problem}; see {report}")
        return dataclasses.replace(self, train=train, test=test), len(lines)


# -- sources ---------------------------------------------------------------------------------------
def aligned_pairs(path: str | os.PathLike, description: str | None = None, need_train: bool = True) -> Pairs:
    """The aligned layout: PATH/train/ and optionally val/ and test/ (test/ is tested on, else val/);
    without `need_train` (evaluation), a test/ or val/ alone will do."""
    root = Path(path).expanduser()
    found, ignored = {}, 0
    for split in ALIGNED_SPLITS:
        if (root / split).is_dir():
            found[split], n_ignored = list_images(root / split)
            ignored += n_ignored
    test = next((PairList(split, found[split]) for split in ("test", "val") if found.get(split)), None)
    if not found.get("train") and (need_train or test is None):
        raise DatasetError(f"--dataset {path}: {root / 'train'} is missing or holds no images; pix2pix needs "
                           + LAYOUT_HELP)
    name_a, name_b = domain_names(root.resolve().name)
    return Pairs(PairList("train", found.get("train", [])), test, name_a, name_b,
                 description=description or f"aligned folder {root}", ignored=ignored)


def _by_name(folder_a: Path, folder_b: Path) -> tuple[list, list, int]:
    """([(a, b)] with the same path under each folder, [(folder, file)] without a partner, non-images)."""
    files, ignored = {}, 0
    for folder in (folder_a, folder_b):
        images, n_ignored = list_images(folder) if folder.is_dir() else ([], 0)
        files[folder] = {os.path.relpath(f, folder): f for f in images}
        ignored += n_ignored
    a, b = files[folder_a], files[folder_b]
    pairs = [(a[name], b[name]) for name in sorted(a.keys() & b.keys())]
    alone = [(folder.name, files[folder][name]) for folder, other in ((folder_a, b), (folder_b, a))
             for name in sorted(files[folder].keys() - other.keys())]
    return pairs, alone, ignored


def folder_pairs(path: str | os.PathLike, description: str | None = None) -> Pairs:
    """PATH/trainA/ and PATH/trainB/ (optionally testA/ testB/) whose files pair up by name."""
    root = Path(path).expanduser()
    if not (root / "trainA").is_dir() or not (root / "trainB").is_dir():
        raise DatasetError(f"--dataset {path} --paired: needs {root / 'trainA'} and {root / 'trainB'} with "
                           "files of the same names (x.jpg in both)")
    train, alone, ignored = _by_name(root / "trainA", root / "trainB")
    if not train:
        raise DatasetError(f"--dataset {path} --paired: no file name is in both trainA/ and trainB/; pairs "
                           "must have the same name in each")
    test = None
    if (root / "testA").is_dir() and (root / "testB").is_dir():
        test_pairs, test_alone, n_ignored = _by_name(root / "testA", root / "testB")
        alone, ignored = alone + test_alone, ignored + n_ignored
        test = PairList("test", test_pairs) if test_pairs else None
    name_a, name_b = domain_names(root.resolve().name)
    return Pairs(PairList("train", train), test, name_a, name_b,
                 description=description or f"paired folders {root}", ignored=ignored, unpartnered=alone)


def seasons_pairs() -> Pairs:
    """The embedded dataset's paired form: each training scene rendered in both seasons."""
    from tf_cyclegan.datasets import seasons

    root = seasons.write_dataset(seasons_root(paired=True), paired=True)
    pairs = folder_pairs(root, description=f"embedded seasons dataset, paired ({root})")
    pairs.name_a, pairs.name_b = "summer", "winter"
    return pairs


def load_pairs(dataset: str, paired_folders: bool = False, need_train: bool = True) -> Pairs:
    """'seasons', pix2pix/NAME, or a folder (aligned; trainA/ trainB/ by name with --paired); without
    `need_train`, an aligned folder may hold test pairs only."""
    if paired_folders and (dataset == SEASONS or dataset.startswith(PIX2PIX_PREFIX)):
        raise DatasetError(f"--paired: only for a folder with trainA/ and trainB/; --dataset {dataset} is paired "
                           "already (leave --paired out)")
    if dataset == SEASONS:
        return seasons_pairs()
    if dataset.startswith(PIX2PIX_PREFIX):
        from tf_cyclegan.datasets import pix2pix

        name = dataset[len(PIX2PIX_PREFIX):]
        return aligned_pairs(pix2pix.dataset_folder(name), description=f"pix2pix dataset {name}")
    root = Path(dataset).expanduser()
    if not root.is_dir():
        if "/" in dataset and not dataset.startswith((".", "/", "~")):  # a TFDS name such as cycle_gan/maps
            raise DatasetError(f"--dataset {dataset}: TFDS datasets hold unpaired domains; pix2pix needs pairs: "
                               + LAYOUT_HELP)
        raise DatasetError(f"--dataset {dataset}: no such folder; pix2pix needs " + LAYOUT_HELP)
    if paired_folders:
        return folder_pairs(root)
    if not (root / "train").is_dir() and (root / "trainA").is_dir():
        raise DatasetError(f"--dataset {dataset}: holds trainA/ and trainB/, not the aligned train/ folder: "
                           "pass --paired if their files pair up by name, or build the aligned layout with "
                           "python -m tf_cyclegan.datasets.combine")
    return aligned_pairs(root, need_train=need_train)


# -- the paired pipeline ---------------------------------------------------------------------------
def load_pair(pairs: PairList, index: int, config: Config) -> np.ndarray:
    """(height, width, 6) uint8: the A and B images of a pair, both prepared by --preprocess at A's size
    (before any random crop), stacked on the channel axis so that one crop and one flip apply to both."""
    a, b = pairs.images(index)
    size = preprocessed_size(*a.size, config)
    a, b = (image if image.size == size else image.resize(size, Image.BICUBIC) for image in (a, b))
    return np.concatenate([np.asarray(a, np.uint8), np.asarray(b, np.uint8)], axis=-1)


def first_pairs(pairs: PairList, n: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n pairs (or all, if fewer) as uint8 ([n, size, size, 3] A, the same of B), bicubic."""
    a, b = zip(*(pairs.images(i) for i in range(min(n, len(pairs)))))
    resize = lambda image: np.asarray(image if image.size == (size, size)  # noqa: E731
                                      else image.resize((size, size), Image.BICUBIC), np.uint8)
    return np.stack([resize(image) for image in a]), np.stack([resize(image) for image in b])


@dataclasses.dataclass
class PairedData:
    """A run's pairs (x, y): x = A and y = B, swapped by --direction BtoA, and the epoch geometry; the
    loop's counterpart of data.Unpaired."""

    train: PairList
    test: PairList
    name_x: str
    name_y: str
    swap: bool  # x is B
    steps_per_epoch: int
    image_shape: tuple[int, int] | None
    max_shape: tuple[int, int]
    paired: bool = True

    @classmethod
    def from_pairs(cls, pairs: Pairs, config: Config) -> "PairedData":
        train = pairs.train.capped(config.max_dataset_size)
        steps = len(train) // config.batch_size  # an epoch is every pair once, as the reference
        if steps < 1:
            raise DatasetError(f"--batch_size {config.batch_size} is larger than the dataset ({len(train)} pairs)")
        image_shape, max_shape = training_shapes(train.sizes, config)
        name_x, name_y = swap_ab((pairs.name_a, pairs.name_b), config.direction)
        return cls(train, pairs.test or pairs.train, name_x, name_y, config.direction == "BtoA", steps,
                   image_shape, max_shape)

    def summary(self) -> str:
        return f"{len(self.train)} training pairs ({self.name_x} -> {self.name_y})"

    def _xy(self, a, b):
        return (b, a) if self.swap else (a, b)

    def train_dataset(self, config: Config, start_step: int = 0,
                      input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Batches (real_x, real_y) in [-1, 1] for every step from start_step to the end of training; with
        an input_context, this pipeline's share of each global batch (see data.Unpaired.train_dataset)."""
        per_epoch = self.steps_per_epoch * config.batch_size
        total, seed, n = config.total_epochs * per_epoch, tf.constant(config.seed, tf.int64), len(self.train)

        def pick(g):
            # A fresh permutation of the n pairs each epoch, of which the epoch's per_epoch (n less the
            # remainder of a batch) are trained on: the left-over pairs differ from epoch to epoch.
            epoch, i = g // per_epoch, g % per_epoch
            if config.serial_batches:
                return (epoch * per_epoch + i) % n, g
            return tf.random.experimental.index_shuffle(i, seed=tf.stack([seed, epoch]), max_index=n - 1), g

        def load(index, g):
            image = tf.numpy_function(lambda i: load_pair(self.train, int(i), config), [index], tf.uint8,
                                      stateful=False)
            image.set_shape([None, None, 6] if config.crops or self.image_shape is None else [*self.image_shape, 6])
            if config.crops:  # one crop and one flip for both images of the pair
                image = tf.image.stateless_random_crop(image, [config.crop_size, config.crop_size, 6],
                                                       seed=tf.stack([seed, 4 * g + 1]))
            if not config.no_flip:
                image = tf.image.stateless_random_flip_left_right(image, seed=tf.stack([seed, 4 * g + 2]))
            image = tf.cast(image, tf.float32) / 127.5 - 1.0
            return self._xy(image[..., :3], image[..., 3:])

        indices, batch = image_indices(config, start_step, total, input_context)
        return (indices.map(pick).map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE))

    def sample_batch(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """Fixed test pairs at crop_size, in [-1, 1], for the sample grid."""
        a, b = first_pairs(self.test, config.n_samples, config.crop_size)
        return tuple(images.astype(np.float32) / 127.5 - 1 for images in self._xy(a, b))

    def eval_images(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """The first --eval_images test pairs, uint8 at crop_size, for --eval_every."""
        return self._xy(*first_pairs(self.test, config.eval_images, config.crop_size))
