"""Embedded "seasons" dataset: procedurally rendered summer / winter landscapes.

Domain A is *summer*, domain B is *winter*.  Every picture is a scene defined
entirely by an integer seed; the same scene can be rendered in both seasons, so
the test split has exact ground-truth pairs while the train splits are unpaired.

Scene model
    A seeded layout (size-independent, in normalised [0, 1] coordinates) holds a
    sky with optional sun and clouds, 1-3 mountain ridges (piecewise-linear
    silhouettes built from peaks plus midpoint displacement), a rolling ground
    line, an optional lake or river, and 3-12 trees (conifers made of stacked
    triangles, deciduous trees made of trunk + branches + round crown), painted
    far to near, plus a few value-noise lattices used for texture.
    The season only changes how that layout is *rendered*:

    * summer: blue sky with a high sun, white cumulus, brown/grey rock with
      forested mountain feet, green grass, leafy crowns, dark reflective water
      with ripples, warm light;
    * winter: grey/pale overcast sky, low dim sun, snow above a snow line, along
      the ridge crests and in gullies, snow-covered bluish-white ground, snow
      caps on conifer tiers, bare deciduous trees (crowns removed, branches
      shown), frozen pale-blue ice with cracks, cool light.

    So the winter image is *not* a colour transform of the summer one: whole
    regions change material (grass -> snow, crown -> sky behind bare
    branches, water -> ice) depending on the scene geometry.

Determinism
    The layout is drawn from ``np.random.Generator(np.random.PCG64(seed))``
    using only uniform draws, and per-pixel work uses only IEEE-exact
    operations (+, -, *, /, sqrt, min/max, ``np.interp``): no transcendental
    functions, no BLAS reductions, no fonts and no Pillow rasterisation.  The
    same ``(seed, season, size)`` therefore gives byte-identical images on any
    machine (for a given numpy release: the uniform/integer streams of
    ``Generator`` have been stable across releases, but NEP 19 does not promise
    it).  Pillow is used only to write PNG files.  ``RENDER_VERSION`` is bumped
    whenever the pictures change.

The module imports only numpy and Pillow (no TensorFlow) so it loads fast.

Command line::

    python -m tf_cyclegan.datasets.seasons ROOT [--size 128] [--n-train 400] [--n-test 40]
    python -m tf_cyclegan.datasets.seasons --preview out.png [--seeds 0 1 2 3]
"""

from __future__ import annotations

import json
import operator
import os
import pathlib
import shutil
import uuid
from types import SimpleNamespace
from typing import NamedTuple, Sequence

import numpy as np
from PIL import Image

from tf_cyclegan.fileio import make_temp_dir

__all__ = [
    "SIZE",
    "MIN_SIZE",
    "SEASONS",
    "SPLITS",
    "Split",
    "MARKER",
    "RENDER_VERSION",
    "render_scene",
    "split_seeds",
    "write_dataset",
    "preview_grid",
]

SIZE = 128
"""Default render size in pixels (images are SIZE x SIZE x 3 uint8)."""

MIN_SIZE = 32
"""Smallest supported render size."""

SEASONS = ("summer", "winter")
"""Valid ``season`` values: domain A is summer, domain B is winter."""

RENDER_VERSION = 1
"""Bumped whenever the pictures change; stored in the dataset marker so that a
dataset written by an older renderer is re-rendered rather than reused."""

MARKER = ".complete"
"""Name of the marker file written last into a finished dataset folder."""


class Split(NamedTuple):
    """Which season a split is rendered in and which seeds it uses.

    Scene ``i`` of the split (``0 <= i < capacity``) has seed ``seed_start + i``.
    """

    season: str
    seed_start: int
    capacity: int


_BLOCK = 1_000_000

SPLITS = {
    # Unpaired training domains: disjoint seed ranges, so no trainA scene is
    # ever shown in winter during training and vice versa.
    "trainA": Split("summer", 0 * _BLOCK, _BLOCK),  # seeds 0 .. 999_999
    "trainB": Split("winter", 1 * _BLOCK, _BLOCK),  # seeds 1_000_000 .. 1_999_999
    # Paired test domains: testA[i] and testB[i] are the same scene (same seed)
    # in summer and in winter; the range is disjoint from both train ranges.
    "testA": Split("summer", 2 * _BLOCK, _BLOCK),  # seeds 2_000_000 .. 2_999_999
    "testB": Split("winter", 2 * _BLOCK, _BLOCK),  # seeds 2_000_000 .. 2_999_999
}
"""Split name -> :class:`Split` (season, first seed, number of seeds available)."""


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def render_scene(seed: int, season: str, size: int = SIZE) -> np.ndarray:
    """Render scene ``seed`` in ``season`` as a ``(size, size, 3)`` uint8 array.

    ``season`` is ``'summer'`` (domain A) or ``'winter'`` (domain B); anything
    else raises ``ValueError``.  ``seed`` must be a non-negative integer and
    ``size`` an integer >= ``MIN_SIZE``; geometry scales with ``size``.
    """
    if season not in SEASONS:
        raise ValueError(f"season must be one of {SEASONS}, got {season!r}")
    seed = operator.index(seed)
    size = operator.index(size)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    return _render(_layout(seed), season == "winter", size, seed)


def split_seeds(split: str, n: int) -> list[int]:
    """The first ``n`` scene seeds of ``split`` (one of ``SPLITS``).

    trainA and trainB come from disjoint seed ranges (truly unpaired);
    ``split_seeds('testA', n) == split_seeds('testB', n)`` (same scenes, used as
    ground-truth summer/winter pairs); test seeds are disjoint from both train
    ranges.  See ``SPLITS`` for the exact ranges.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    n = operator.index(n)
    info = SPLITS[split]
    if not 0 <= n <= info.capacity:
        raise ValueError(f"n must be in [0, {info.capacity}] for split {split!r}, got {n}")
    return list(range(info.seed_start, info.seed_start + n))


def write_dataset(root, size: int = SIZE, n_train: int = 400, n_test: int = 40,
                  paired: bool = False) -> pathlib.Path:
    """Render the dataset into ``root`` in the reference CycleGAN layout.

    ``root/trainA`` (summer, ``n_train`` images), ``root/trainB`` (winter,
    ``n_train``), ``root/testA`` (summer, ``n_test``) and ``root/testB`` (winter,
    ``n_test``; ``testB/0007.png`` is the winter version of ``testA/0007.png``),
    files named ``0000.png``, ``0001.png``, ...  With ``paired`` the training
    splits are paired too, for pix2pix: ``trainB/0007.png`` is the winter
    version of ``trainA/0007.png`` (trainA's scenes; the test scenes are the same
    either way).

    Atomic: everything is rendered into a temporary sibling folder, the marker
    file ``root/.complete`` (JSON with the parameters) is written last and the
    folder is then ``os.replace``-d into place, so an interrupted render never
    leaves a half-written ``root``.  If ``root`` is already complete with the
    same parameters this returns at once without rendering.  A dataset written
    by this function with other parameters (or an older renderer) is replaced;
    an existing non-empty folder without the marker is not ours and raises
    ``FileExistsError`` instead of being overwritten.  Returns ``root`` as a Path.
    """
    root = pathlib.Path(root)
    size = operator.index(size)
    n_train = operator.index(n_train)
    n_test = operator.index(n_test)
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE}, got {size}")
    counts = {"trainA": n_train, "trainB": n_train, "testA": n_test, "testB": n_test}
    seeds = {split: split_seeds(split, n) for split, n in counts.items()}  # validates n
    if paired:
        seeds["trainB"] = seeds["trainA"]
    params = {"dataset": "seasons", "render_version": RENDER_VERSION, "size": size, "n_train": n_train,
              "n_test": n_test, **({"paired": True} if paired else {})}
    if _read_marker(root) == params:
        return root
    _check_replaceable(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(root.parent, f".{root.name}.partial-")
    try:
        for split, numbers in seeds.items():
            folder = tmp / split
            folder.mkdir()
            for i, seed in enumerate(numbers):
                img = render_scene(seed, SPLITS[split].season, size)
                Image.fromarray(img).save(folder / f"{i:04d}.png", compress_level=1)
        (tmp / MARKER).write_text(json.dumps(params, sort_keys=True) + "\n")
        _install(tmp, root, params)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def _check_replaceable(root: pathlib.Path) -> None:
    """Refuse to replace anything at root but a dataset of ours (with the marker) or an empty folder."""
    if not root.exists():
        return
    if not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a directory")
    if _read_marker(root) is None and any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists, is not empty and is not a finished seasons dataset "
            f"(no {MARKER}); refusing to overwrite it"
        )


def preview_grid(seeds: Sequence[int] = (0, 1, 2, 3, 4, 5), size: int = SIZE, gap: int = 4) -> np.ndarray:
    """Summer row above winter row for ``seeds``, as one uint8 image array."""
    seeds = list(seeds)
    h = 2 * size + 3 * gap
    w = len(seeds) * size + (len(seeds) + 1) * gap
    grid = np.full((h, w, 3), 255, np.uint8)
    for k, seed in enumerate(seeds):
        x = gap + k * (size + gap)
        grid[gap : gap + size, x : x + size] = render_scene(seed, "summer", size)
        grid[2 * gap + size : 2 * gap + 2 * size, x : x + size] = render_scene(seed, "winter", size)
    return grid


# --------------------------------------------------------------------------
# Dataset folder helpers
# --------------------------------------------------------------------------


def _read_marker(root: pathlib.Path):
    try:
        return json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return None


def _install(tmp: pathlib.Path, root: pathlib.Path, params: dict) -> None:
    """Move the finished ``tmp`` folder to ``root`` (replacing a stale one)."""
    old = None
    if root.exists():
        # Stale dataset of ours (other parameters) or an empty folder: move it
        # aside first, since a directory cannot be renamed over a non-empty one.
        old = root.parent / f".{root.name}.old-{uuid.uuid4().hex}"
        os.replace(root, old)
    try:
        os.replace(tmp, root)
    except OSError:
        # A concurrent writer may have installed the same dataset meanwhile.
        if _read_marker(root) != params:
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


# --------------------------------------------------------------------------
# Layout (size-independent, drawn from the seed)
# --------------------------------------------------------------------------

_PROFILE_LEVELS = 6  # ridge profiles have 2**6 + 1 = 65 control points
_PROFILE_X = np.linspace(0.0, 1.0, 2**_PROFILE_LEVELS + 1)
_GROUND_X = np.linspace(0.0, 1.0, 2**5 + 1)


def _midpoint(rng: np.random.Generator, levels: int, rough: float) -> np.ndarray:
    """1-D midpoint displacement on 2**levels + 1 points, roughly in [-1.5, 1.5]."""
    n = 2**levels + 1
    a = np.zeros(n)
    a[0], a[-1] = rng.uniform(-1.0, 1.0, 2)
    step, amp = n - 1, 1.0
    while step > 1:
        half = step // 2
        left, right = a[0 : n - 1 : step], a[step::step]
        a[half::step] = (left + right) * 0.5 + amp * rng.uniform(-1.0, 1.0, left.shape[0])
        amp *= rough
        step = half
    return a


def _smooth(a: np.ndarray, passes: int) -> np.ndarray:
    """Repeated [1, 2, 1] / 4 smoothing with clamped ends (explicit adds only)."""
    for _ in range(passes):
        p = np.concatenate([a[:1], a, a[-1:]])
        a = (p[:-2] + 2.0 * p[1:-1] + p[2:]) * 0.25
    return a


def _layout(seed: int) -> SimpleNamespace:
    """The scene of a seed, in normalised coordinates. Its parts are drawn in this order: a draw added
    anywhere changes every later part of every scene (then RENDER_VERSION changes)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    S = SimpleNamespace()
    _layout_sky(S, rng)
    _layout_ridges(S, rng)
    S.ground = _midpoint(rng, 5, 0.55) * rng.uniform(0.004, 0.015)
    _layout_water(S, rng)
    _layout_trees(S, rng)
    _layout_noise(S, rng)
    return S


def _layout_sky(S: SimpleNamespace, rng: np.random.Generator):
    """Sky, sun and clouds."""
    u = rng.uniform
    S.horizon = u(0.50, 0.64)
    S.sky_jitter = u(-1.0, 1.0, 3)
    S.dry = u(0.0, 1.0) * u(0.0, 1.0)  # 0 = lush green grass .. 1 = dry/yellow
    S.leaf_tint = u(0.0, 1.0)

    # Sun: high in summer, low (often behind the ridges) in winter.
    S.has_sun = u() < 0.65
    S.sun_x = u(0.08, 0.92)
    S.sun_y_summer = u(0.07, 0.26)
    S.sun_y_winter = S.horizon - u(0.10, 0.22)
    S.sun_r = u(0.03, 0.048)
    S.sun_side = -1.0 if S.sun_x < 0.5 else 1.0  # side the light comes from

    # Clouds: clusters of round puffs with a flat base.
    S.clouds = []
    for _ in range(int(rng.integers(0, 5))):
        w = u(0.07, 0.17)
        cx, cy = u(-0.05, 1.05), u(0.07, S.horizon - 0.2)
        m = int(rng.integers(4, 9))
        dx = u(-1.0, 1.0, m)
        r = w * u(0.25, 0.45, m) * (1.2 - 0.5 * np.abs(dx))  # bigger puffs in the middle
        puffs = np.stack([cx + dx * w, cy - u(0.0, 0.6, m) * r, r], axis=1)
        S.clouds.append(SimpleNamespace(puffs=puffs, top=float(np.min(puffs[:, 1] - puffs[:, 2])), base=cy + 0.1 * w))


def _layout_ridges(S: SimpleNamespace, rng: np.random.Generator):
    """Mountain ridges, far (index 0) to near."""
    u = rng.uniform
    n_ridges = int(rng.integers(1, 4))
    S.ridges = []
    for j in range(n_ridges):
        far = 0.5 if n_ridges == 1 else (n_ridges - 1 - j) / (n_ridges - 1)  # 1 far .. 0 near
        hmax = u(0.10, 0.20) + 0.17 * far
        heights = np.full(_PROFILE_X.shape, u(0.0, 0.04))
        for _ in range(int(rng.integers(1, 4))):
            px, ph, slope = u(-0.1, 1.1), hmax * u(0.55, 1.0), u(0.5, 1.8)
            heights = np.maximum(heights, ph - slope * np.abs(_PROFILE_X - px))
        heights = heights + _midpoint(rng, _PROFILE_LEVELS, u(0.55, 0.68)) * u(0.02, 0.045) * (0.6 + 0.6 * far)
        heights = np.clip(heights, 0.0, S.horizon - 0.05)
        dtop = -np.gradient(heights, _PROFILE_X)  # slope of the silhouette's y(x)
        S.ridges.append(
            SimpleNamespace(
                heights=heights,
                dtop=dtop,
                dtop_smooth=_smooth(dtop, 6),
                snow_height=float(np.max(heights)) * u(0.35, 0.7),
                cap=u(0.012, 0.03),
                skew=u(-0.8, 0.8),
                rock_t=u(0.0, 1.0),
                rock_light=u(0.8, 1.1),
                veg_height=u(0.015, 0.07) * (1.0 - 0.6 * far),
                haze=0.12 + 0.45 * far if n_ridges > 1 else 0.25,
            )
        )


def _layout_water(S: SimpleNamespace, rng: np.random.Generator):
    """Water: none, a lake, or a river coming from the horizon, with the cracks its ice shows in winter."""
    u = rng.uniform
    r = u()
    S.water = "none" if r < 0.3 else ("lake" if r < 0.67 else "river")
    S.lake = S.river = None
    cracks = []
    if S.water == "lake":
        ry = u(0.03, 0.075)
        L = SimpleNamespace(rx=ry * u(3.0, 6.0), ry=ry, cx=u(0.2, 0.8))
        L.cy = S.horizon + ry + u(0.02, 0.14)
        S.lake = L
        for _ in range(int(rng.integers(3, 7))):
            x, y = L.cx + u(-0.6, 0.6) * L.rx, L.cy + u(-0.6, 0.6) * L.ry
            pts = [(x, y)]
            for _ in range(int(rng.integers(2, 5))):
                x, y = x + u(-0.4, 0.4) * L.rx, y + u(-0.4, 0.4) * L.ry
                pts.append((x, y))
            cracks.append(pts)
    elif S.water == "river":
        ys = np.linspace(S.horizon, 1.1, 8)
        t = (ys - S.horizon) / (1.1 - S.horizon)
        x0, x1 = u(0.25, 0.75), u(-0.1, 1.1)
        xs = x0 + (x1 - x0) * t + u(-1.0, 1.0, 8) * 0.12 * t
        R = SimpleNamespace(ys=ys, xs=xs, w0=u(0.006, 0.02), w1=u(0.12, 0.3))
        S.river = R
        for _ in range(int(rng.integers(3, 7))):
            y = S.horizon + u(0.15, 1.0) * (1.0 - S.horizon)
            x = float(np.interp(y, ys, xs))
            w = R.w0 + (y - S.horizon) / (1.0 - S.horizon) * R.w1
            x += u(-0.4, 0.4) * w
            pts = [(x, y)]
            for _ in range(int(rng.integers(2, 4))):
                x, y = x + u(-0.5, 0.5) * w, y + u(-0.15, 0.15) * w
                pts.append((x, y))
            cracks.append(pts)
    S.cracks = [np.array([p + q for p, q in zip(c[:-1], c[1:])]) for c in cracks]  # (k, 4) segments


def _layout_trees(S: SimpleNamespace, rng: np.random.Generator):
    """Trees, sorted far to near, none in the water or hiding the middle of the lake."""
    u = rng.uniform
    S.trees = []
    for _ in range(int(rng.integers(3, 13))):
        for _attempt in range(6):
            v = u()
            y = S.horizon + 0.02 + (1.0 - (1.0 - v) * (1.0 - v)) * (1.1 - S.horizon)
            x = u(-0.05, 1.05)
            t = (y - S.horizon) / (1.0 - S.horizon)
            h = (0.07 + 0.36 * t) * u(0.75, 1.25)
            if not _blocked(S, x, y, h):
                break
        else:
            continue
        T = SimpleNamespace(x=x, y=y, h=h, conifer=u() < 0.55, tone=u(0.0, 1.0))
        if T.conifer:
            T.width = u(0.32, 0.46)
            T.tiers = int(rng.integers(3, 6))
            T.snow = u(0.3, 0.45)
        else:
            T.trunk_w = u(0.035, 0.055)
            T.trunk_top = u(0.45, 0.6)
            T.branches = _branches(rng, T.trunk_top, T.trunk_w)
            m = int(rng.integers(3, 6))
            cy = -(T.trunk_top + u(0.12, 0.2))
            T.puffs = np.stack(
                [u(-0.18, 0.18, m), cy + u(-0.12, 0.12, m), u(0.17, 0.26, m)], axis=1
            )  # (dx, dy, r) in units of h, relative to the foot of the trunk
        S.trees.append(T)
    S.trees.sort(key=lambda T: T.y)


def _layout_noise(S: SimpleNamespace, rng: np.random.Generator):
    """Noise lattices (value noise), evaluated at the render size."""
    u = rng.uniform
    S.lat_fbm = [u(-1.0, 1.0, (g + 1, g + 1)) * a for g, a in ((4, 0.5), (9, 0.3), (19, 0.2))]
    S.lat_fine = [u(-1.0, 1.0, (g + 1, g + 1)) * a for g, a in ((32, 0.6), (57, 0.4))]
    S.lat_streak = [u(-1.0, 1.0, (gy + 1, gx + 1)) * a for gy, gx, a in ((30, 3, 0.6), (61, 7, 0.4))]
    S.lat_vert = [u(-1.0, 1.0, (gy + 1, gx + 1)) * a for gy, gx, a in ((3, 24, 0.6), (6, 51, 0.4))]


def _branches(rng: np.random.Generator, trunk_top: float, trunk_w: float) -> np.ndarray:
    """Branch segments (x0, y0, x1, y1, half_width, depth), lengths in units of tree height."""
    u = rng.uniform
    segs = []
    stack = [(0.0, -trunk_top + 0.02, 0.0, -1.0, 0.2, trunk_w * 0.5, 0)]
    while stack:
        x, y, dx, dy, length, hw, depth = stack.pop()
        for _ in range(int(rng.integers(2, 4)) if depth < 2 else 2):
            nx, ny = dx + u(-0.9, 0.9), dy - u(0.0, 0.35)
            norm = np.sqrt(nx * nx + ny * ny)
            nx, ny = nx / norm, ny / norm
            ln = length * u(0.6, 1.0)
            x1, y1 = x + nx * ln, y + ny * ln
            segs.append((x, y, x1, y1, hw, depth))
            if depth < 3:
                stack.append((x1, y1, nx, ny, ln * 0.75, hw * 0.55, depth + 1))
    return np.array(segs)


def _river_center_width(S, y):
    R = S.river
    x = np.interp(y, R.ys, R.xs)
    w = R.w0 + (y - S.horizon) / (1.0 - S.horizon) * R.w1
    return x, w


def _blocked(S, x: float, y: float, h: float) -> bool:
    """Whether a tree of height h standing at (x, y) is in the water or hides
    the middle of the lake."""
    if S.lake is not None:
        L = S.lake
        dx, dy = (x - L.cx) / (L.rx + 0.03), (y - L.cy) / (L.ry + 0.02)
        if dx * dx + dy * dy < 1.0:
            return True
        # in front of the lake and tall enough to cover its middle
        return y > L.cy and y - h < L.cy + 0.5 * L.ry and abs(x - L.cx) < 0.6 * L.rx + 0.2 * h
    if S.river is not None:
        xc, w = _river_center_width(S, y)
        return abs(x - xc) < 0.5 * w + 0.03
    return False


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def _noise(lattices, n: int) -> np.ndarray:
    """Sum of smooth-step interpolated value-noise lattices sampled on n x n pixels."""
    c = (np.arange(n) + 0.5) / n
    out = np.zeros((n, n))
    for lat in lattices:
        gy, gx = lat.shape[0] - 1, lat.shape[1] - 1
        ty, tx = c * gy, c * gx
        iy = np.minimum(ty.astype(np.intp), gy - 1)
        ix = np.minimum(tx.astype(np.intp), gx - 1)
        fy, fx = ty - iy, tx - ix
        fy = fy * fy * (3.0 - 2.0 * fy)
        fx = fx * fx * (3.0 - 2.0 * fx)
        rows = lat[iy] + (lat[iy + 1] - lat[iy]) * fy[:, None]  # (n, gx + 1)
        out += rows[:, ix] + (rows[:, ix + 1] - rows[:, ix]) * fx[None, :]
    return out


def _cov(sd, px: float):
    """Anti-aliased coverage from a signed distance (positive inside)."""
    return np.clip(sd / px + 0.5, 0.0, 1.0)


def _mix(a, b, t):
    a = np.asarray(a, dtype=np.float64)
    return a + (np.asarray(b, dtype=np.float64) - a) * t


class _Canvas:
    def __init__(self, n: int):
        self.n = n
        self.px = 1.0 / n
        self.c = (np.arange(n) + 0.5) / n
        self.img = np.zeros((n, n, 3))

    def window(self, x0, x1, y0, y1):
        """Pixel window covering the normalised box, or None when empty."""
        n = self.n
        c0, c1 = max(0, int(np.floor(x0 * n)) - 1), min(n, int(np.ceil(x1 * n)) + 1)
        r0, r1 = max(0, int(np.floor(y0 * n)) - 1), min(n, int(np.ceil(y1 * n)) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return SimpleNamespace(
            r=slice(r0, r1), c=slice(c0, c1), Y=self.c[r0:r1, None], X=self.c[None, c0:c1]
        )

    def blend(self, w, cov, color):
        region = self.img[w.r, w.c]
        region += (np.asarray(color) - region) * np.asarray(cov)[..., None]


def _seg_dist(X, Y, segs):
    """Distance from pixels to each segment: segs (k, >=4) -> (k, h, w)."""
    ax, ay, bx, by = (segs[:, i, None, None] for i in range(4))
    ex, ey = bx - ax, by - ay
    ll = np.maximum(ex * ex + ey * ey, 1e-12)
    t = np.clip(((X - ax) * ex + (Y - ay) * ey) / ll, 0.0, 1.0)
    dx, dy = X - ax - t * ex, Y - ay - t * ey
    return np.sqrt(dx * dx + dy * dy)


def _edge(X, Y, ax, ay, bx, by, sign):
    ex, ey = bx - ax, by - ay
    return sign * ((X - ax) * ey - (Y - ay) * ex) / np.sqrt(ex * ex + ey * ey)


_SUMMER = SimpleNamespace(
    sky_top=np.array([0.17, 0.40, 0.78]),
    sky_bot=np.array([0.66, 0.81, 0.95]),
    tint=np.array([1.04, 1.0, 0.94]),
)
_WINTER = SimpleNamespace(
    sky_top=np.array([0.55, 0.60, 0.68]),
    sky_bot=np.array([0.83, 0.85, 0.88]),
    tint=np.array([0.93, 0.97, 1.03]),
)
_SNOW_LIT = np.array([0.97, 0.98, 1.0])
_SNOW_SHADE = np.array([0.66, 0.73, 0.86])


def _render(S, winter: bool, n: int, seed: int) -> np.ndarray:
    """The scene painted far to near on an n x n canvas: sky, mountains, ground, water, trees; then the
    season's light and a film grain."""
    P = _WINTER if winter else _SUMMER
    cv = _Canvas(n)
    tx = _textures(S, winter, n, seed, P)
    _paint_sky(cv, S, tx)
    _paint_mountains(cv, S, tx)
    g, gcov, t = _paint_ground(cv, S, tx)
    _paint_water(cv, S, tx, g, gcov, t)
    _paint_trees(cv, S, tx)
    img = cv.img * P.tint
    img += (0.03 * tx.grain)[..., None]
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _textures(S, winter: bool, n: int, seed: int, P) -> SimpleNamespace:
    """What every layer reads: pixel coordinates, the noise fields at this size and the sky's colours."""
    cv_c = (np.arange(n) + 0.5) / n
    jitter = S.sky_jitter * (0.4 if winter else 1.0)
    return SimpleNamespace(
        winter=winter, px=1.0 / n, Y=cv_c[:, None], X=cv_c[None, :], side=S.sun_side,
        fbm=_noise(S.lat_fbm, n), fine=_noise(S.lat_fine, n), streak=_noise(S.lat_streak, n),
        vert=_noise(S.lat_vert, n), grain=np.random.Generator(np.random.PCG64([seed, n, 7])).random((n, n)) - 0.5,
        sky_top=P.sky_top + 0.03 * jitter, sky_bot=P.sky_bot + 0.015 * jitter)


def _paint_sky(cv, S, tx):
    """Gradient, overcast mottling in winter, the sun's glow and disk, clouds."""
    winter, px, X, Y, fbm, fine = tx.winter, tx.px, tx.X, tx.Y, tx.fbm, tx.fine
    sky_top, sky_bot = tx.sky_top, tx.sky_bot
    t = np.clip(Y / S.horizon, 0.0, 1.0)[..., None]
    cv.img[:] = sky_top + (sky_bot - sky_top) * t
    if winter:  # faint overcast mottling
        cv.img += (0.03 * fbm)[..., None]

    if S.has_sun:
        sy = S.sun_y_winter if winter else S.sun_y_summer
        r = S.sun_r * (0.85 if winter else 1.0)
        dx, dy = X - S.sun_x, Y - sy
        d2 = dx * dx + dy * dy
        glow = (0.18 if winter else 0.4) / (1.0 + d2 / (r * r * 5.0))
        cv.img += (np.array([1.0, 0.93, 0.78]) - cv.img) * glow[..., None]
        disk = _cov(r - np.sqrt(d2), px) * (0.75 if winter else 1.0)
        cv.blend(cv.window(0, 1, 0, 1), disk, [1.0, 0.95, 0.86] if winter else [1.0, 0.98, 0.82])

    for cl in S.clouds:
        p = cl.puffs
        w = cv.window(
            np.min(p[:, 0] - p[:, 2]), np.max(p[:, 0] + p[:, 2]), cl.top, cl.base
        )
        if w is None:
            continue
        dx = w.X[None] - p[:, 0, None, None]
        dy = w.Y[None] - p[:, 1, None, None]
        d = np.sqrt(dx * dx + dy * dy)
        cov = np.max(_cov(p[:, 2, None, None] - d, 1.5 * px), axis=0) * _cov(cl.base - w.Y, 2 * px)
        v = np.clip((w.Y - cl.top) / (cl.base - cl.top), 0.0, 1.0)[..., None]
        if winter:
            col = _mix([0.86, 0.87, 0.9], [0.62, 0.64, 0.69], v)
            cov = cov * 0.9
        else:
            col = _mix([1.0, 1.0, 1.0], [0.78, 0.81, 0.88], v * v)
        cv.blend(w, cov, col + 0.02 * fine[w.r, w.c][..., None])


def _paint_mountains(cv, S, tx):
    """Each ridge: rock with lit and shaded faces, forested feet; in winter snow above the snow line, on the
    crest and in gullies; hazier with distance."""
    winter, px, X, side = tx.winter, tx.px, tx.X, tx.side
    fbm, fine, vert, grain, sky_bot = tx.fbm, tx.fine, tx.vert, tx.grain, tx.sky_bot
    for R in S.ridges:
        top = S.horizon - np.interp(cv.c, _PROFILE_X, R.heights)  # (n,)
        w = cv.window(0.0, 1.0, float(np.min(top)), S.horizon + 0.05)
        if w is None:
            continue
        Yw = w.Y
        depth = Yw - top[None, :]
        cov = _cov(depth, px)
        # Lit/shaded faces: silhouette slope carried down slanted face boundaries.
        slope = np.interp(X + np.maximum(depth, 0.0) * R.skew, _PROFILE_X, R.dtop_smooth)
        shade = 0.5 + 0.5 * np.clip(slope * side * 1.5, -1.0, 1.0)
        tex = 1.0 + 0.1 * fbm[w.r] + 0.12 * vert[w.r] + 0.06 * fine[w.r]
        veg = _cov(Yw - (S.horizon - R.veg_height) + 0.015 * fine[w.r], 0.02)
        haze_col = sky_bot
        if winter:
            rock = np.array([0.27, 0.27, 0.30]) * R.rock_light
            rock_col = (rock * 0.55 + rock * 0.6 * shade[..., None]) * tex[..., None]
            snow_col = _mix(_SNOW_SHADE, _SNOW_LIT, shade[..., None])
            # Snow settles above the snow line, along the crest and in gullies.
            line = S.horizon - R.snow_height
            above = np.clip((line - Yw + 0.04 * fbm[w.r] + 0.02 * vert[w.r]) / 0.02, 0.0, 1.0)
            gentle = 1.0 / (1.0 + 9.0 * R.dtop * R.dtop)
            crest = np.interp(cv.c, _PROFILE_X, gentle)[None, :]
            cap = _cov(R.cap * (0.35 + 0.65 * crest) * (1.0 + 0.5 * fine[w.r]) - depth, 0.006)
            rel = np.clip(depth / np.maximum(S.horizon - top[None, :], 1e-3), 0.0, 1.0)
            gully = np.clip((vert[w.r] + 0.35 * fine[w.r] - 0.55 * rel + 0.05) * 6.0, 0.0, 1.0)
            snow = np.maximum(np.maximum(above, cap), gully)
            col = _mix(rock_col, snow_col, snow[..., None])
            frost = np.clip(0.3 + 0.4 * fine[w.r] + 0.8 * grain[w.r], 0.0, 1.0)
            forest = _mix([0.13, 0.17, 0.17], snow_col, frost[..., None])
            col = _mix(col, forest, veg[..., None])
        else:
            grey, brown = np.array([0.50, 0.48, 0.46]), np.array([0.50, 0.39, 0.29])
            rock = _mix(grey, brown, R.rock_t) * R.rock_light
            col = (rock * 0.6 + rock * 0.6 * shade[..., None]) * tex[..., None]
            green = _mix([0.15, 0.3, 0.12], [0.3, 0.34, 0.15], S.dry)
            forest = green * (0.75 + 0.5 * shade[..., None]) * (1.0 + 0.25 * fine[w.r] + 0.3 * grain[w.r])[..., None]
            col = _mix(col, forest, veg[..., None])
        col = _mix(col, haze_col, R.haze)
        cv.blend(w, cov, col)


def _paint_ground(cv, S, tx):
    """Grass or snow below the rolling ground line; (its window, coverage, depth 0..1) for the water."""
    winter, px, fbm, fine, streak, grain = tx.winter, tx.px, tx.fbm, tx.fine, tx.streak, tx.grain
    gtop = S.horizon + 0.006 + np.interp(cv.c, _GROUND_X, S.ground)
    w = cv.window(0.0, 1.0, float(np.min(gtop)), 1.0)
    g = SimpleNamespace(r=w.r, c=w.c, Y=w.Y, X=w.X)
    Yg = g.Y
    gcov = _cov(Yg - gtop[None, :], px)
    t = np.clip((Yg - S.horizon) / (1.0 - S.horizon), 0.0, 1.0)[..., None]
    fb, fi, st, gr = fbm[g.r], fine[g.r], streak[g.r], grain[g.r]
    if winter:
        snow = _mix([0.84, 0.87, 0.93], [0.95, 0.96, 0.985], t)
        drift = np.clip(0.5 + 1.2 * fb + 0.3 * st, 0.0, 1.0)[..., None]
        col = _mix(snow, _SNOW_SHADE, 0.35 * drift)
        tufts = np.clip((st + 0.6 * fi + 0.4 * gr - 0.75) * 5.0, 0.0, 1.0) * (0.3 + 0.7 * t[..., 0])
        col = _mix(col, [0.45, 0.42, 0.33], 0.6 * tufts[..., None])
        col = col + (0.06 * (gr > 0.46))[..., None]
    else:
        far = _mix([0.46, 0.62, 0.26], [0.66, 0.62, 0.33], S.dry)
        near = _mix([0.19, 0.42, 0.11], [0.45, 0.45, 0.17], S.dry)
        col = _mix(far, near, t)
        col = col * (1.0 + 0.12 * fb + 0.08 * st + 0.08 * fi + gr * (0.1 + 0.3 * t[..., 0]))[..., None]
    cv.blend(g, gcov, col)
    return g, gcov, t


def _paint_water(cv, S, tx, g, gcov, t):
    """The lake or river in the ground's window: dark reflective water in summer, ice with cracks in winter."""
    winter, px, X, fbm, fine, streak = tx.winter, tx.px, tx.X, tx.fbm, tx.fine, tx.streak
    sky_top, sky_bot = tx.sky_top, tx.sky_bot
    Yg = g.Y
    fb, fi, st = fbm[g.r], fine[g.r], streak[g.r]
    wcov = None
    if S.lake is not None:
        L = S.lake
        dx, dy = (X - L.cx) / L.rx, (Yg - L.cy) / L.ry
        q = np.sqrt(dx * dx + dy * dy) + 0.12 * fine[g.r]
        wcov = _cov((1.0 - q) * L.ry, px) * gcov
        rim = _cov((1.12 - q) * L.ry, px) * gcov
    elif S.river is not None:
        xc, wd = _river_center_width(S, Yg)
        dist = np.abs(X - xc) + 0.25 * wd * fine[g.r]
        wcov = _cov(0.5 * wd - dist, px) * gcov
        rim = _cov(0.62 * wd + 0.003 - dist, px) * gcov
    if wcov is not None:
        tt = t[..., 0]
        if winter:
            cv.blend(g, rim, _mix([0.80, 0.84, 0.92], [0.88, 0.9, 0.95], t))
            ice = _mix([0.72, 0.84, 0.92], [0.80, 0.89, 0.95], t)
            ice = ice * (1.0 + 0.04 * st + 0.03 * fi)[..., None]
            dust = np.clip((fb + 0.3 * fi - 0.15) * 3.0, 0.0, 1.0)
            ice = _mix(ice, [0.93, 0.95, 0.98], 0.6 * dust[..., None])
            cv.blend(g, wcov, ice)
            if S.cracks:
                segs = np.concatenate(S.cracks)
                d = np.min(_seg_dist(X, Yg, segs), axis=0)
                cv.blend(g, _cov(0.0015 + 0.002 * tt - d, px) * wcov * 0.8, [0.45, 0.58, 0.70])
        else:
            cv.blend(g, rim, _mix([0.36, 0.36, 0.2], [0.25, 0.3, 0.14], t))
            ym = np.clip((2.0 * S.horizon - Yg) / S.horizon, 0.0, 1.0)[..., None]
            refl = sky_top + (sky_bot - sky_top) * ym
            deep = np.array([0.06, 0.16, 0.30])
            water = _mix(deep, refl, 0.45 - 0.25 * t)
            ripple = 1.0 + 0.25 * st + 0.05 * fi
            water = water * ripple[..., None]
            water = water + (0.12 * np.clip((st - 0.35) * 4.0, 0.0, 1.0))[..., None]
            cv.blend(g, wcov, water)


def _paint_trees(cv, S, tx):
    """Every tree's ground shadow, then the trees themselves, far to near."""
    winter, side, grain, fine = tx.winter, tx.side, tx.grain, tx.fine
    shadow_mul = np.array([0.62, 0.68, 0.84]) if winter else np.array([0.55, 0.6, 0.62])
    for T in S.trees:  # ground shadows first, so no tree is darkened by another's
        rx, ry = 0.3 * T.h, 0.045 * T.h
        cx, cy = T.x - side * 0.2 * T.h, T.y + 0.005
        w = cv.window(cx - rx, cx + rx, cy - ry, cy + ry)
        if w is None:
            continue
        dx, dy = (w.X - cx) / rx, (w.Y - cy) / ry
        k = np.clip(1.0 - (dx * dx + dy * dy), 0.0, 1.0) * (0.5 if winter else 0.6)
        region = cv.img[w.r, w.c]
        region *= 1.0 - k[..., None] * (1.0 - shadow_mul)

    for T in S.trees:
        if T.conifer:
            _draw_conifer(cv, T, winter, side, grain, fine)
        else:
            _draw_deciduous(cv, T, winter, side, grain, fine)



def _draw_conifer(cv, T, winter, side, grain, fine):
    h, px = T.h, cv.px
    half = 0.5 * T.width * h
    # trunk
    w = cv.window(T.x - 0.04 * h, T.x + 0.04 * h, T.y - 0.16 * h, T.y)
    if w is not None:
        cov = _cov(0.035 * h - np.abs(w.X - T.x), px) * _cov(T.y - w.Y, px)
        cv.blend(w, cov, [0.28, 0.19, 0.12])
    base0 = T.y - 0.12 * h
    step = (0.88 * h) / (T.tiers + 0.5)
    green = _mix([0.07, 0.22, 0.12], [0.12, 0.3, 0.14], T.tone)
    if winter:
        green = green * 0.85
    for i in range(T.tiers):
        b = base0 - i * step
        a = b - 1.5 * step
        hw = half * (1.0 - 0.62 * i / T.tiers)
        w = cv.window(T.x - hw, T.x + hw, a, b)
        if w is None:
            continue
        X, Y = w.X, w.Y
        dl = _edge(X, Y, T.x - hw, b, T.x, a, -1.0)
        dr = _edge(X, Y, T.x, a, T.x + hw, b, -1.0)
        db = b - Y
        cov = _cov(np.minimum(np.minimum(dl, dr), db), px)
        lit = 0.5 + 0.5 * np.clip((X - T.x) / hw * side, -1.0, 1.0)
        g, f = grain[w.r, w.c], fine[w.r, w.c]
        col = green * (0.7 + 0.6 * lit + 0.35 * g + 0.15 * f)[..., None]
        if winter:
            # Snow on the upper (outer) surfaces of each tier and a cap on top.
            de = np.minimum(dl, dr)
            band = T.snow * hw * (0.75 + 0.5 * f + 0.6 * g)
            snow = _cov(band - de, px) * np.clip((Y - a) / (b - a) * 1.5 + 0.35, 0.0, 1.0)
            if i == T.tiers - 1:
                snow = np.maximum(snow, _cov(a + 0.35 * (b - a) - Y, px))
            snow_col = _mix(_SNOW_SHADE, _SNOW_LIT, (0.3 + 0.7 * lit)[..., None])
            col = _mix(col, snow_col, snow[..., None])
        cv.blend(w, cov, col)


def _draw_deciduous(cv, T, winter, side, grain, fine):
    h, px = T.h, cv.px
    trunk_col = np.array([0.29, 0.25, 0.23]) if winter else np.array([0.33, 0.23, 0.15])
    segs = T.branches[:, :5] * h
    if not winter:  # the crown hides the fine twigs: skip them
        segs = segs[T.branches[:, 5] < 2]
    segs[:, 0] += T.x
    segs[:, 2] += T.x
    segs[:, 1] += T.y
    segs[:, 3] += T.y
    x0 = min(T.x - T.trunk_w * h, float(np.min(segs[:, [0, 2]])))
    x1 = max(T.x + T.trunk_w * h, float(np.max(segs[:, [0, 2]])))
    y0 = float(np.min(segs[:, [1, 3]]))
    w = cv.window(x0, x1, y0, T.y)
    if w is not None:
        ttop = T.y - T.trunk_top * h
        rel = np.clip((T.y - w.Y) / (T.y - ttop), 0.0, 1.0)
        bw = T.trunk_w * h * (1.0 - 0.45 * rel)
        cov = _cov(bw - np.abs(w.X - T.x), px) * _cov(w.Y - ttop, px) * _cov(T.y - w.Y, px)
        d = _seg_dist(w.X, w.Y, segs) - segs[:, 4, None, None]
        cov = np.maximum(cov, np.max(_cov(-d, px), axis=0))
        lit = 0.85 + 0.3 * np.clip((w.X - T.x) * side / (T.trunk_w * h), -1.0, 1.0)
        cv.blend(w, cov, trunk_col * (lit + 0.2 * grain[w.r, w.c])[..., None])
    if winter:
        return
    light = _mix([0.12, 0.32, 0.08], [0.22, 0.40, 0.10], T.tone)
    bright = _mix([0.42, 0.66, 0.22], [0.58, 0.70, 0.22], T.tone)
    order = np.argsort(T.puffs[:, 2], kind="stable")[::-1]  # big puffs behind
    for k in order:
        dx0, dy0, r0 = T.puffs[k]
        cx, cy, r = T.x + dx0 * h, T.y + dy0 * h, r0 * h
        w = cv.window(cx - r, cx + r, cy - r, cy + r)
        if w is None:
            continue
        dx, dy = w.X - cx, w.Y - cy
        d = np.sqrt(dx * dx + dy * dy)
        f, g = fine[w.r, w.c], grain[w.r, w.c]
        cov = _cov(r * (1.0 + 0.12 * f + 0.1 * g) - d, px)
        lit = np.clip(0.5 + 0.6 * (dx * side - dy) / r, 0.0, 1.0)
        col = _mix(light, bright, lit[..., None]) * (1.0 + 0.3 * g + 0.1 * f)[..., None]
        cv.blend(w, cov, col)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", nargs="?", help="dataset folder to write")
    ap.add_argument("--size", type=int, default=SIZE)
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--n-test", type=int, default=40)
    ap.add_argument("--preview", help="write a summer/winter preview grid PNG here")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    args = ap.parse_args(argv)
    if args.root is None and args.preview is None:
        ap.error("give a dataset ROOT and/or --preview PATH")
    if args.preview:
        Image.fromarray(preview_grid(args.seeds, args.size)).save(args.preview)
        print(args.preview)
    if args.root:
        print(write_dataset(args.root, args.size, args.n_train, args.n_test))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
