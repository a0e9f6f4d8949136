"""Unpaired data, CycleGAN's and CUT's: two collections of images, domain A and domain B, from a folder in
the reference's layout (trainA/ trainB/ [testA/ testB/]), a TFDS dataset (tf_cyclegan.data.tfds) or the
embedded dataset (tf_cyclegan.data.embedded)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.data.images import IMAGE_EXTENSIONS, check_image, image_size, list_images, load_resized
from tf_cyclegan.data.splits import Nouns, Split, check_splits

SPLITS = ("trainA", "trainB", "testA", "testB")
IMAGES = Nouns("image", "readable", "unreadable")


@dataclasses.dataclass
class ImageList(Split):
    """The images of one split: file paths (read lazily) or encoded bytes (held in memory)."""

    def load(self, index: int, size: int) -> np.ndarray:
        return load_resized(self.items[index], size)

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of every image, from the headers."""
        return self.map(image_size)

    def problem(self, item, max_pixels: int) -> str | None:
        return check_image(item, max_pixels)


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
        """The domains without unreadable images, and how many were skipped (each listed in `report`);
        stops when a training split has no usable image or too many bad ones."""
        splits = {key: getattr(self, key) for key in ("train_a", "train_b", "test_a", "test_b")}
        splits, skipped = check_splits(self.description, splits, ("train_a", "train_b"), IMAGES, max_pixels,
                                       max_bad_fraction, report)
        return dataclasses.replace(self, **splits), skipped


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
