"""The sample grid: what the generators do to fixed test images, saved as PNG each epoch."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from tf_cyclegan.fileio import atomic_write
from tf_cyclegan.serving import to_uint8


def sample_grid(G, F, real_x, real_y, gap: int = 4) -> np.ndarray:
    """Rows of  real_x | G(x) | F(G(x))  ||  real_y | F(y) | G(F(y)),  one row per test image pair."""
    fake_y = G(real_x, training=False)
    fake_x = F(real_y, training=False)
    cycled_x, cycled_y = F(fake_y, training=False), G(fake_x, training=False)
    left = np.concatenate([real_x, fake_y, cycled_x], axis=2)
    right = np.concatenate([real_y, fake_x, cycled_y], axis=2)
    n = min(len(left), len(right))
    left, right = np.asarray(to_uint8(left[:n])), np.asarray(to_uint8(right[:n]))
    h, w = left.shape[1], left.shape[2]
    grid = np.full((n * (h + gap) - gap, 2 * w + 3 * gap, 3), 255, np.uint8)
    for i in range(n):
        top = i * (h + gap)
        grid[top:top + h, :w] = left[i]
        grid[top:top + h, w + 3 * gap:] = right[i]
    return grid


def save_png(path: str | os.PathLike, image: np.ndarray):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    atomic_write(path, buffer.getvalue())
