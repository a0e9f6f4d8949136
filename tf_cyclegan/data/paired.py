"""Paired data, pix2pix's: every A image comes with its B image.

Three layouts, as the reference's users have them: the aligned layout of its `--dataset_mode aligned`
(PATH/train/, val/, test/, each file the A image and the B image side by side, A left), two folders paired
by file name (PATH/trainA/x.jpg with PATH/trainB/x.jpg, `--paired`), and the official pix2pix datasets by
name (`pix2pix/facades`, tf_cyclegan.data.pix2pix_datasets, aligned). The embedded dataset has a paired
form too (tf_cyclegan.data.embedded).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from PIL import Image

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.data.images import check_image, decode, list_images, open_image
from tf_cyclegan.data.splits import Nouns, Split, check_splits
from tf_cyclegan.data.unpaired import domain_names

ALIGNED_SPLITS = ("train", "val", "test")
LAYOUT_HELP = ("a folder with train/ [val/ test/] of A|B images side by side (the aligned layout; "
               "python -m tf_cyclegan.datasets.combine builds it), a folder with trainA/ trainB/ paired by "
               "file name with --paired, 'seasons', or pix2pix/NAME")
PAIRS = Nouns("pair", "usable", "unusable")


def split_aligned(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """(A, B): the left and right halves of an aligned image."""
    width, height = image.size
    return image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width, height))


@dataclasses.dataclass
class PairList(Split):
    """The pairs of one split: each item a path to an aligned A|B file, or an (A, B) tuple of paths or
    encoded bytes."""

    def images(self, index: int) -> tuple[Image.Image, Image.Image]:
        """(A, B) as RGB images at their own size."""
        item = self.items[index]
        if isinstance(item, tuple):
            return decode(item[0]), decode(item[1])
        return split_aligned(decode(item))

    def sizes(self) -> list[tuple[int, int]]:
        """(width, height) of every pair's A image, from the headers."""
        def size(item):
            with open_image(item[0] if isinstance(item, tuple) else item) as image:
                return image.size if isinstance(item, tuple) else (image.size[0] // 2, image.size[1])

        return self.map(size)

    def problem(self, item, max_pixels: int) -> str | None:
        return check_pair(item, max_pixels)


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
        with open_image(part) as image:
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
        """The pairs without unusable ones, and how many files were skipped (each listed in `report`:
        unreadable, an odd width, halves of different sizes, no partner); stops when the training split has
        no usable pair or too many bad ones."""
        alone = [(split, file, "no partner of the same name in the other folder")
                 for split, file in self.unpartnered]
        splits, skipped = check_splits(self.description, {"train": self.train, "test": self.test}, ("train",),
                                       PAIRS, max_pixels, max_bad_fraction, report, alone)
        return dataclasses.replace(self, **splits), skipped


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
