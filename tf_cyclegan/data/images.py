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


class ImageTooLarge(ValueError):
    """An image whose header claims more pixels than Pillow decodes (twice PIL.Image.MAX_IMAGE_PIXELS)."""


def open_image(item: str | os.PathLike | bytes) -> Image.Image:
    """Pillow's lazy image of a file or of encoded bytes (only the header is read); ImageTooLarge, one line with
    the size, where Pillow's decompression-bomb check refuses it."""
    try:
        return Image.open(io.BytesIO(item) if isinstance(item, bytes) else item)
    except Image.DecompressionBombError:
        limit = 2 * Image.MAX_IMAGE_PIXELS
        size = header_size(item)
        claims = f"{size[0]}x{size[1]} pixels" if size else f"over {limit:,} pixels"
        raise ImageTooLarge(f"too large: {claims}, over the {limit:,} pixels Pillow decodes "
                            "(PIL.Image.MAX_IMAGE_PIXELS x 2)") from None


def header_size(item: str | os.PathLike | bytes) -> tuple[int, int] | None:
    """(width, height) as Pillow's format plugins read it from the header, without the decompression-bomb
    check that Image.open makes (which stops at, and warns below, Pillow's own limit): so that an image over
    --max_image_pixels is refused with that flag's line whatever its size. None if no plugin reads it."""
    import struct

    Image.init()
    with io.BytesIO(item) if isinstance(item, bytes) else open(item, "rb") as fp:
        prefix = fp.read(16)
        for name in Image.ID:
            factory, accept = Image.OPEN[name]
            accepted = accept(prefix) if accept else True
            if not accepted or isinstance(accepted, str):  # a string is Pillow's note on a format it refuses
                continue
            fp.seek(0)
            try:
                image = factory(fp, "")
            except (SyntaxError, IndexError, TypeError, ValueError, OSError, struct.error):
                continue
            size = image.size  # the plugin read the header only: nothing is decoded
            image.close()
            return size
    return None


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
        size = header_size(item)  # before Image.open, whose own limit would speak first
        if size and size[0] * size[1] > max_pixels:
            return f"too large: {size[0]}x{size[1]} pixels, over --max_image_pixels {max_pixels}"
        with open_image(item) as image:
            width, height = image.size
            if width * height > max_pixels:
                return f"too large: {width}x{height} pixels, over --max_image_pixels {max_pixels}"
            image.load()
        return None
    except ImageTooLarge as e:  # within --max_image_pixels but over Pillow's limit
        return f"{e}, the most --max_image_pixels can admit"
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
