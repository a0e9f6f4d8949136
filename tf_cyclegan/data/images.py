"""Reading images: every mode real folders hold, decoded to 8-bit RGB, and checked before training.

Pillow decodes: it reads grayscale, RGBA, palette, CMYK, 16-bit, animated GIF and WebP files, and its bicubic
resize is the one the reference uses. No TensorFlow here, so that commands which only read images (the
aligned-layout builder) start at once.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")


def open_image(item: str | os.PathLike | bytes) -> Image.Image:
    """Pillow's lazy image of a file or of encoded bytes (only the header is read)."""
    return Image.open(io.BytesIO(item) if isinstance(item, bytes) else item)


def decode(item: str | os.PathLike | bytes) -> Image.Image:
    """Any image file or encoded bytes as an 8-bit RGB image (the first frame of an animation)."""
    with open_image(item) as image:
        return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """An image of any mode as 8-bit RGB; 16- and 32-bit grey keep their top 8 bits (Pillow's convert
    would clip them to white)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        depth = 16 if image.mode.startswith("I;16") else 32
        array = np.asarray(image, dtype=np.uint32) >> (depth - 8)
        image = Image.fromarray(array.astype(np.uint8), mode="L")
    return image.convert("RGB")


def resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The image at (width, height), bicubic as the reference; itself when it has that size already."""
    return image if image.size == tuple(size) else image.resize(size, Image.BICUBIC)


def load_resized(item: str | bytes, size: int) -> np.ndarray:
    """(size, size, 3) uint8, resized with bicubic interpolation as the reference."""
    return np.asarray(resized(decode(item), (size, size)), dtype=np.uint8)


def image_size(item: str | bytes) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    with open_image(item) as image:
        return image.size


def check_image(item: str | bytes, max_pixels: int) -> str | None:
    """Why an image cannot be used (None if it can): the size comes from the header, so a decompression
    bomb is refused without being decoded; the rest is decoded in full, which finds truncated files."""
    try:
        with open_image(item) as image:
            width, height = image.size
            if width * height > max_pixels:
                return f"too large: {width}x{height} pixels, over --max_image_pixels {max_pixels}"
            image.load()
        return None
    except Image.DecompressionBombError as e:
        return f"too large: {e}"
    except Exception as e:  # Pillow raises many types for bad files
        return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def is_image_file(name: str) -> bool:
    """A visible file with an image extension (not .DS_Store, not macOS's ._ resource forks)."""
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def list_images(folder: Path) -> tuple[list[str], int]:
    """Image files under folder (recursively, sorted, hidden files and folders skipped) and the count of
    other files."""
    images, ignored = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for f in sorted(files):
            if is_image_file(f):
                images.append(os.path.join(root, f))
            else:
                ignored += 1
    return images, ignored
