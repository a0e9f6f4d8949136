"""Translator: one image in, its translation out, for every model kind and any size (large images in tiles
that share their normalisation statistics, tf_cyclegan.runtime.tiling); docs/translator.md."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from tf_cyclegan.core.errors import TranslateError, first_line
from tf_cyclegan.core.pictures import save_image
from tf_cyclegan.data.images import decode, to_rgb
from tf_cyclegan.runtime import tiling
from tf_cyclegan.runtime.opening import Direction, keras_direction, open_model
from tf_cyclegan.runtime.tiling import TileOptions


class Translator:
    """One image in, its translation out, for every model kind: `Translator.load(path)` then
    `translator(image)` with a PIL image, a uint8 NumPy array [H, W, 3] (or [H, W] grey, [H, W, 4] RGBA)
    or a file path, returning a PIL image, an array, or (for a path) a PIL image; with `output=` it also
    writes the translation there atomically and returns that path. Images over the tiling limit are
    translated in tiles that share their normalisation statistics (tf_cyclegan.runtime.tiling); see
    docs/translator.md."""

    def __init__(self, direction: Direction, tiles: TileOptions | None = None):
        self._direction, self.tiles = direction, tiles or TileOptions()
        self._tiled = None

    @classmethod
    def load(cls, path: str | os.PathLike, direction: str | None = None, mode: str | None = None, tiles=None,
             **tile_options) -> "Translator":
        """Any model that `translate --model` accepts; `direction` and `mode` as there. `tiles` is a
        tiling.TileOptions, or give its fields as keywords (tile=512, overlap=64, norm_stats=...)."""
        chosen = open_model(path, mode).direction(direction)
        chosen.translate  # load it now: a model that cannot be loaded fails here, not at the first image
        return cls(chosen, _tile_options(tiles, tile_options))

    @classmethod
    def from_generator(cls, generator, mode: str = "train", tiles=None, **tile_options) -> "Translator":
        """A Keras generator in memory (a run's G, networks.build_generator(), a from_torch import)."""
        from tf_cyclegan.models.modes import inference_generator

        direction = keras_direction("a2b", inference_generator(generator, mode), f"Keras generator {generator.name}")
        return cls(direction, _tile_options(tiles, tile_options))

    @property
    def description(self) -> str:
        return self._direction.description

    def tiled_model(self):
        if self._tiled is None:
            self._tiled = self._direction.tiled()
        return self._tiled

    def tile_runs(self, height: int, width: int) -> int:
        """How many tile runs an image of this size takes; 0 when it is translated whole."""
        if not self.tiles.tiles_image(height, width):
            return 0
        return tiling.passes(self.tiled_model(), (height, width), self.tiles)

    def describe_tiling(self, height: int, width: int) -> str:
        model = self.tiled_model()
        tile = tiling.tile_side(model, self.tiles)
        runs = self.tile_runs(height, width)
        if not model.widths:
            how = ("tiles with their own statistics (this model kind cannot take shared ones in: translate "
                   "with the SavedModel or the run for seamless tiles)" if not model.shares else
                   "tiles (no per-image statistics to share)")
        else:
            how = f"tiles, {self.tiles.norm_stats} statistics"
        return f"{runs} {tile}x{tile} {how}, overlap {self.tiles.overlap}"

    def translate_array(self, image: np.ndarray, progress=None) -> np.ndarray:
        """uint8 [H, W, 3] -> uint8 [H, W, 3], tiled when the image is over the limit. `progress(n)` is told
        of each tile run."""
        if not self.tiles.tiles_image(*image.shape[:2]):
            return np.asarray(self._direction.translate(image[None]))[0]
        return tiling.translate_tiled(self.tiled_model(), image, self.tiles, progress)

    def __call__(self, image, output: str | os.PathLike | None = None):
        array, kind = _as_rgb(image)
        translated = self.translate_array(array)
        if output is not None:
            return save_image(output, translated)
        if kind == "array":
            return translated
        return Image.fromarray(translated)


def _tile_options(tiles, values: dict) -> TileOptions:
    if tiles is not None and values:
        raise TypeError("give either tiles=TileOptions(...) or its fields as keywords, not both")
    try:
        return tiles or TileOptions(**values)
    except ValueError as e:
        raise TranslateError(str(e)) from None


def _as_rgb(image) -> tuple[np.ndarray, str]:
    """(uint8 [H, W, 3], "pil" | "array" | "path") for what Translator accepts."""
    if isinstance(image, (str, os.PathLike)):
        try:
            return np.asarray(decode(str(image)), np.uint8), "path"
        except FileNotFoundError:
            raise TranslateError(f"{image}: no such file") from None
        except Exception as e:  # Pillow raises many types for unreadable files
            raise TranslateError(f"{image}: cannot read it as an image ({first_line(e)})") from None
    if isinstance(image, Image.Image):
        return np.asarray(to_rgb(image), np.uint8), "pil"
    array = np.asarray(image) if not isinstance(image, np.ndarray) else image
    if array.dtype != np.uint8:
        raise TranslateError(f"image array of dtype {array.dtype}: give uint8 pixels (0-255), e.g. "
                             "np.clip(x * 255, 0, 255).astype(np.uint8) for floats in [0, 1]")
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    elif array.ndim == 3 and array.shape[-1] == 4:
        array = np.asarray(Image.fromarray(array, "RGBA").convert("RGB"))
    elif array.ndim != 3 or array.shape[-1] != 3:
        raise TranslateError(f"image array of shape {array.shape}: give [H, W, 3] RGB, [H, W] grey or "
                             "[H, W, 4] RGBA")
    if min(array.shape[:2]) < 1:
        raise TranslateError(f"image array of shape {array.shape}: it has no pixels")
    return np.ascontiguousarray(array), "array"
