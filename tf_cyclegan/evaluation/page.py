"""The results page of an evaluation, like the reference's: index.html with the measures per direction and
input | translation | reconstruction | truth rows, the images beside it, and results.png (its first rows in
one picture). Every file is written atomically, the page last."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from tf_cyclegan.core.directions import DIRECTIONS, source_target
from tf_cyclegan.core.files import atomic_write
from tf_cyclegan.core.pictures import grid, save_png

_ROWS = {"cycle_l1": "cycle L1 (|F(G(x)) − x|, [−1, 1] units)", "cycle_psnr": "cycle PSNR (dB)",
         "cycle_ssim": "cycle SSIM", "truth_psnr": "PSNR of the translation against the truth (dB)",
         "identity_psnr": "PSNR of the input against the truth (dB): the identity baseline",
         "psnr_gain": "gain over the identity baseline (dB)", "truth_ssim": "SSIM of the translation against the truth",
         "identity_ssim": "SSIM of the input against the truth", "fid": "FID against real target images",
         "fid_identity": "FID of the inputs themselves (baseline)", "kid": "KID against real target images",
         "kid_std": "KID standard deviation over subsets", "kid_identity": "KID of the inputs themselves"}


def write_page(output: Path, report: dict, images: dict) -> Path:
    """images/<direction>/<i>_<kind>.png, results.png and index.html, each written atomically (the page last)."""
    e = html.escape
    names = report["domains"]
    present = [d for d in DIRECTIONS if d in images]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tf_cyclegan: {e(report['model'])}</title>",
             "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
             "img{image-rendering:pixelated;display:block}.im td{border:none;padding:2px;text-align:center;"
             "font-size:small}</style></head><body>",
             f"<h1>{e(report['model'])}</h1><p>{e(report['dataset'])}: {report['size']}×{report['size']} test "
             f"images; evaluated {e(report['created'])}.</p>",
             "<table><tr><th>measure</th>" + "".join(f"<th>{e(' → '.join(source_target(names, d)))}</th>"
                                                     for d in present) + "</tr>"]
    for key, label in _ROWS.items():
        if key in report[present[0]]:
            parts.append(f"<tr><td style='text-align:left'>{e(label)}</td>"
                         + "".join(f"<td>{report[d][key]:.4g}</td>" for d in present) + "</tr>")
    parts.append("</table>")
    if report.get("fid_note"):
        parts.append(f"<p>{e(report['fid_note'])}</p>")
    scale = max(1, 128 // report["size"])  # small images are shown enlarged
    for direction in present:
        src, dst = source_target(names, direction)
        shown = images[direction]
        kinds = [k for k in ("real", "fake", "cycled", "truth") if k in shown]
        headers = {"real": f"input ({src})", "fake": f"translation ({dst})", "cycled": f"reconstruction ({src})",
                   "truth": f"truth ({dst})"}
        parts.append(f"<h2>{e(src)} → {e(dst)}</h2><table class='im'><tr>"
                     + "".join(f"<th>{e(headers[k])}</th>" for k in kinds) + "</tr>")
        for i in range(len(shown["real"])):
            cells = []
            for kind in kinds:
                relative = f"images/{direction}/{i:03d}_{kind}.png"
                save_png(output / relative, shown[kind][i])
                note = (f"{shown['cycle_psnr'][i]:.1f} dB" if kind == "cycled" else
                        f"{shown['truth_psnr'][i]:.1f} dB vs truth" if kind == "fake" and "truth" in shown else "")
                cells.append(f"<td><img src='{relative}' width='{report['size'] * scale}'>{e(note)}</td>")
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    save_png(output / "results.png", results_picture(images))
    return atomic_write(output / "index.html", "\n".join(parts))


def results_picture(images: dict, rows: int = 4) -> np.ndarray:
    """The first images of every direction in one picture: input | translation [| reconstruction] [| truth]
    of A -> B, then the same of B -> A (a model with one direction: its own), a row per test image."""
    present = [d for d in DIRECTIONS if d in images]
    kinds = [k for k in ("real", "fake", "cycled", "truth") if k in images[present[0]]]
    n = min([rows] + [len(images[d]["real"]) for d in present])
    return grid([[[images[d][k][i] for k in kinds] for d in present] for i in range(n)])
