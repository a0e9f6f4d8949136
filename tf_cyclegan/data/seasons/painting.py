"""A scene painted in a season onto an n x n canvas, far to near: sky, mountains, ground, water, trees, then
the season's light and a film grain.

The season changes how the layout is rendered, not the layout: summer has a blue sky with a high sun, white
clouds, rock with forested feet, green grass, leafy crowns and dark water with ripples; winter a grey sky
with a low sun, snow above a snow line, on the crests and in gullies, snow-covered ground, snow on conifer
tiers, bare leafy trees (crowns gone, branches shown) and ice with cracks. So winter is not a colour shift of
summer: whole regions change material with the scene's geometry.

Per-pixel work uses only IEEE-exact operations (+, -, *, /, sqrt, min/max, np.interp): no transcendental
functions, no BLAS reductions, no fonts and no Pillow rasterisation, so a (seed, season, size) gives the
same bytes on any machine (for a given NumPy release).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tf_cyclegan.data.seasons.scene import GROUND_X, PROFILE_X, Conifer, LeafyTree, Scene


@dataclasses.dataclass(frozen=True)
class Palette:
    sky_top: np.ndarray
    sky_bottom: np.ndarray
    tint: np.ndarray  # the season's light, multiplied in at the end


SUMMER = Palette(np.array([0.17, 0.40, 0.78]), np.array([0.66, 0.81, 0.95]), np.array([1.04, 1.0, 0.94]))
WINTER = Palette(np.array([0.55, 0.60, 0.68]), np.array([0.83, 0.85, 0.88]), np.array([0.93, 0.97, 1.03]))
SNOW_LIT = np.array([0.97, 0.98, 1.0])
SNOW_SHADE = np.array([0.66, 0.73, 0.86])


@dataclasses.dataclass
class Window:
    """The pixels of the canvas a shape can touch: their rows and columns, and their centres' y and x."""

    rows: slice
    cols: slice
    y: np.ndarray  # (h, 1)
    x: np.ndarray  # (1, w)


class Canvas:
    """The image being painted, float RGB in [0, 1], and the pixel windows that shapes touch."""

    def __init__(self, n: int):
        self.n = n
        self.pixel = 1.0 / n
        self.centres = (np.arange(n) + 0.5) / n
        self.image = np.zeros((n, n, 3))

    def window(self, x0, x1, y0, y1) -> Window | None:
        """The pixels covering the normalised box, or None when none do."""
        n = self.n
        c0, c1 = max(0, int(np.floor(x0 * n)) - 1), min(n, int(np.ceil(x1 * n)) + 1)
        r0, r1 = max(0, int(np.floor(y0 * n)) - 1), min(n, int(np.ceil(y1 * n)) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return Window(slice(r0, r1), slice(c0, c1), self.centres[r0:r1, None], self.centres[None, c0:c1])

    def blend(self, w: Window, coverage, colour):
        region = self.image[w.rows, w.cols]
        region += (np.asarray(colour) - region) * np.asarray(coverage)[..., None]


@dataclasses.dataclass
class Textures:
    """What every layer reads: the season, pixel coordinates, the noise fields at this size, the sky's colours."""

    winter: bool
    pixel: float
    y: np.ndarray  # (n, 1) pixel centres
    x: np.ndarray  # (1, n)
    side: float  # the side the light comes from
    broad: np.ndarray
    fine: np.ndarray
    streaks: np.ndarray
    vertical: np.ndarray
    grain: np.ndarray
    sky_top: np.ndarray
    sky_bottom: np.ndarray


def render(scene: Scene, winter: bool, n: int, seed: int) -> np.ndarray:
    """The scene as (n, n, 3) uint8."""
    palette = WINTER if winter else SUMMER
    canvas = Canvas(n)
    tx = textures(scene, winter, n, seed, palette)
    paint_sky(canvas, scene, tx)
    paint_mountains(canvas, scene, tx)
    ground, ground_cov, depth = paint_ground(canvas, scene, tx)
    paint_water(canvas, scene, tx, ground, ground_cov, depth)
    paint_trees(canvas, scene, tx)
    image = canvas.image * palette.tint
    image += (0.03 * tx.grain)[..., None]
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def noise(lattices, n: int) -> np.ndarray:
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


def textures(scene: Scene, winter: bool, n: int, seed: int, palette: Palette) -> Textures:
    """The noise fields sampled at this size, a film grain seeded by (seed, size), the sky's colours."""
    centres = (np.arange(n) + 0.5) / n
    jitter = scene.sky.jitter * (0.4 if winter else 1.0)
    lattices = scene.noise
    return Textures(
        winter=winter, pixel=1.0 / n, y=centres[:, None], x=centres[None, :], side=scene.sky.sun.side,
        broad=noise(lattices.broad, n), fine=noise(lattices.fine, n), streaks=noise(lattices.streaks, n),
        vertical=noise(lattices.vertical, n),
        grain=np.random.Generator(np.random.PCG64([seed, n, 7])).random((n, n)) - 0.5,
        sky_top=palette.sky_top + 0.03 * jitter, sky_bottom=palette.sky_bottom + 0.015 * jitter)


def coverage(signed_distance, pixel: float):
    """Anti-aliased coverage from a signed distance (positive inside)."""
    return np.clip(signed_distance / pixel + 0.5, 0.0, 1.0)


def mix(a, b, t):
    """a where t is 0, b where t is 1."""
    a = np.asarray(a, dtype=np.float64)
    return a + (np.asarray(b, dtype=np.float64) - a) * t


def segment_distances(x, y, segments):
    """Distance from pixels to each segment: segments (k, >=4) -> (k, h, w)."""
    ax, ay, bx, by = (segments[:, i, None, None] for i in range(4))
    ex, ey = bx - ax, by - ay
    ll = np.maximum(ex * ex + ey * ey, 1e-12)
    t = np.clip(((x - ax) * ex + (y - ay) * ey) / ll, 0.0, 1.0)
    dx, dy = x - ax - t * ex, y - ay - t * ey
    return np.sqrt(dx * dx + dy * dy)


def edge_distance(x, y, ax, ay, bx, by, sign):
    """Signed distance from the line through (ax, ay) and (bx, by)."""
    ex, ey = bx - ax, by - ay
    return sign * ((x - ax) * ey - (y - ay) * ex) / np.sqrt(ex * ex + ey * ey)


def paint_sky(canvas: Canvas, scene: Scene, tx: Textures):
    """Gradient, overcast mottling in winter, the sun's glow and disk, clouds."""
    sky, winter, px = scene.sky, tx.winter, tx.pixel
    t = np.clip(tx.y / sky.horizon, 0.0, 1.0)[..., None]
    canvas.image[:] = tx.sky_top + (tx.sky_bottom - tx.sky_top) * t
    if winter:  # faint overcast mottling
        canvas.image += (0.03 * tx.broad)[..., None]
    sun = sky.sun
    if sun.visible:
        sy = sun.y_winter if winter else sun.y_summer
        r = sun.radius * (0.85 if winter else 1.0)
        dx, dy = tx.x - sun.x, tx.y - sy
        d2 = dx * dx + dy * dy
        glow = (0.18 if winter else 0.4) / (1.0 + d2 / (r * r * 5.0))
        canvas.image += (np.array([1.0, 0.93, 0.78]) - canvas.image) * glow[..., None]
        disk = coverage(r - np.sqrt(d2), px) * (0.75 if winter else 1.0)
        canvas.blend(canvas.window(0, 1, 0, 1), disk, [1.0, 0.95, 0.86] if winter else [1.0, 0.98, 0.82])
    for cloud in sky.clouds:
        p = cloud.puffs
        w = canvas.window(np.min(p[:, 0] - p[:, 2]), np.max(p[:, 0] + p[:, 2]), cloud.top, cloud.base)
        if w is None:
            continue
        dx = w.x[None] - p[:, 0, None, None]
        dy = w.y[None] - p[:, 1, None, None]
        d = np.sqrt(dx * dx + dy * dy)
        cov = np.max(coverage(p[:, 2, None, None] - d, 1.5 * px), axis=0) * coverage(cloud.base - w.y, 2 * px)
        v = np.clip((w.y - cloud.top) / (cloud.base - cloud.top), 0.0, 1.0)[..., None]
        if winter:
            colour = mix([0.86, 0.87, 0.9], [0.62, 0.64, 0.69], v)
            cov = cov * 0.9
        else:
            colour = mix([1.0, 1.0, 1.0], [0.78, 0.81, 0.88], v * v)
        canvas.blend(w, cov, colour + 0.02 * tx.fine[w.rows, w.cols][..., None])


def paint_mountains(canvas: Canvas, scene: Scene, tx: Textures):
    """Each ridge: rock with lit and shaded faces, forested feet; in winter snow above the snow line, on the
    crest and in gullies; hazier with distance."""
    horizon, px = scene.sky.horizon, tx.pixel
    for ridge in scene.ridges:
        top = horizon - np.interp(canvas.centres, PROFILE_X, ridge.heights)  # (n,)
        w = canvas.window(0.0, 1.0, float(np.min(top)), horizon + 0.05)
        if w is None:
            continue
        depth = w.y - top[None, :]
        cov = coverage(depth, px)
        # Lit and shaded faces: the silhouette's slope carried down slanted face boundaries.
        slope = np.interp(tx.x + np.maximum(depth, 0.0) * ridge.skew, PROFILE_X, ridge.smooth_slopes)
        shade = 0.5 + 0.5 * np.clip(slope * tx.side * 1.5, -1.0, 1.0)
        texture = 1.0 + 0.1 * tx.broad[w.rows] + 0.12 * tx.vertical[w.rows] + 0.06 * tx.fine[w.rows]
        forest = coverage(w.y - (horizon - ridge.forest_height) + 0.015 * tx.fine[w.rows], 0.02)
        paint = _winter_ridge if tx.winter else _summer_ridge
        colour = paint(canvas, scene, ridge, tx, w, depth, top, shade, texture, forest)
        canvas.blend(w, cov, mix(colour, tx.sky_bottom, ridge.haze))


def _winter_ridge(canvas, scene, ridge, tx, w, depth, top, shade, texture, forest):
    """Dark rock, snow above the snow line, along the crest and in gullies, frosted forest."""
    horizon, rows = scene.sky.horizon, w.rows
    rock = np.array([0.27, 0.27, 0.30]) * ridge.rock_light
    rock_colour = (rock * 0.55 + rock * 0.6 * shade[..., None]) * texture[..., None]
    snow_colour = mix(SNOW_SHADE, SNOW_LIT, shade[..., None])
    line = horizon - ridge.snow_height
    above = np.clip((line - w.y + 0.04 * tx.broad[rows] + 0.02 * tx.vertical[rows]) / 0.02, 0.0, 1.0)
    gentle = 1.0 / (1.0 + 9.0 * ridge.slopes * ridge.slopes)
    crest = np.interp(canvas.centres, PROFILE_X, gentle)[None, :]
    cap = coverage(ridge.cap * (0.35 + 0.65 * crest) * (1.0 + 0.5 * tx.fine[rows]) - depth, 0.006)
    relative = np.clip(depth / np.maximum(horizon - top[None, :], 1e-3), 0.0, 1.0)
    gully = np.clip((tx.vertical[rows] + 0.35 * tx.fine[rows] - 0.55 * relative + 0.05) * 6.0, 0.0, 1.0)
    snow = np.maximum(np.maximum(above, cap), gully)
    colour = mix(rock_colour, snow_colour, snow[..., None])
    frost = np.clip(0.3 + 0.4 * tx.fine[rows] + 0.8 * tx.grain[rows], 0.0, 1.0)
    trees = mix([0.13, 0.17, 0.17], snow_colour, frost[..., None])
    return mix(colour, trees, forest[..., None])


def _summer_ridge(canvas, scene, ridge, tx, w, depth, top, shade, texture, forest):
    """Grey to brown rock, green forest on its feet."""
    rows = w.rows
    grey, brown = np.array([0.50, 0.48, 0.46]), np.array([0.50, 0.39, 0.29])
    rock = mix(grey, brown, ridge.rock_tone) * ridge.rock_light
    colour = (rock * 0.6 + rock * 0.6 * shade[..., None]) * texture[..., None]
    green = mix([0.15, 0.3, 0.12], [0.3, 0.34, 0.15], scene.sky.dryness)
    trees = green * (0.75 + 0.5 * shade[..., None]) * (1.0 + 0.25 * tx.fine[rows] + 0.3 * tx.grain[rows])[..., None]
    return mix(colour, trees, forest[..., None])


def paint_ground(canvas: Canvas, scene: Scene, tx: Textures):
    """Grass or snow below the rolling ground line; (its window, coverage, depth 0..1) for the water."""
    horizon, px = scene.sky.horizon, tx.pixel
    ground_top = horizon + 0.006 + np.interp(canvas.centres, GROUND_X, scene.ground)
    g = canvas.window(0.0, 1.0, float(np.min(ground_top)), 1.0)
    cov = coverage(g.y - ground_top[None, :], px)
    t = np.clip((g.y - horizon) / (1.0 - horizon), 0.0, 1.0)[..., None]
    broad, fine, streaks, grain = tx.broad[g.rows], tx.fine[g.rows], tx.streaks[g.rows], tx.grain[g.rows]
    if tx.winter:
        snow = mix([0.84, 0.87, 0.93], [0.95, 0.96, 0.985], t)
        drift = np.clip(0.5 + 1.2 * broad + 0.3 * streaks, 0.0, 1.0)[..., None]
        colour = mix(snow, SNOW_SHADE, 0.35 * drift)
        tufts = np.clip((streaks + 0.6 * fine + 0.4 * grain - 0.75) * 5.0, 0.0, 1.0) * (0.3 + 0.7 * t[..., 0])
        colour = mix(colour, [0.45, 0.42, 0.33], 0.6 * tufts[..., None])
        colour = colour + (0.06 * (grain > 0.46))[..., None]
    else:
        dryness = scene.sky.dryness
        far = mix([0.46, 0.62, 0.26], [0.66, 0.62, 0.33], dryness)
        near = mix([0.19, 0.42, 0.11], [0.45, 0.45, 0.17], dryness)
        colour = mix(far, near, t)
        texture = 1.0 + 0.12 * broad + 0.08 * streaks + 0.08 * fine + grain * (0.1 + 0.3 * t[..., 0])
        colour = colour * texture[..., None]
    canvas.blend(g, cov, colour)
    return g, cov, t


def _water_coverage(scene: Scene, tx: Textures, g: Window, ground_cov):
    """(the water's coverage, its shore's) in the ground's window; None when the scene has no water."""
    water, px, fine = scene.water, tx.pixel, tx.fine[g.rows]
    if water.lake is not None:
        lake = water.lake
        dx, dy = (tx.x - lake.x) / lake.half_width, (g.y - lake.y) / lake.half_height
        q = np.sqrt(dx * dx + dy * dy) + 0.12 * fine
        water_cov = coverage((1.0 - q) * lake.half_height, px) * ground_cov
        return water_cov, coverage((1.12 - q) * lake.half_height, px) * ground_cov
    if water.river is not None:
        centre, width = water.river.centre_and_width(g.y, scene.sky.horizon)
        distance = np.abs(tx.x - centre) + 0.25 * width * fine
        water_cov = coverage(0.5 * width - distance, px) * ground_cov
        return water_cov, coverage(0.62 * width + 0.003 - distance, px) * ground_cov
    return None


def paint_water(canvas: Canvas, scene: Scene, tx: Textures, g: Window, ground_cov, t):
    """The lake or river: dark reflective water in summer, ice with cracks in winter."""
    found = _water_coverage(scene, tx, g, ground_cov)
    if found is None:
        return
    water_cov, shore = found
    broad, fine, streaks = tx.broad[g.rows], tx.fine[g.rows], tx.streaks[g.rows]
    if tx.winter:
        canvas.blend(g, shore, mix([0.80, 0.84, 0.92], [0.88, 0.9, 0.95], t))
        ice = mix([0.72, 0.84, 0.92], [0.80, 0.89, 0.95], t)
        ice = ice * (1.0 + 0.04 * streaks + 0.03 * fine)[..., None]
        dust = np.clip((broad + 0.3 * fine - 0.15) * 3.0, 0.0, 1.0)
        ice = mix(ice, [0.93, 0.95, 0.98], 0.6 * dust[..., None])
        canvas.blend(g, water_cov, ice)
        if scene.water.cracks:
            segments = np.concatenate(scene.water.cracks)
            d = np.min(segment_distances(tx.x, g.y, segments), axis=0)
            crack = coverage(0.0015 + 0.002 * t[..., 0] - d, tx.pixel) * water_cov * 0.8
            canvas.blend(g, crack, [0.45, 0.58, 0.70])
        return
    canvas.blend(g, shore, mix([0.36, 0.36, 0.2], [0.25, 0.3, 0.14], t))
    horizon = scene.sky.horizon
    mirrored = np.clip((2.0 * horizon - g.y) / horizon, 0.0, 1.0)[..., None]
    reflection = tx.sky_top + (tx.sky_bottom - tx.sky_top) * mirrored
    deep = np.array([0.06, 0.16, 0.30])
    colour = mix(deep, reflection, 0.45 - 0.25 * t)
    ripple = 1.0 + 0.25 * streaks + 0.05 * fine
    colour = colour * ripple[..., None]
    colour = colour + (0.12 * np.clip((streaks - 0.35) * 4.0, 0.0, 1.0))[..., None]
    canvas.blend(g, water_cov, colour)


def paint_trees(canvas: Canvas, scene: Scene, tx: Textures):
    """Every tree's ground shadow, then the trees themselves, far to near."""
    winter, side = tx.winter, tx.side
    shadow = np.array([0.62, 0.68, 0.84]) if winter else np.array([0.55, 0.6, 0.62])
    for tree in scene.trees:  # ground shadows first, so no tree is darkened by another's
        rx, ry = 0.3 * tree.height, 0.045 * tree.height
        cx, cy = tree.x - side * 0.2 * tree.height, tree.y + 0.005
        w = canvas.window(cx - rx, cx + rx, cy - ry, cy + ry)
        if w is None:
            continue
        dx, dy = (w.x - cx) / rx, (w.y - cy) / ry
        k = np.clip(1.0 - (dx * dx + dy * dy), 0.0, 1.0) * (0.5 if winter else 0.6)
        region = canvas.image[w.rows, w.cols]
        region *= 1.0 - k[..., None] * (1.0 - shadow)
    for tree in scene.trees:
        if isinstance(tree, Conifer):
            draw_conifer(canvas, tree, tx)
        else:
            draw_leafy_tree(canvas, tree, tx)


def draw_conifer(canvas: Canvas, tree: Conifer, tx: Textures):
    """A trunk and stacked triangular tiers, lit from the sun's side; in winter, snow on each tier's upper
    edges and a cap on top."""
    h, px, winter, side = tree.height, canvas.pixel, tx.winter, tx.side
    half = 0.5 * tree.width * h
    w = canvas.window(tree.x - 0.04 * h, tree.x + 0.04 * h, tree.y - 0.16 * h, tree.y)
    if w is not None:  # the trunk
        cov = coverage(0.035 * h - np.abs(w.x - tree.x), px) * coverage(tree.y - w.y, px)
        canvas.blend(w, cov, [0.28, 0.19, 0.12])
    base0 = tree.y - 0.12 * h
    step = (0.88 * h) / (tree.tiers + 0.5)
    green = mix([0.07, 0.22, 0.12], [0.12, 0.3, 0.14], tree.tone)
    if winter:
        green = green * 0.85
    for i in range(tree.tiers):
        b = base0 - i * step
        a = b - 1.5 * step
        hw = half * (1.0 - 0.62 * i / tree.tiers)
        w = canvas.window(tree.x - hw, tree.x + hw, a, b)
        if w is None:
            continue
        left = edge_distance(w.x, w.y, tree.x - hw, b, tree.x, a, -1.0)
        right = edge_distance(w.x, w.y, tree.x, a, tree.x + hw, b, -1.0)
        cov = coverage(np.minimum(np.minimum(left, right), b - w.y), px)
        lit = 0.5 + 0.5 * np.clip((w.x - tree.x) / hw * side, -1.0, 1.0)
        grain, fine = tx.grain[w.rows, w.cols], tx.fine[w.rows, w.cols]
        colour = green * (0.7 + 0.6 * lit + 0.35 * grain + 0.15 * fine)[..., None]
        if winter:
            edge = np.minimum(left, right)
            band = tree.snow * hw * (0.75 + 0.5 * fine + 0.6 * grain)
            snow = coverage(band - edge, px) * np.clip((w.y - a) / (b - a) * 1.5 + 0.35, 0.0, 1.0)
            if i == tree.tiers - 1:
                snow = np.maximum(snow, coverage(a + 0.35 * (b - a) - w.y, px))
            snow_colour = mix(SNOW_SHADE, SNOW_LIT, (0.3 + 0.7 * lit)[..., None])
            colour = mix(colour, snow_colour, snow[..., None])
        canvas.blend(w, cov, colour)


def draw_leafy_tree(canvas: Canvas, tree: LeafyTree, tx: Textures):
    """A trunk and branches (every twig in winter, bare), and in summer the round puffs of its crown."""
    h, px, winter, side, grain = tree.height, canvas.pixel, tx.winter, tx.side, tx.grain
    trunk_colour = np.array([0.29, 0.25, 0.23]) if winter else np.array([0.33, 0.23, 0.15])
    segments = tree.branches[:, :5] * h
    if not winter:  # the crown hides the fine twigs: skip them
        segments = segments[tree.branches[:, 5] < 2]
    segments[:, 0] += tree.x
    segments[:, 2] += tree.x
    segments[:, 1] += tree.y
    segments[:, 3] += tree.y
    x0 = min(tree.x - tree.trunk_width * h, float(np.min(segments[:, [0, 2]])))
    x1 = max(tree.x + tree.trunk_width * h, float(np.max(segments[:, [0, 2]])))
    y0 = float(np.min(segments[:, [1, 3]]))
    w = canvas.window(x0, x1, y0, tree.y)
    if w is not None:
        trunk_top = tree.y - tree.trunk_top * h
        rel = np.clip((tree.y - w.y) / (tree.y - trunk_top), 0.0, 1.0)
        half_width = tree.trunk_width * h * (1.0 - 0.45 * rel)
        cov = (coverage(half_width - np.abs(w.x - tree.x), px) * coverage(w.y - trunk_top, px)
               * coverage(tree.y - w.y, px))
        d = segment_distances(w.x, w.y, segments) - segments[:, 4, None, None]
        cov = np.maximum(cov, np.max(coverage(-d, px), axis=0))
        lit = 0.85 + 0.3 * np.clip((w.x - tree.x) * side / (tree.trunk_width * h), -1.0, 1.0)
        canvas.blend(w, cov, trunk_colour * (lit + 0.2 * grain[w.rows, w.cols])[..., None])
    if not winter:
        _draw_crown(canvas, tree, tx)


def _draw_crown(canvas: Canvas, tree: LeafyTree, tx: Textures):
    """The crown's round puffs, big ones behind, lit from the sun's side."""
    h, px, side = tree.height, canvas.pixel, tx.side
    shade = mix([0.12, 0.32, 0.08], [0.22, 0.40, 0.10], tree.tone)
    bright = mix([0.42, 0.66, 0.22], [0.58, 0.70, 0.22], tree.tone)
    order = np.argsort(tree.crown[:, 2], kind="stable")[::-1]  # big puffs behind
    for k in order:
        dx0, dy0, r0 = tree.crown[k]
        cx, cy, r = tree.x + dx0 * h, tree.y + dy0 * h, r0 * h
        w = canvas.window(cx - r, cx + r, cy - r, cy + r)
        if w is None:
            continue
        dx, dy = w.x - cx, w.y - cy
        d = np.sqrt(dx * dx + dy * dy)
        fine, grain = tx.fine[w.rows, w.cols], tx.grain[w.rows, w.cols]
        cov = coverage(r * (1.0 + 0.12 * fine + 0.1 * grain) - d, px)
        lit = np.clip(0.5 + 0.6 * (dx * side - dy) / r, 0.0, 1.0)
        colour = mix(shade, bright, lit[..., None]) * (1.0 + 0.3 * grain + 0.1 * fine)[..., None]
        canvas.blend(w, cov, colour)
