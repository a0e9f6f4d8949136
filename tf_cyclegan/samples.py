"""Pictures made of images: the grid that sample grids and results pictures are laid out in, and PNG files."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

from tf_cyclegan.fileio import atomic_write


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


def save_png(path: str | os.PathLike, image: np.ndarray):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    atomic_write(path, buffer.getvalue())
