"""The layout of a scene: what a seed puts where, in normalised [0, 1] coordinates (x to the right, y down),
whatever the render size and the season.

A sky with an optional sun and clouds, 1-3 mountain ridges (piecewise-linear silhouettes built from peaks
plus midpoint displacement), a rolling ground line, an optional lake or river, and 3-12 trees (conifers of
stacked triangles; leafy trees of trunk, branches and a round crown), plus the value-noise lattices that
texture them. Everything is drawn from `np.random.Generator(np.random.PCG64(seed))` with uniform draws only,
in a fixed order: a draw added, removed or moved anywhere changes every later part of every scene (then
dataset.RENDER_VERSION changes).
"""

from __future__ import annotations

import dataclasses

import numpy as np

PROFILE_LEVELS = 6  # ridge silhouettes have 2**6 + 1 = 65 control points
PROFILE_X = np.linspace(0.0, 1.0, 2**PROFILE_LEVELS + 1)
GROUND_X = np.linspace(0.0, 1.0, 2**5 + 1)


@dataclasses.dataclass
class Sun:
    visible: bool
    x: float
    y_summer: float  # high in summer
    y_winter: float  # low, often behind the ridges, in winter
    radius: float
    side: float  # the side the light comes from: -1 left, 1 right


@dataclasses.dataclass
class Cloud:
    puffs: np.ndarray  # (k, 3): centre x, centre y, radius of the round puffs
    top: float
    base: float  # the flat bottom


@dataclasses.dataclass
class Sky:
    horizon: float
    jitter: np.ndarray  # (3,) small per-scene shifts of the sky's colours
    dryness: float  # 0 lush green grass .. 1 dry and yellow (the ground's and the forests' green)
    leaf_tint: float  # drawn but not painted: removing the draw would change every later part of every scene
    sun: Sun
    clouds: list[Cloud]


@dataclasses.dataclass
class Ridge:
    heights: np.ndarray  # height above the horizon at each of PROFILE_X
    slopes: np.ndarray  # the silhouette's slope dy/dx at each of PROFILE_X
    smooth_slopes: np.ndarray
    snow_height: float  # winter's snow line, as a height above the horizon
    cap: float  # thickness of the snow along the crest
    skew: float  # how the lit and shaded faces slant down from the silhouette
    rock_tone: float  # 0 grey .. 1 brown
    rock_light: float
    forest_height: float  # how high the forested feet reach
    haze: float  # how much of the sky's colour distance mixes in


@dataclasses.dataclass
class Lake:
    x: float
    y: float
    half_width: float
    half_height: float


@dataclasses.dataclass
class River:
    ys: np.ndarray  # its centre line, from the horizon down
    xs: np.ndarray
    width_far: float  # its width at the horizon
    width_gain: float  # and what it gains down to the bottom edge

    def centre_and_width(self, y, horizon: float):
        return np.interp(y, self.ys, self.xs), self.width_far + (y - horizon) / (1.0 - horizon) * self.width_gain


@dataclasses.dataclass
class Water:
    lake: Lake | None
    river: River | None
    cracks: list[np.ndarray]  # per crack, (k, 4) segments x0, y0, x1, y1 that winter's ice shows


@dataclasses.dataclass
class Conifer:
    x: float  # the foot of its trunk
    y: float
    height: float
    tone: float
    width: float  # of the lowest tier, in units of height
    tiers: int
    snow: float  # how far snow reaches into a tier from its edges


@dataclasses.dataclass
class LeafyTree:
    x: float
    y: float
    height: float
    tone: float
    trunk_width: float  # in units of height
    trunk_top: float
    branches: np.ndarray  # (k, 6) segments x0, y0, x1, y1, half width, depth, in units of height
    crown: np.ndarray  # (k, 3) puffs dx, dy, radius in units of height, from the foot of the trunk


@dataclasses.dataclass
class Noise:
    """Value-noise lattices, evaluated at the render size: broad, fine, horizontal streaks, vertical."""

    broad: list[np.ndarray]
    fine: list[np.ndarray]
    streaks: list[np.ndarray]
    vertical: list[np.ndarray]


@dataclasses.dataclass
class Scene:
    sky: Sky
    ridges: list[Ridge]  # far (index 0) to near
    ground: np.ndarray  # the ground line's offsets at each of GROUND_X
    water: Water
    trees: list[Conifer | LeafyTree]  # far to near
    noise: Noise


def layout(seed: int) -> Scene:
    """The scene of a seed, its parts drawn in this order."""
    rng = np.random.Generator(np.random.PCG64(seed))
    sky = _sky(rng)
    ridges = _ridges(rng, sky.horizon)
    ground = midpoint_displacement(rng, 5, 0.55) * rng.uniform(0.004, 0.015)
    water = _water(rng, sky.horizon)
    trees = _trees(rng, sky.horizon, water)
    return Scene(sky, ridges, ground, water, trees, _noise(rng))


def midpoint_displacement(rng: np.random.Generator, levels: int, roughness: float) -> np.ndarray:
    """1-D midpoint displacement on 2**levels + 1 points, roughly in [-1.5, 1.5]."""
    n = 2**levels + 1
    a = np.zeros(n)
    a[0], a[-1] = rng.uniform(-1.0, 1.0, 2)
    step, amplitude = n - 1, 1.0
    while step > 1:
        half = step // 2
        left, right = a[0 : n - 1 : step], a[step::step]
        a[half::step] = (left + right) * 0.5 + amplitude * rng.uniform(-1.0, 1.0, left.shape[0])
        amplitude *= roughness
        step = half
    return a


def smoothed(a: np.ndarray, passes: int) -> np.ndarray:
    """Repeated [1, 2, 1] / 4 smoothing with clamped ends (explicit adds only)."""
    for _ in range(passes):
        p = np.concatenate([a[:1], a, a[-1:]])
        a = (p[:-2] + 2.0 * p[1:-1] + p[2:]) * 0.25
    return a


def _sky(rng: np.random.Generator) -> Sky:
    """The horizon, the sky's colour shifts, the grass's dryness, the sun and 0-4 clouds."""
    u = rng.uniform
    horizon = u(0.50, 0.64)
    jitter = u(-1.0, 1.0, 3)
    dryness = u(0.0, 1.0) * u(0.0, 1.0)
    leaf_tint = u(0.0, 1.0)
    visible = u() < 0.65
    x, y_summer = u(0.08, 0.92), u(0.07, 0.26)
    sun = Sun(visible, x, y_summer, horizon - u(0.10, 0.22), u(0.03, 0.048), -1.0 if x < 0.5 else 1.0)
    return Sky(horizon, jitter, dryness, leaf_tint, sun, [_cloud(rng, horizon) for _ in range(int(rng.integers(0, 5)))])


def _cloud(rng: np.random.Generator, horizon: float) -> Cloud:
    """A cluster of round puffs with a flat base, bigger in the middle."""
    u = rng.uniform
    width = u(0.07, 0.17)
    cx, cy = u(-0.05, 1.05), u(0.07, horizon - 0.2)
    m = int(rng.integers(4, 9))
    dx = u(-1.0, 1.0, m)
    r = width * u(0.25, 0.45, m) * (1.2 - 0.5 * np.abs(dx))
    puffs = np.stack([cx + dx * width, cy - u(0.0, 0.6, m) * r, r], axis=1)
    return Cloud(puffs, float(np.min(puffs[:, 1] - puffs[:, 2])), cy + 0.1 * width)


def _ridges(rng: np.random.Generator, horizon: float) -> list[Ridge]:
    """1-3 ridges, far to near: peaks plus midpoint displacement, hazier and higher with distance."""
    u = rng.uniform
    count = int(rng.integers(1, 4))
    ridges = []
    for j in range(count):
        far = 0.5 if count == 1 else (count - 1 - j) / (count - 1)  # 1 far .. 0 near
        top = u(0.10, 0.20) + 0.17 * far
        heights = np.full(PROFILE_X.shape, u(0.0, 0.04))
        for _ in range(int(rng.integers(1, 4))):  # peaks
            px, ph, slope = u(-0.1, 1.1), top * u(0.55, 1.0), u(0.5, 1.8)
            heights = np.maximum(heights, ph - slope * np.abs(PROFILE_X - px))
        roughness = u(0.55, 0.68)
        bumps = midpoint_displacement(rng, PROFILE_LEVELS, roughness)
        heights = heights + bumps * u(0.02, 0.045) * (0.6 + 0.6 * far)
        heights = np.clip(heights, 0.0, horizon - 0.05)
        slopes = -np.gradient(heights, PROFILE_X)
        ridges.append(Ridge(
            heights=heights, slopes=slopes, smooth_slopes=smoothed(slopes, 6),
            snow_height=float(np.max(heights)) * u(0.35, 0.7), cap=u(0.012, 0.03), skew=u(-0.8, 0.8),
            rock_tone=u(0.0, 1.0), rock_light=u(0.8, 1.1), forest_height=u(0.015, 0.07) * (1.0 - 0.6 * far),
            haze=0.12 + 0.45 * far if count > 1 else 0.25))
    return ridges


def _water(rng: np.random.Generator, horizon: float) -> Water:
    """None, a lake, or a river coming from the horizon, with the cracks its ice shows in winter."""
    r = rng.uniform()
    kind = "none" if r < 0.3 else ("lake" if r < 0.67 else "river")
    if kind == "lake":
        lake, cracks = _lake(rng, horizon)
        return Water(lake, None, cracks)
    if kind == "river":
        river, cracks = _river(rng, horizon)
        return Water(None, river, cracks)
    return Water(None, None, [])


def _segments(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([p + q for p, q in zip(points[:-1], points[1:])])


def _lake(rng: np.random.Generator, horizon: float) -> tuple[Lake, list[np.ndarray]]:
    u = rng.uniform
    half_height = u(0.03, 0.075)
    half_width, x = half_height * u(3.0, 6.0), u(0.2, 0.8)
    lake = Lake(x, horizon + half_height + u(0.02, 0.14), half_width, half_height)
    cracks = []
    for _ in range(int(rng.integers(3, 7))):
        px, py = lake.x + u(-0.6, 0.6) * lake.half_width, lake.y + u(-0.6, 0.6) * lake.half_height
        points = [(px, py)]
        for _ in range(int(rng.integers(2, 5))):
            px, py = px + u(-0.4, 0.4) * lake.half_width, py + u(-0.4, 0.4) * lake.half_height
            points.append((px, py))
        cracks.append(_segments(points))
    return lake, cracks


def _river(rng: np.random.Generator, horizon: float) -> tuple[River, list[np.ndarray]]:
    u = rng.uniform
    ys = np.linspace(horizon, 1.1, 8)
    t = (ys - horizon) / (1.1 - horizon)
    x0, x1 = u(0.25, 0.75), u(-0.1, 1.1)
    xs = x0 + (x1 - x0) * t + u(-1.0, 1.0, 8) * 0.12 * t
    width_far = u(0.006, 0.02)
    river = River(ys, xs, width_far, u(0.12, 0.3))
    cracks = []
    for _ in range(int(rng.integers(3, 7))):
        py = horizon + u(0.15, 1.0) * (1.0 - horizon)
        px = float(np.interp(py, ys, xs))
        width = river.width_far + (py - horizon) / (1.0 - horizon) * river.width_gain
        px += u(-0.4, 0.4) * width
        points = [(px, py)]
        for _ in range(int(rng.integers(2, 4))):
            px, py = px + u(-0.5, 0.5) * width, py + u(-0.15, 0.15) * width
            points.append((px, py))
        cracks.append(_segments(points))
    return river, cracks


def _trees(rng: np.random.Generator, horizon: float, water: Water) -> list[Conifer | LeafyTree]:
    """Trees sorted far to near; a tree that lands in the water or hides the lake's middle is drawn again
    (six tries), then left out."""
    u = rng.uniform
    trees = []
    for _ in range(int(rng.integers(3, 13))):
        for _attempt in range(6):
            v = u()
            y = horizon + 0.02 + (1.0 - (1.0 - v) * (1.0 - v)) * (1.1 - horizon)
            x = u(-0.05, 1.05)
            t = (y - horizon) / (1.0 - horizon)
            height = (0.07 + 0.36 * t) * u(0.75, 1.25)
            if not blocked(water, horizon, x, y, height):
                break
        else:
            continue
        conifer, tone = u() < 0.55, u(0.0, 1.0)
        trees.append(_conifer(rng, x, y, height, tone) if conifer else _leafy_tree(rng, x, y, height, tone))
    trees.sort(key=lambda tree: tree.y)
    return trees


def _conifer(rng: np.random.Generator, x: float, y: float, height: float, tone: float) -> Conifer:
    u = rng.uniform
    width = u(0.32, 0.46)
    tiers = int(rng.integers(3, 6))
    return Conifer(x, y, height, tone, width, tiers, u(0.3, 0.45))


def _leafy_tree(rng: np.random.Generator, x: float, y: float, height: float, tone: float) -> LeafyTree:
    u = rng.uniform
    trunk_width = u(0.035, 0.055)
    trunk_top = u(0.45, 0.6)
    branches = _branches(rng, trunk_top, trunk_width)
    m = int(rng.integers(3, 6))
    cy = -(trunk_top + u(0.12, 0.2))
    crown = np.stack([u(-0.18, 0.18, m), cy + u(-0.12, 0.12, m), u(0.17, 0.26, m)], axis=1)
    return LeafyTree(x, y, height, tone, trunk_width, trunk_top, branches, crown)


def _branches(rng: np.random.Generator, trunk_top: float, trunk_width: float) -> np.ndarray:
    """Branch segments (x0, y0, x1, y1, half_width, depth), lengths in units of tree height."""
    u = rng.uniform
    segments = []
    stack = [(0.0, -trunk_top + 0.02, 0.0, -1.0, 0.2, trunk_width * 0.5, 0)]
    while stack:
        x, y, dx, dy, length, half_width, depth = stack.pop()
        for _ in range(int(rng.integers(2, 4)) if depth < 2 else 2):
            nx, ny = dx + u(-0.9, 0.9), dy - u(0.0, 0.35)
            norm = np.sqrt(nx * nx + ny * ny)
            nx, ny = nx / norm, ny / norm
            grown = length * u(0.6, 1.0)
            x1, y1 = x + nx * grown, y + ny * grown
            segments.append((x, y, x1, y1, half_width, depth))
            if depth < 3:
                stack.append((x1, y1, nx, ny, grown * 0.75, half_width * 0.55, depth + 1))
    return np.array(segments)


def _noise(rng: np.random.Generator) -> Noise:
    """The lattices are drawn here, at layout time; painting samples them at the render size."""
    u = rng.uniform
    return Noise(broad=[u(-1.0, 1.0, (g + 1, g + 1)) * a for g, a in ((4, 0.5), (9, 0.3), (19, 0.2))],
                 fine=[u(-1.0, 1.0, (g + 1, g + 1)) * a for g, a in ((32, 0.6), (57, 0.4))],
                 streaks=[u(-1.0, 1.0, (gy + 1, gx + 1)) * a for gy, gx, a in ((30, 3, 0.6), (61, 7, 0.4))],
                 vertical=[u(-1.0, 1.0, (gy + 1, gx + 1)) * a for gy, gx, a in ((3, 24, 0.6), (6, 51, 0.4))])


def blocked(water: Water, horizon: float, x: float, y: float, height: float) -> bool:
    """Whether a tree of `height` standing at (x, y) is in the water or hides the middle of the lake."""
    if water.lake is not None:
        lake = water.lake
        dx, dy = (x - lake.x) / (lake.half_width + 0.03), (y - lake.y) / (lake.half_height + 0.02)
        if dx * dx + dy * dy < 1.0:
            return True
        # in front of the lake and tall enough to cover its middle
        return (y > lake.y and y - height < lake.y + 0.5 * lake.half_height
                and abs(x - lake.x) < 0.6 * lake.half_width + 0.2 * height)
    if water.river is not None:
        centre, width = water.river.centre_and_width(y, horizon)
        return abs(x - centre) < 0.5 * width + 0.03
    return False
