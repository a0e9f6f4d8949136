"""What unpaired and paired datasets share: the items of a split, checked in parallel threads, and the
check of a whole dataset before any model is built (the skipped files listed in the run's report)."""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.core.files import atomic_write_tsv


@dataclasses.dataclass
class Split:
    """The items of one split: each a file path (read lazily) or encoded bytes (held in memory); a paired
    split's items may be tuples of those (ImageList and PairList say what an item is)."""

    name: str
    items: list

    def __len__(self):
        return len(self.items)

    def capped(self, n: int | None):
        return self if n is None else dataclasses.replace(self, items=self.items[:n])

    def label(self, index: int) -> str:
        """How a report names an item: its path, or split[index] for bytes."""
        item = self.items[index]
        parts = item if isinstance(item, tuple) else (item,)
        return " + ".join(part if isinstance(part, str) else f"{self.name}[{index}]" for part in parts)

    def map(self, fn: Callable) -> list:
        """fn over every item in parallel threads (Pillow releases the GIL while it reads and decodes)."""
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            return list(pool.map(fn, self.items))

    def problem(self, item, max_pixels: int) -> str | None:
        """Why an item cannot be used, None when it can."""
        raise NotImplementedError

    def checked(self, max_pixels: int):
        """(the usable items, [(label, reason)] for the others), decoding in parallel threads."""
        reasons = self.map(lambda item: self.problem(item, max_pixels))
        good = [item for item, reason in zip(self.items, reasons) if reason is None]
        bad = [(self.label(i), reason) for i, reason in enumerate(reasons) if reason is not None]
        return dataclasses.replace(self, items=good), bad


@dataclasses.dataclass(frozen=True)
class Nouns:
    """How messages speak of a dataset's items: images that are (un)readable, or pairs that are (un)usable."""

    item: str
    good: str
    bad: str


def check_splits(description: str, splits: dict[str, Split | None], training: tuple[str, ...], nouns: Nouns,
                 max_pixels: int, max_bad_fraction: float, report: Path,
                 extra_rows: list = ()) -> tuple[dict[str, Split | None], int]:
    """({key: the split without its unusable items, or None when none is left}, the number skipped).
    Every skipped file goes into `report` (with `extra_rows`, skips found earlier:
    (split, file, reason) rows); a training split with no usable item, or with more than
    max_bad_fraction of them unusable, stops here."""
    checked, rows, problems = {}, list(extra_rows), []
    for key, split in splits.items():
        if split is None:
            checked[key] = None
            continue
        good, bad = split.checked(max_pixels)
        checked[key] = good if len(good) else None
        rows += [(split.name, item, reason) for item, reason in bad]
        if key in training and bad:
            if not len(good):
                problems.append(f"{split.name} has no {nouns.good} {nouns.item} ({len(bad)} {nouns.bad})")
            elif len(bad) / len(split) > max_bad_fraction:
                problems.append(f"{len(bad)} of {len(split)} {nouns.item}s in {split.name} are {nouns.bad} "
                                f"({len(bad) / len(split):.0%}, over --max_bad_fraction {max_bad_fraction})")
    write_report(report, rows)
    if problems:
        raise DatasetError(f"{description}: " + "; ".join(problems) + f"; see {report}")
    return checked, len(rows)


REPORT_COLUMNS = ("split", "file", "reason")


def write_report(report: Path, rows: list[tuple[str, str, str]]):
    """The skipped files, one csv row each (tab-separated, with a header): no file name can break a row."""
    atomic_write_tsv(report, REPORT_COLUMNS, rows)
