"""The sample grid: what the generators do to fixed test images, saved as PNG each epoch."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from tf_cyclegan.fileio import atomic_write
from tf_cyclegan.serving import to_uint8


def grid(rows, gap: int = 4) -> np.ndarray:
    """uint8 images of one size, laid out as rows of groups: a group's images side by side, groups 3*gap
    apart, rows gap apart, on white."""
    blocks = [[np.concatenate(group, axis=1) for group in row] for row in rows]
    h = blocks[0][0].shape[0]
    width = sum(b.shape[1] for b in blocks[0]) + 3 * gap * (len(blocks[0]) - 1)
    out = np.full((len(blocks) * (h + gap) - gap, width, 3), 255, np.uint8)
    for i, row in enumerate(blocks):
        left = 0
        for block in row:
            out[i * (h + gap):i * (h + gap) + h, left:left + block.shape[1]] = block
            left += block.shape[1] + 3 * gap
    return out


def sample_grid(G, F, real_x, real_y, gap: int = 4) -> np.ndarray:
    """Rows of  real_x | G(x) | F(G(x))  ||  real_y | F(y) | G(F(y)),  one row per test image pair."""
    fake_y = G(real_x, training=False)
    fake_x = F(real_y, training=False)
    cycled_x, cycled_y = F(fake_y, training=False), G(fake_x, training=False)
    left = [np.asarray(to_uint8(t)) for t in (real_x, fake_y, cycled_x)]
    right = [np.asarray(to_uint8(t)) for t in (real_y, fake_x, cycled_y)]
    n = min(len(real_x), len(real_y))
    return grid([[[t[i] for t in left], [t[i] for t in right]] for i in range(n)], gap)


def save_png(path: str | os.PathLike, image: np.ndarray):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    atomic_write(path, buffer.getvalue())
