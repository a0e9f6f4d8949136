"""Paired images side by side, the layout pix2pix reads: the reference's datasets/combine_A_and_B.py.

For every split subfolder of fold_A (train, val, test, ...; or fold_A itself when it holds the images), each
image is paired with the file of the same name in fold_B (with --use_AB: `x_A.jpg` with `x_B.jpg`, written
as `x.jpg`), and fold_AB gets A on the left and B on the right, in the format of A's extension. Halves of
different sizes are skipped, not resized (a resized half would no longer line up with its partner); every
skipped file is listed on stderr and in fold_AB/combine_report.tsv. Each output is written atomically, so a
crash never leaves a half-written image. No TensorFlow here: the command (python -m
tf_cyclegan.datasets.combine) starts at once.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from tf_cyclegan.core.errors import DatasetError, first_line
from tf_cyclegan.core.files import atomic_write, atomic_write_tsv
from tf_cyclegan.core.pictures import encode_like
from tf_cyclegan.data.images import decode, is_image_file

NUM_IMGS = 1_000_000  # the reference's default: no cap in practice
REPORT = "combine_report.tsv"
FLAT = "."  # the "split" of a fold_A that holds its images directly


# -- what to pair ----------------------------------------------------------------------------------
def _files(folder: Path) -> tuple[list[str], list[str]]:
    """(image names, other names) of the visible files in folder, sorted."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    images = [n for n in names if is_image_file(n)]
    return images, [n for n in names if n not in set(images)]


def splits(fold_A: Path) -> list[str]:
    """fold_A's split subfolders, or [FLAT] when it holds images directly (and no subfolders)."""
    subfolders = sorted(p.name for p in fold_A.iterdir() if p.is_dir() and not p.name.startswith("."))
    if subfolders:
        return subfolders
    if _files(fold_A)[0]:
        return [FLAT]
    raise DatasetError(f"--fold_A {fold_A}: no images and no split subfolders there; pass the folder of A "
                       f"images (with train/ val/ ... subfolders, or the images themselves)")


def _partner(name: str, use_AB: bool) -> tuple[str, str] | None:
    """(B's name, the output's name) for A file `name`; None for a file that is no A half under --use_AB."""
    if not use_AB:
        return name, name
    stem, ext = os.path.splitext(name)
    return (stem[:-2] + "_B" + ext, stem[:-2] + ext) if stem.endswith("_A") else None


def _orphans_B(images_B, images_A: set[str], dir_A: Path, dir_B: Path, use_AB: bool):
    """[(file, reason)] for the B images whose A half is not in dir_A (the reference drops them silently)."""
    orphans = []
    for name_B in sorted(images_B):
        stem, ext = os.path.splitext(name_B)
        if use_AB and not stem.endswith("_B"):
            continue
        name_A = stem[:-2] + "_A" + ext if use_AB else name_B
        if name_A not in images_A:
            orphans.append((dir_B / name_B, f"no partner: {dir_A / name_A} is missing"))
    return orphans


def split_jobs(dir_A: Path, dir_B: Path, dir_AB: Path, use_AB: bool, num_imgs: int):
    """([(path_A, path_B, path_AB)] for the first num_imgs A images that have a partner, [(file, reason)]
    for the files that are skipped, the number of A images there are)."""
    images_A, others_A = _files(dir_A)
    candidates = [(n, _partner(n, use_AB)) for n in images_A if _partner(n, use_AB)]
    if not dir_B.is_dir():
        return [], [(dir_A, f"no partner: {dir_B} is not a folder")], len(candidates)
    images_B = set(_files(dir_B)[0])
    skipped = [(dir_A / n, f"not an image: {Path(n).suffix or 'no extension'}") for n in others_A]
    jobs = []
    for name_A, (name_B, name_AB) in candidates[:num_imgs]:
        if name_B in images_B:
            jobs.append((dir_A / name_A, dir_B / name_B, dir_AB / name_AB))
        else:
            skipped.append((dir_A / name_A, f"no partner: {dir_B / name_B} is missing"))
    skipped += _orphans_B(images_B, set(images_A), dir_A, dir_B, use_AB)
    return jobs, skipped, len(candidates)


# -- one pair --------------------------------------------------------------------------------------
def combine_pair(path_A: Path, path_B: Path, path_AB: Path) -> str | None:
    """Write A | B to path_AB; the reason when the pair is skipped instead (unreadable, sizes differ)."""
    try:
        image_A, image_B = decode(path_A), decode(path_B)
    except Exception as e:  # noqa: BLE001 (Pillow raises many types for unreadable files)
        return f"unreadable: {first_line(e, limit=200)}"
    if image_A.size != image_B.size:
        (wa, ha), (wb, hb) = image_A.size, image_B.size
        return f"sizes differ: A {wa}x{ha}, B {wb}x{hb}; not resized"
    pair = Image.new("RGB", (2 * image_A.width, image_A.height))
    pair.paste(image_A, (0, 0))
    pair.paste(image_B, (image_A.width, 0))
    try:
        data = encode_like(pair, path_AB.name)
    except Exception as e:  # noqa: BLE001 (a format this Pillow build cannot write)
        return f"cannot encode: {first_line(e, limit=200)}"
    try:
        atomic_write(path_AB, data)
    except OSError as e:
        raise DatasetError(f"--fold_AB: could not write {path_AB} ({e.strerror or e})") from None
    return None


# -- every pair ------------------------------------------------------------------------------------
def _check_folders(fold_A: Path, fold_B: Path, fold_AB: Path):
    for flag, folder in (("--fold_A", fold_A), ("--fold_B", fold_B)):
        if not folder.is_dir():
            raise DatasetError(f"{flag} {folder}: no such folder; pass the folder of {flag[-1]} images")
        if fold_AB.resolve() == folder.resolve():
            raise DatasetError(f"--fold_AB {fold_AB} is the {flag} folder: choose another, so the originals "
                               f"are kept")


def _run_jobs(jobs: list, workers: int | None) -> list[str | None]:
    """combine_pair for every (path_A, path_B, path_AB), in a pool of threads (Pillow releases the GIL
    while it decodes and encodes); the reasons, in the order of jobs. A write error stops them all."""
    reasons = [None] * len(jobs)
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    try:
        futures = {pool.submit(combine_pair, *job): i for i, job in enumerate(jobs)}
        for future in tqdm(as_completed(futures), total=len(jobs), unit="pair", disable=len(jobs) < 2):
            reasons[futures[future]] = future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return reasons


def _summary(fold_AB: Path, written: dict[str, int], skipped: list, report: Path) -> str:
    counts = ", ".join(f"{split} {n}" for split, n in written.items() if split != FLAT)
    line = f"Wrote {sum(written.values())} pairs to {fold_AB}" + (f" ({counts})" if counts else "")
    if skipped:
        kinds = Counter(reason.partition(":")[0] for _, reason in skipped)
        line += f"; skipped {len(skipped)}: " + ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        line += f" (see {report})"
    return line


def _write_report(report: Path, skipped: list):
    """A csv row (file, reason) per skipped file, tab-separated (written every run, so an old report never
    outlives its run)."""
    try:
        atomic_write_tsv(report, ("file", "reason"), [(str(file), reason) for file, reason in skipped])
    except OSError as e:
        raise DatasetError(f"--fold_AB: could not write {report} ({e.strerror or e})") from None


def combine(fold_A, fold_B, fold_AB, num_imgs: int = NUM_IMGS, use_AB: bool = False,
            workers: int | None = None, log=print) -> tuple[dict[str, int], list[tuple[Path, str]]]:
    """Write every A | B pair of every split into fold_AB; returns ({split: pairs written}, [(file, reason
    skipped)]) and writes the skipped files to fold_AB/combine_report.tsv. Flat folders (images directly
    in fold_A and fold_B) have the one split "."."""
    fold_A, fold_B, fold_AB = Path(fold_A), Path(fold_B), Path(fold_AB)
    _check_folders(fold_A, fold_B, fold_AB)
    jobs, split_of, skipped = [], [], []
    written = dict.fromkeys(splits(fold_A), 0)
    for split in written:
        found, lost, total = split_jobs(fold_A / split, fold_B / split, fold_AB / split, use_AB, num_imgs)
        used = f"{num_imgs} of {total}" if total > num_imgs else f"{total}"
        log(f"{'images' if split == FLAT else 'split ' + split}: {used} A images")
        jobs += found
        split_of += [split] * len(found)
        skipped += lost
    for job, split, reason in zip(jobs, split_of, _run_jobs(jobs, workers)):
        if reason is None:
            written[split] += 1
        else:
            skipped.append((job[0], reason))
    skipped.sort(key=lambda item: str(item[0]))
    for file, reason in skipped:
        log(f"skipped {file} ({reason})")
    report = fold_AB / REPORT
    _write_report(report, skipped)
    log(_summary(fold_AB, written, skipped, report))
    return written, skipped
