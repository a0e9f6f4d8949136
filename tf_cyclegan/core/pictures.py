"""Pictures written to disk: the grids that sample pictures and results pages are laid out in, PNG files, and
images in the format their file name asks for."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from tf_cyclegan.core.files import atomic_write


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


def encode_like(image: np.ndarray | Image.Image, name: str) -> bytes:
    """uint8 [H, W, 3] (or a PIL image) encoded in the format the file name asks for (PNG when it names
    none; JPEG at quality 95, as the reference's cv2.imwrite)."""
    buffer = io.BytesIO()
    fmt = Image.registered_extensions().get(Path(name).suffix.lower(), "PNG")
    pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
    pil.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def save_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    return atomic_write(path, encode_like(image, "image.png"))


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """The image written atomically, in the format of its file name."""
    return atomic_write(path, encode_like(image, str(path)))
