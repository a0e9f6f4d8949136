"""The embedded dataset: scenes by seed, the seeds of each split, and the dataset written as a folder in the
reference's layout (trainA/ summer, trainB/ winter, testA/ testB/ the same scenes in both seasons)."""

from __future__ import annotations

import json
import operator
import shutil
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
from PIL import Image

from tf_cyclegan.core.files import install_folder, make_temp_dir
from tf_cyclegan.data.seasons.painting import render
from tf_cyclegan.data.seasons.scene import layout

SIZE = 128  # the default render size: SIZE x SIZE x 3 uint8 images
MIN_SIZE = 32  # the smallest supported render size
SEASONS = ("summer", "winter")  # domain A is summer, domain B winter
# Bumped whenever the pictures change; stored in the dataset's marker, so that a dataset written by an older
# renderer is rendered again rather than reused.
RENDER_VERSION = 1
MARKER = ".complete"  # written last into a finished dataset folder
TRAIN, TEST = 400, 40  # images per training and test split


class Split(NamedTuple):
    """The season a split is rendered in and its seeds: scene i (0 <= i < capacity) has seed seed_start + i."""

    season: str
    seed_start: int
    capacity: int


_BLOCK = 1_000_000
SPLITS = {
    # Unpaired training domains: disjoint seed ranges, so no trainA scene is ever shown in winter in training.
    "trainA": Split("summer", 0 * _BLOCK, _BLOCK),
    "trainB": Split("winter", 1 * _BLOCK, _BLOCK),
    # Paired test domains: testA[i] and testB[i] are the same scene (seed) in summer and in winter, from a
    # range disjoint from both training ranges.
    "testA": Split("summer", 2 * _BLOCK, _BLOCK),
    "testB": Split("winter", 2 * _BLOCK, _BLOCK),
}


def render_scene(seed: int, season: str, size: int = SIZE) -> np.ndarray:
    """Scene `seed` in `season` ('summer' or 'winter') as (size, size, 3) uint8; geometry scales with size."""
    if season not in SEASONS:
        raise ValueError(f"season must be one of {SEASONS}, got {season!r}")
    seed = operator.index(seed)
    size = operator.index(size)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    return render(layout(seed), season == "winter", size, seed)


def split_seeds(split: str, n: int) -> list[int]:
    """The first n scene seeds of a split (SPLITS): trainA's and trainB's are disjoint (truly unpaired),
    split_seeds('testA', n) == split_seeds('testB', n) (the same scenes, ground-truth pairs)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    n = operator.index(n)
    info = SPLITS[split]
    if not 0 <= n <= info.capacity:
        raise ValueError(f"n must be in [0, {info.capacity}] for split {split!r}, got {n}")
    return list(range(info.seed_start, info.seed_start + n))


def write_dataset(root, size: int = SIZE, n_train: int = TRAIN, n_test: int = TEST, paired: bool = False) -> Path:
    """Render the dataset into root in the reference's layout: trainA/ (summer) and trainB/ (winter) of
    n_train images, testA/ and testB/ of n_test (testB/0007.png is the winter of testA/0007.png), files named
    0000.png, 0001.png, ... With `paired`, the training splits are paired too, for pix2pix: trainB/0007.png is
    the winter of trainA/0007.png.

    Atomic: rendered into a temporary sibling folder, the marker (JSON with the parameters) written last,
    then renamed into place, so an interrupted render never leaves a half-written root. A root complete with
    the same parameters is returned at once; one of ours with other parameters (or an older renderer) is
    replaced; a non-empty folder without the marker is not ours, and raises FileExistsError instead."""
    root = Path(root)
    size, n_train, n_test = operator.index(size), operator.index(n_train), operator.index(n_test)
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    counts = {"trainA": n_train, "trainB": n_train, "testA": n_test, "testB": n_test}
    seeds = {split: split_seeds(split, n) for split, n in counts.items()}  # checks n
    if paired:
        seeds["trainB"] = seeds["trainA"]
    params = {"dataset": "seasons", "render_version": RENDER_VERSION, "size": size, "n_train": n_train,
              "n_test": n_test, **({"paired": True} if paired else {})}
    if read_marker(root) == params:
        return root
    _check_replaceable(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(root.parent, f".{root.name}.partial-")
    try:
        for split, numbers in seeds.items():
            folder = tmp / split
            folder.mkdir()
            for i, seed in enumerate(numbers):
                image = render_scene(seed, SPLITS[split].season, size)
                Image.fromarray(image).save(folder / f"{i:04d}.png", compress_level=1)
        (tmp / MARKER).write_text(json.dumps(params, sort_keys=True) + "\n")
        install_folder(tmp, root, lambda there: read_marker(there) == params)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def read_marker(root: Path) -> dict | None:
    """The parameters a finished dataset was rendered with; None for anything else."""
    try:
        return json.loads((Path(root) / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _check_replaceable(root: Path):
    """Refuse to replace anything at root but a dataset of ours (with the marker) or an empty folder."""
    if not root.exists():
        return
    if not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a directory")
    if read_marker(root) is None and any(root.iterdir()):
        raise FileExistsError(f"{root} exists, is not empty and is not a finished seasons dataset (no {MARKER}); "
                              "refusing to overwrite it")


def preview_grid(seeds: Sequence[int] = (0, 1, 2, 3, 4, 5), size: int = SIZE, gap: int = 4) -> np.ndarray:
    """A summer row above a winter row of the scenes, as one uint8 image."""
    seeds = list(seeds)
    h = 2 * size + 3 * gap
    w = len(seeds) * size + (len(seeds) + 1) * gap
    grid = np.full((h, w, 3), 255, np.uint8)
    for k, seed in enumerate(seeds):
        x = gap + k * (size + gap)
        grid[gap:gap + size, x:x + size] = render_scene(seed, "summer", size)
        grid[2 * gap + size:2 * gap + 2 * size, x:x + size] = render_scene(seed, "winter", size)
    return grid

