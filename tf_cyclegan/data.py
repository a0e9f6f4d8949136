"""Image sources (TFDS, a folder, the embedded dataset) and the unpaired tf.data pipeline.

Every source becomes a list of images per split (file paths or encoded bytes). Pillow decodes them: it reads
every mode real folders hold (grayscale, RGBA, palette, CMYK, 16-bit, animated GIF, WebP) and its bicubic
resize is the one the reference uses. The pipeline is a pure function of (seed, step): which images and
which crops step s sees never depends on what ran before, so a resumed run sees exactly the data an
uninterrupted one would have seen.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from tf_cyclegan.config import Config, size_multiple
from tf_cyclegan.directions import swap_ab
from tf_cyclegan.errors import DatasetError, first_line

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")
SPLITS = ("trainA", "trainB", "testA", "testB")
CYCLE_GAN_CONFIGS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
                     "ukiyoe2photo", "vangogh2photo", "maps", "facades", "iphone2dslr_flower")
CYCLE_GAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"
SEASONS = "seasons"


# -- decoding --------------------------------------------------------------------------------------
def decode(item: str | bytes) -> Image.Image:
    """Any image file or encoded bytes as an 8-bit RGB image (the first frame of an animation)."""
    return to_rgb(Image.open(io.BytesIO(item) if isinstance(item, bytes) else item))


def to_rgb(image: Image.Image) -> Image.Image:
    """An image of any mode as 8-bit RGB; 16- and 32-bit grey keep their top 8 bits (Pillow's convert
    would clip them to white)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        depth = 16 if image.mode.startswith("I;16") else 32
        array = np.asarray(image, dtype=np.uint32) >> (depth - 8)
        image = Image.fromarray(array.astype(np.uint8), mode="L")
    return image.convert("RGB")


def load_resized(item: str | bytes, size: int) -> np.ndarray:
    """(size, size, 3) uint8, resized with bicubic interpolation as the reference."""
    image = decode(item)
    if image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


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
    size = preprocessed_size(*image.size, config)
    if image.size != size:
        image = image.resize(size, Image.BICUBIC)
    return np.asarray(image, dtype=np.uint8)


def image_size(item: str | bytes) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    with Image.open(io.BytesIO(item) if isinstance(item, bytes) else item) as image:
        return image.size


def check_image(item: str | bytes, max_pixels: int) -> str | None:
    """Why an image cannot be used (None if it can): the size comes from the header, so a decompression
    bomb is refused without being decoded; the rest is decoded in full, which finds truncated files."""
    try:
        with Image.open(io.BytesIO(item) if isinstance(item, bytes) else item) as image:
            width, height = image.size
            if width * height > max_pixels:
                return f"too large: {width}x{height} pixels, over --max_image_pixels {max_pixels}"
            image.load()
        return None
    except Image.DecompressionBombError as e:
        return f"too large: {e}"
    except Exception as e:  # Pillow raises many types for bad files
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


@dataclasses.dataclass
class ImageList:
    """The images of one split: file paths (read lazily) or encoded bytes (held in memory)."""

    name: str
    items: list

    def __len__(self):
        return len(self.items)

    def load(self, index: int, size: int) -> np.ndarray:
        return load_resized(self.items[index], size)

    def _map(self, fn) -> list:
        """fn over every item in parallel threads (Pillow releases the GIL while it reads and decodes)."""
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return list(pool.map(fn, self.items))

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of every image, from the headers."""
        return self._map(image_size)

    def capped(self, n: int | None) -> "ImageList":
        return self if n is None else ImageList(self.name, self.items[:n])

    def label(self, index: int) -> str:
        item = self.items[index]
        return item if isinstance(item, str) else f"{self.name}[{index}]"

    def checked(self, max_pixels: int) -> tuple["ImageList", list[tuple[str, str]]]:
        """(the usable images, [(file, reason)] for the others), decoding in parallel threads."""
        reasons = self._map(lambda item: check_image(item, max_pixels))
        good = [item for item, reason in zip(self.items, reasons) if reason is None]
        bad = [(self.label(i), reason) for i, reason in enumerate(reasons) if reason is not None]
        return ImageList(self.name, good), bad


@dataclasses.dataclass
class Domains:
    """The two unpaired image collections of a dataset, with test splits for samples when present."""

    train_a: ImageList
    train_b: ImageList
    test_a: ImageList | None
    test_b: ImageList | None
    name_a: str = "A"
    name_b: str = "B"
    description: str = ""
    ignored: int = 0  # non-image files seen in folders
    paired: bool = False  # test_a[i] and test_b[i] show the same scene (a ground truth for evaluation)

    def checked(self, max_pixels: int, max_bad_fraction: float, report: Path):
        """The domains without unreadable images; every skipped file goes into `report`. Stops (before
        any model is built) when a training split has no usable image or too many bad ones."""
        from tf_cyclegan.fileio import atomic_write

        splits, lines, problems = {}, [], []
        for split in ("train_a", "train_b", "test_a", "test_b"):
            images = getattr(self, split)
            if images is None:
                splits[split] = None
                continue
            good, bad = images.checked(max_pixels)
            splits[split] = good if len(good) else None
            lines += [f"{images.name}\t{item}\t{reason}" for item, reason in bad]
            if split.startswith("train") and bad:
                if not len(good):
                    problems.append(f"{images.name} has no readable image ({len(bad)} unreadable)")
                elif len(bad) / len(images) > max_bad_fraction:
                    problems.append(f"{len(bad)} of {len(images)} images in {images.name} are unreadable "
                                    f"({len(bad) / len(images):.0%}, over --max_bad_fraction {max_bad_fraction})")
        header = f"# {len(lines)} unreadable image(s) skipped; split, file, reason\n"
        atomic_write(report, header + "".join(line + "\n" for line in lines))
        if problems:
            raise DatasetError(f"{self.description}: " + "; ".join(problems) + f"; see {report}")
        return dataclasses.replace(self, **splits), len(lines)


# -- sources ---------------------------------------------------------------------------------------
def list_images(folder: Path) -> tuple[list[str], int]:
    """Image files under folder (recursively, sorted, hidden files skipped) and the count of others."""
    images, ignored = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for f in sorted(files):
            if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith("."):
                images.append(os.path.join(root, f))
            else:
                ignored += 1
    return images, ignored


def domain_names(name: str) -> tuple[str, str]:
    """'horse2zebra' -> ('horse', 'zebra'); anything else -> ('A', 'B')."""
    parts = name.split("2")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else ("A", "B")


def folder_domains(path: str | os.PathLike) -> Domains:
    """A folder in the reference layout: trainA/ trainB/ and, optionally, testA/ testB/."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DatasetError(f"--dataset {path}: no such folder (expected a folder with trainA/ and trainB/ "
                           "of images, 'seasons', or a TFDS name such as cycle_gan/horse2zebra)")
    lists, ignored = {}, 0
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            if split.startswith("train"):
                raise DatasetError(f"--dataset {path}: {folder} is missing (expected trainA/ and trainB/ "
                                   "folders of images, and optionally testA/ testB/)")
            lists[split] = None
            continue
        images, n_ignored = list_images(folder)
        ignored += n_ignored
        if not images and split.startswith("train"):
            raise DatasetError(f"--dataset {path}: {split} is empty (no {'/'.join(IMAGE_EXTENSIONS)} files "
                               f"in {folder})")
        lists[split] = ImageList(split, images) if images else None
    name_a, name_b = domain_names(root.resolve().name)
    return Domains(lists["trainA"], lists["trainB"], lists["testA"], lists["testB"], name_a, name_b,
                   description=f"folder {root}", ignored=ignored)


def seasons_root(paired: bool = False) -> Path:
    """The embedded dataset's cache folder; `paired`: its form for paired training (pix2pix)."""
    from tf_cyclegan.datasets import seasons
    from tf_cyclegan.fileio import cache_dir

    return cache_dir() / f"seasons-{'paired-' if paired else ''}v1-{seasons.SIZE}"


def seasons_domains() -> Domains:
    """The embedded dataset: rendered on first use (seconds), then read from the cache folder."""
    from tf_cyclegan.datasets import seasons

    root = seasons.write_dataset(seasons_root())
    domains = folder_domains(root)
    domains.name_a, domains.name_b = "summer", "winter"
    domains.paired = True  # testA[i] and testB[i] are one scene rendered in both seasons
    domains.description = f"embedded seasons dataset ({root})"
    return domains


def _reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    """A quick look before TFDS's download, which retries for minutes when offline."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _download_help(name: str, config: str, manual_dir: str, reason: str) -> str:
    url = CYCLE_GAN_URL.format(config)
    return (f"--dataset {name}: could not download it ({reason}). Offline? Put {config}.zip (from {url}) "
            f"into {manual_dir} and run again (TFDS checks it and builds from it), or unzip it and pass "
            f"--dataset /path/to/{config} (a folder with trainA/ trainB/ testA/ testB/)")


def tfds_domains(name: str, data_dir: str | None = None) -> Domains:
    """A TFDS dataset with trainA/trainB (and testA/testB) splits, such as cycle_gan/horse2zebra."""
    import tensorflow_datasets as tfds

    family, _, config = name.partition("/")
    if family == "cycle_gan" and config not in CYCLE_GAN_CONFIGS:
        raise DatasetError(f"--dataset {name}: unknown cycle_gan config {config!r}; choose one of "
                           + ", ".join(f"cycle_gan/{c}" for c in CYCLE_GAN_CONFIGS))
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # TFDS raises several types for unknown names
        raise DatasetError(f"--dataset {name}: not a folder, 'seasons', or a TFDS dataset "
                           f"({first_line(e)})") from None
    root = os.path.expanduser(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
    manual_dir = os.path.join(root, "downloads", "manual")
    if not builder.is_prepared():
        zip_in_manual = family == "cycle_gan" and os.path.exists(os.path.join(manual_dir, f"{config}.zip"))
        if family == "cycle_gan" and not zip_in_manual:
            host = CYCLE_GAN_URL.split("/")[2]
            if not _reachable(host):
                raise DatasetError(_download_help(name, config, manual_dir, f"{host} is unreachable"))
        try:
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
        except Exception as e:
            reason = first_line(e, limit=200)
            if family == "cycle_gan":
                raise DatasetError(_download_help(name, config, manual_dir, reason)) from None
            raise DatasetError(f"--dataset {name}: TFDS could not prepare it ({reason})") from None
    known = set(builder.info.splits.keys()) if builder.info.splits else set(SPLITS)
    missing = [s for s in ("trainA", "trainB") if s not in known]
    if missing:
        raise DatasetError(f"--dataset {name}: has no split {', '.join(missing)} (it has "
                           f"{', '.join(sorted(known))}); a CycleGAN dataset needs trainA and trainB")
    lists = {}
    for split in SPLITS:
        if split not in known:
            lists[split] = None
            continue
        ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
        items = [bytes(ex["image"]) for ex in ds.as_numpy_iterator()]
        if not items and split.startswith("train"):
            raise DatasetError(f"--dataset {name}: {split} is empty")
        lists[split] = ImageList(split, items) if items else None
    name_a, name_b = domain_names(config or family)
    return Domains(lists["trainA"], lists["trainB"], lists["testA"], lists["testB"], name_a, name_b,
                   description=f"TFDS {name}")


def load_domains(dataset: str, data_dir: str | None = None) -> Domains:
    """'seasons', an existing folder, or a TFDS name, in that order."""
    if dataset == SEASONS:
        return seasons_domains()
    if dataset.startswith("pix2pix/"):
        raise DatasetError(f"--dataset {dataset}: a paired dataset; train it with --model pix2pix (CycleGAN's "
                           "unpaired datasets are cycle_gan/NAME)")
    if os.path.isdir(os.path.expanduser(dataset)) or dataset.startswith((".", "/", "~")):
        return folder_domains(dataset)
    return tfds_domains(dataset, data_dir)


# -- the unpaired pipeline -------------------------------------------------------------------------
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


@dataclasses.dataclass
class Unpaired:
    """Domain X and domain Y of a run (A and B, swapped by --direction BtoA) and the epoch geometry."""

    x: ImageList
    y: ImageList
    test_x: ImageList
    test_y: ImageList
    name_x: str
    name_y: str
    steps_per_epoch: int
    image_shape: tuple[int, int] | None  # (height, width) of every training image; None: they vary
    max_shape: tuple[int, int]  # the largest (height, width), which the image pools hold
    paired: bool = False  # test_x[i] and test_y[i] show the same scene (see Domains)

    @classmethod
    def from_domains(cls, domains: Domains, config: Config) -> "Unpaired":
        swap = lambda a, b: swap_ab((a, b), config.direction)  # noqa: E731  (X and Y from A and B)
        x, y = swap(domains.train_a.capped(config.max_dataset_size), domains.train_b.capped(config.max_dataset_size))
        test_x, test_y = swap(domains.test_a or domains.train_a, domains.test_b or domains.train_b)
        name_x, name_y = swap(domains.name_a, domains.name_b)
        # An epoch is max(|A|, |B|) images, as the reference; the shorter domain is re-sampled.
        steps = max(len(x), len(y)) // config.batch_size
        if steps < 1:
            raise DatasetError(f"--batch_size {config.batch_size} is larger than the dataset "
                               f"({max(len(x), len(y))} images per domain)")
        image_shape, max_shape = training_shapes(lambda: x.sizes() + y.sizes(), config)
        paired = domains.paired and domains.test_a is not None and domains.test_b is not None
        return cls(x, y, test_x, test_y, name_x, name_y, steps, image_shape, max_shape, paired)

    def summary(self) -> str:
        return f"{len(self.x)} {self.name_x} (X) and {len(self.y)} {self.name_y} (Y) training images"

    def train_dataset(self, config: Config, start_step: int = 0,
                      input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        """Batches (real_x, real_y) in [-1, 1] for every step from start_step to the end of training.

        With an input_context (tf.distribute), this input pipeline's share of each global batch, in
        per-replica batches: the global batch of step s is images s*B .. s*B+B-1 of the sequence either
        way, so the images of a step do not depend on the number of replicas or workers."""
        per_epoch = self.steps_per_epoch * config.batch_size
        total = config.total_epochs * per_epoch
        seed = tf.constant(config.seed, tf.int64)
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

        def load(images: ImageList, index, decaying):
            image = tf.numpy_function(lambda i, d: load_preprocessed(images.items[int(i)], configs[bool(d)]),
                                      [index, decaying], tf.uint8, stateful=False)
            image.set_shape([None, None, 3] if config.crops or self.image_shape is None
                            else [*self.image_shape, 3])
            return image

        def preprocess(image, counter):
            # Seeds (seed, 4g+1..3) never collide with the one pick() uses for Y, (seed, 4g).
            if config.crops:
                image = tf.image.stateless_random_crop(image, [config.crop_size, config.crop_size, 3],
                                                       seed=tf.stack([seed, counter]))
            if not config.no_flip:
                image = tf.image.stateless_random_flip_left_right(image, seed=tf.stack([seed, counter + 1]))
            return tf.cast(image, tf.float32) / 127.5 - 1.0

        def load_pair(ix, iy, position):
            g, decaying = position
            return (preprocess(load(self.x, ix, decaying), 4 * g + 1),
                    preprocess(load(self.y, iy, decaying), 4 * g + 2))

        indices, batch = image_indices(config, start_step, total, input_context)
        return (indices
                .map(pick)
                .map(load_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch, drop_remainder=True)
                .prefetch(tf.data.AUTOTUNE))

    def sample_batch(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """Fixed test images of each domain, resized to crop_size, in [-1, 1], for the sample grid."""
        return tuple(first_images(images, config.n_samples, config.crop_size).astype(np.float32) / 127.5 - 1
                     for images in (self.test_x, self.test_y))

    def eval_images(self, config: Config) -> tuple[np.ndarray, np.ndarray]:
        """The first --eval_images test images of each domain, uint8 at crop_size, for --eval_every."""
        x, y = (first_images(images, config.eval_images, config.crop_size) for images in (self.test_x, self.test_y))
        return (x[:len(y)], y[:len(x)]) if self.paired else (x, y)


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


def first_images(images: ImageList, n: int, size: int) -> np.ndarray:
    """The first n images (or all, if fewer) as uint8 [n, size, size, 3], bicubic-resized."""
    return np.stack([images.load(i, size) for i in range(min(n, len(images)))])
