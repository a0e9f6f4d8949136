"""python -m tf_cyclegan.bench.large [--model PATH] [--size 6000x4000] [--psnr_size 1024]

Large images, measured: (1) tiled against untiled translation of an image small enough for both, PSNR per
statistics mode and thumbnail size; (2) one large photo translated in tiles, in a process of its own, with
its time per megapixel and peak RSS. Without --model, the paper's generator (resnet_9blocks, ngf 64) with
random weights (seed 0); the scene is the embedded dataset's, rendered and resized. docs/translate.md has
the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

PROG = "python -m tf_cyclegan.bench.large"


def translator(model: str | None, **tile_options):
    from tf_cyclegan.runtime.translator import Translator

    if model:
        return Translator.load(model, **tile_options)
    import keras

    from tf_cyclegan.models.networks import build_generator

    keras.utils.set_random_seed(0)
    return Translator.from_generator(build_generator("resnet_9blocks", ngf=64), **tile_options)


def scene(height: int, width: int):
    """The embedded dataset's scene 7 (summer), rendered at 1024 and resized: a photo-like test image."""
    import numpy as np
    from PIL import Image

    from tf_cyclegan.data.seasons import render_scene

    image = Image.fromarray(render_scene(7, "summer", 1024))
    return np.asarray(image.resize((width, height), Image.Resampling.BICUBIC))


def psnr(a, b) -> float:
    import numpy as np

    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def psnr_table(model: str | None, size: int, tile: int, overlap: int) -> list[tuple[str, float]]:
    """(mode, PSNR against untiled) on a size x size image."""
    from tf_cyclegan.runtime import tiling
    from tf_cyclegan.runtime.tiling import TileOptions

    image = scene(size, size)
    t = translator(model)
    whole = t.translate_array(image)
    tiled = t.tiled_model()
    rows = []
    modes = [(f"thumbnail {round(size * f)}x{round(size * f)}", "thumbnail", round(size * f) ** 2)
             for f in (1, 0.707, 0.5, 0.25)]
    modes += [("two-pass (from a half-size thumbnail)", "two-pass", (size // 2) ** 2), ("tile", "tile", size * size)]
    for name, mode, pixels in modes:
        options = TileOptions(tile, overlap, mode, always_tile=True, thumbnail_pixels=max(pixels, 64 * 64))
        rows.append((name, psnr(tiling.translate_tiled(tiled, image, options), whole)))
    return rows


def large_child(model: str | None, height: int, width: int, tile: int, overlap: int) -> dict:
    """One large translation; run in a process of its own so that its peak RSS is its own."""
    from tf_cyclegan.bench.workers import vm_hwm_mib

    image = scene(height, width)
    t = translator(model, tile=tile, overlap=overlap)
    t.translate_array(image[:256, :256])  # traces the whole-image function, as a user's first image does
    baseline = vm_hwm_mib()
    started = time.perf_counter()
    out = t.translate_array(image)
    seconds = time.perf_counter() - started
    assert out.shape == image.shape
    return {"seconds": round(seconds, 1), "s_per_mp": round(seconds / (height * width / 1e6), 2),
            "tiles": t.describe_tiling(height, width), "peak_rss_mib": vm_hwm_mib(), "rss_before_mib": baseline}



def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Measure tiled translation of large images.")
    parser.add_argument("--model", default=None, help="any model translate accepts (default: the paper's "
                        "generator, random weights)")
    parser.add_argument("--size", default="6000x4000", help="the large image, WIDTHxHEIGHT (default %(default)s)")
    parser.add_argument("--psnr_size", type=int, default=1024, help="side of the tiled-vs-untiled image; 0 skips")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.child:
        print(json.dumps(large_child(args.model, height, width, args.tile, args.overlap)))
        return 0
    import os
    import platform

    import tensorflow as tf

    from tf_cyclegan.bench.workers import cpu_description

    cpu, simd = cpu_description()
    print(f"{cpu}, {os.cpu_count()} cores, {simd}; TensorFlow {tf.__version__}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    if args.psnr_size:
        print(f"| tiled {args.tile}/{args.overlap} vs untiled, {args.psnr_size}x{args.psnr_size} | PSNR (dB) |")
        print("|---|---|")
        for name, value in psnr_table(args.model, args.psnr_size, args.tile, args.overlap):
            print(f"| {name} | {value:.2f} |", flush=True)
    if width and height:
        child = [sys.executable, "-m", "tf_cyclegan.bench.large", "--child", "--size", args.size,
                 "--tile", str(args.tile), "--overlap", str(args.overlap)] + (["--model", args.model] if args.model
                                                                              else [])
        done = subprocess.run(child, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        print(f"{args.size}:", done.stdout.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
