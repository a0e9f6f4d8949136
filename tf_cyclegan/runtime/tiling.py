"""Large images in overlapping tiles that share their instance-norm statistics.

A generator's instance norms normalise each channel by the mean and variance of the whole image. Tiles
translated one by one each get their own statistics, and colour and style jump at tile borders. Here every
normalisation layer of a tile (instance norm, or batch norm in the reference's test mode) uses statistics
of the whole image instead (as URUST, ECCV 2022, and Dense-Normalization, ECCV 2024, share them):
- "thumbnail" (the default): the statistics of the image shrunk to at most `thumbnail_pixels` (the image
  itself when it is that small), one extra run of that size;
- "two-pass": a statistics pass over the tiles at full resolution (each layer's mean and variance over the
  whole image, the layers normalised meanwhile with the thumbnail's), then the translation pass with them.
  A layer's statistics depend on the statistics of the layers before it, so one pass cannot make them
  exact, and the mix of exact early layers with later ones measured under other statistics came out
  further from untiled translation than the thumbnail's consistent set (docs/translate.md);
- "tile": each tile's own statistics (the seams, for comparison).
Tiles overlap and are blended with a raised-cosine window (a partition of unity, so flat regions stay
flat). docs/translate.md has the measured PSNR against untiled translation for each mode.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterator

import numpy as np

from tf_cyclegan.core.pixels import UNTILED_PIXELS_RANGE, to_uint8

NORM_STATS = ("thumbnail", "two-pass", "tile")
DEFAULT_THUMBNAIL_PIXELS = 1024 * 1024
DEFAULT_NORM_STATS = "thumbnail"
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 64
GRID = 4  # tile starts and statistics regions fall on this grid: the ResNets' quarter-resolution layers
NORM_STATS_HELP = ("how tiles normalise: thumbnail (the statistics of a copy shrunk to --thumbnail_pixels), "
                   "two-pass (gathered over the tiles first, starting from the thumbnail's; measured further "
                   "from untiled), tile (each tile its own: seams)")


@dataclasses.dataclass(frozen=True)
class TileOptions:
    """How a large image is cut: `tile` and `overlap` in pixels; images over `max_pixels_untiled` pixels
    (None: untiled_pixel_limit() for this machine) are tiled, and `always_tile` tiles every image; the statistics
    come from a copy of at most `thumbnail_pixels`."""

    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    norm_stats: str = DEFAULT_NORM_STATS
    max_pixels_untiled: int | None = None
    always_tile: bool = False
    thumbnail_pixels: int = DEFAULT_THUMBNAIL_PIXELS

    def __post_init__(self):
        if self.norm_stats not in NORM_STATS:
            raise ValueError(f"--norm_stats {self.norm_stats}: choose one of {', '.join(NORM_STATS)}")
        if self.tile < 2 * GRID or self.tile % GRID:
            raise ValueError(f"--tile {self.tile}: must be a multiple of {GRID}, at least {2 * GRID}")
        if not 0 <= self.overlap < self.tile // 2:
            raise ValueError(f"--overlap {self.overlap}: must be at least 0 and under half of --tile "
                             f"({self.tile // 2})")
        if self.max_pixels_untiled is not None and self.max_pixels_untiled < 1:
            raise ValueError(f"--max_pixels_untiled {self.max_pixels_untiled}: must be a positive pixel count")
        if self.thumbnail_pixels < 64 * 64:
            raise ValueError(f"--thumbnail_pixels {self.thumbnail_pixels}: must be at least {64 * 64}")

    def tiles_image(self, height: int, width: int) -> bool:
        limit = untiled_pixel_limit() if self.max_pixels_untiled is None else self.max_pixels_untiled
        return self.always_tile or height * width > limit


# Peak memory of an untiled translation grows with the pixels (the paper's generator: docs/translate.md);
# this many bytes per pixel leaves room for the input, output and TensorFlow's own arenas.
UNTILED_BYTES_PER_PIXEL = 2048


def untiled_pixel_limit(memory_bytes: int | None = None) -> int:
    """The default --max_pixels_untiled: what a quarter of this machine's memory translates untiled,
    between 1024x1024 and 4096x4096 pixels."""
    if memory_bytes is None:
        import os

        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    low, high = UNTILED_PIXELS_RANGE
    return int(min(max(memory_bytes // 4 // UNTILED_BYTES_PER_PIXEL, low), high))


# -- where the tiles go ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Span:
    """One tile along one axis: [start, stop) is what it sees, [core_start, core_stop) what it alone owns
    (the statistics count each pixel once), `before` / `after` the overlaps blended with its neighbours."""

    start: int
    stop: int
    core_start: int
    core_stop: int
    before: int
    after: int


def spans(length: int, tile: int, overlap: int) -> list[Span]:
    """Tiles of `tile` pixels covering [0, length) with at least `overlap` pixels in common, spread evenly,
    starting on the GRID."""
    if length <= tile:
        return [Span(0, length, 0, length, 0, 0)]
    count = math.ceil((length - overlap) / (tile - overlap))
    starts = [round(i * (length - tile) / (count - 1) / GRID) * GRID for i in range(count)]
    starts[-1] = length - tile
    cores = [0] + [round((start + prev + tile) / 2 / GRID) * GRID for prev, start in zip(starts, starts[1:])]
    cores.append(length)
    out = []
    for i, start in enumerate(starts):
        before = starts[i - 1] + tile - start if i else 0
        after = start + tile - starts[i + 1] if i + 1 < count else 0
        out.append(Span(start, start + tile, cores[i], cores[i + 1], before, after))
    return out


def window(span: Span) -> np.ndarray:
    """A tile's blending weights along one axis: raised-cosine ramps across its overlaps, which add up to
    one with the neighbours' ramps, and one elsewhere."""
    w = np.ones(span.stop - span.start, np.float32)
    if span.before:
        t = (np.arange(span.before) + 0.5) / span.before
        w[:span.before] = np.sin(t * np.pi / 2) ** 2
    if span.after:
        t = (np.arange(span.after) + 0.5) / span.after
        w[-span.after:] *= np.cos(t * np.pi / 2) ** 2
    return w


def windows(line: list[Span]) -> list[np.ndarray]:
    """Each tile's window, divided by their sum: a partition of unity however many tiles overlap a pixel
    (three can, when a side is just under two tiles long and the tiles spread evenly)."""
    weights = [window(span) for span in line]
    total = np.zeros(line[-1].stop, np.float32)
    for span, weight in zip(line, weights):
        total[span.start:span.stop] += weight
    return [weight / total[span.start:span.stop] for span, weight in zip(line, weights)]


def tiles(height: int, width: int, options: TileOptions) -> Iterator[tuple[Span, Span]]:
    for row in spans(height, options.tile, options.overlap):
        for col in spans(width, options.tile, options.overlap):
            yield row, col


def core_fractions(row: Span, col: Span) -> np.ndarray:
    """The tile's own region as fractions of the tile (top, left, bottom, right): each layer finds it at
    its own resolution."""
    h, w = row.stop - row.start, col.stop - col.start
    return np.array([(row.core_start - row.start) / h, (col.core_start - col.start) / w,
                     (row.core_stop - row.start) / h, (col.core_stop - col.start) / w], np.float32)


# -- statistics --------------------------------------------------------------------------------------
def combine(parts: list[tuple[np.ndarray, int]], widths: list[int]) -> np.ndarray:
    """Whole-image [mean, variance] per layer from each tile's (stats, pixel count) over its own region:
    Chan's parallel formula in float64, so millions of pixels lose no precision. `widths` are the layers'
    channel counts; stats hold [mean (C), variance (C)] per layer, in layer order."""
    out, offset = [], 0
    for c in widths:
        means = np.array([s[offset:offset + c] for s, _ in parts], np.float64)
        variances = np.array([s[offset + c:offset + 2 * c] for s, _ in parts], np.float64)
        counts = np.array([[n] for _, n in parts], np.float64)
        total = counts.sum()
        mean = (counts * means).sum(0) / total
        variance = (counts * (variances + (means - mean) ** 2)).sum(0) / total
        out.extend([mean, variance])
        offset += 2 * c
    return np.concatenate(out).astype(np.float32) if out else np.zeros([0], np.float32)


TileFn = Callable[[np.ndarray, "np.ndarray | None", np.ndarray], "tuple[np.ndarray, np.ndarray]"]


@dataclasses.dataclass
class TiledModel:
    """What tiling needs of a model. run(tile uint8 [h, w, 3], stats or None, core fractions or None) ->
    (float [-1, 1] translation [h, w, 3], [mean, var] per shared layer over the core): with stats None each
    layer uses the tile's own statistics (and reports them), with core None no statistics are wanted back.
    `widths`: the shared layers' channel counts (empty: nothing to share, as for batch norm with running
    statistics, and for files that cannot take statistics in). `multiple`: what the tile sides must be a
    multiple of."""

    run: TileFn
    widths: list[int]
    multiple: int
    shares: bool = True


def image_statistics(model: TiledModel, image: np.ndarray, pixels: int) -> np.ndarray:
    """The shared layers' statistics on the image, shrunk to at most `pixels` if it is larger."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = min(1.0, math.sqrt(pixels / (h * w)))
    m = max(model.multiple, GRID)
    th, tw = (max(min_side(model), round(side * scale / m) * m) for side in (h, w))
    thumb = image if (th, tw) == (h, w) else np.asarray(Image.fromarray(image).resize((tw, th), Image.Resampling.BOX))
    _, stats = model.run(thumb, None, np.array([0, 0, 1, 1], np.float32))
    return stats


def translate_tiled(model: TiledModel, image: np.ndarray, options: TileOptions,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [H, W, 3], tile by tile. `progress(n)` is told of each tile done."""
    h, w = image.shape[:2]
    m = max(model.multiple, GRID)
    # Padded on both sides as tf_cyclegan.runtime.processing pads an untiled image, so the stride-2 layers see the same
    # pixel grid.
    ph, pw = (padded_side(model, side) - side for side in (h, w))
    top, left = ph // 2, pw // 2
    padded = image if not ph + pw else np.pad(image, [[top, ph - top], [left, pw - left], [0, 0]],
                                              mode="reflect" if min(h, w) > max(ph, pw) else "edge")
    mode = statistics_mode(model, options)
    stats = image_statistics(model, padded, options.thumbnail_pixels) if mode != "tile" else None
    options = _with_multiple(options, m)
    rows, cols = (spans(side, options.tile, options.overlap) for side in padded.shape[:2])
    if mode == "two-pass":
        parts = []
        for row, col in tiles(*padded.shape[:2], options):
            _, core = model.run(padded[row.start:row.stop, col.start:col.stop], stats, core_fractions(row, col))
            parts.append((core, (row.core_stop - row.core_start) * (col.core_stop - col.core_start)))
            progress and progress(1)
        stats = combine(parts, model.widths)
    return _blend(model, padded, stats, rows, cols, (top, left, h, w), progress)


def _blend(model, padded, stats, rows, cols, crop, progress) -> np.ndarray:
    """The tiles translated and blended, one row of tiles at a time: only the rows that later tiles still
    add to are held in float32, so memory is the uint8 result and a band of tile height."""
    top, left, h, w = crop
    row_weights, col_weights = windows(rows), windows(cols)
    out = np.empty((h, w, 3), np.uint8)
    band_start, band = 0, np.zeros((0, padded.shape[1], 3), np.float32)
    for i, (row, row_weight) in enumerate(zip(rows, row_weights)):
        grow = row.stop - band_start - len(band)
        if grow > 0:
            band = np.concatenate([band, np.zeros((grow,) + band.shape[1:], np.float32)])
        for col, col_weight in zip(cols, col_weights):
            y, _ = model.run(padded[row.start:row.stop, col.start:col.stop], stats, None)
            band[row.start - band_start:row.stop - band_start, col.start:col.stop] += (
                y * (row_weight[:, None, None] * col_weight[None, :, None]))
            progress and progress(1)
        done = rows[i + 1].start if i + 1 < len(rows) else row.stop  # no later tile reaches above this
        lo, hi = max(band_start, top), min(done, top + h)
        if hi > lo:
            finished = band[lo - band_start:hi - band_start, left:left + w]
            out[lo - top:hi - top] = to_uint8(finished)
        band, band_start = band[done - band_start:], done
    return out


def statistics_mode(model: TiledModel, options: TileOptions) -> str:
    """--norm_stats, or "tile" for a model with nothing to share or that cannot take statistics in."""
    return options.norm_stats if model.widths and model.shares else "tile"


def padded_side(model: TiledModel, side: int) -> int:
    """A side padded up to the generator's multiple, and to at least min_side."""
    m = max(model.multiple, GRID)
    return max(-(-side // m) * m, min_side(model))


def min_side(model: TiledModel) -> int:
    """The smallest side a tile or thumbnail is padded to: the ResNets' reflection padding at quarter
    resolution needs more than one pixel."""
    return max(model.multiple, 4 * GRID)


def tile_side(model: TiledModel, options: TileOptions) -> int:
    """The side the tiles really have: --tile rounded up to the generator's size multiple."""
    return _with_multiple(options, max(model.multiple, GRID)).tile


def _with_multiple(options: TileOptions, m: int) -> TileOptions:
    """The tile size rounded up to what the generator takes (a U-Net's 256)."""
    tile = -(-options.tile // m) * m
    return options if tile == options.tile else dataclasses.replace(options, tile=tile)


def passes(model: TiledModel, image_shape, options: TileOptions) -> int:
    """How many tile runs translate_tiled makes (for a progress bar)."""
    h, w = (padded_side(model, side) for side in image_shape[:2])
    n = sum(1 for _ in tiles(h, w, _with_multiple(options, max(model.multiple, GRID))))
    return 2 * n if statistics_mode(model, options) == "two-pass" else n
