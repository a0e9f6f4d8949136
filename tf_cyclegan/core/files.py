"""Atomic writes: a reader (or a crash) never sees a half-written file.

Temporary files and folders are created with the permissions of any new file (0666 / 0777 less the umask),
not tempfile's private 0600 / 0700, so that what is renamed into place (samples, configs, results pages, TF
Serving versions) is readable by the colleagues and servers that an ordinary file would be.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable


def atomic_write(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_tsv(path: str | os.PathLike, header: tuple[str, ...], rows) -> Path:
    """Rows as tab-separated values under a header row, quoted where a field holds a tab, a line break or a
    quote (file names may), so that csv.reader(open(path, newline=""), delimiter="\t") reads back exactly
    these rows whatever the names. Names that are not valid UTF-8 are written backslash-escaped."""
    text = io.StringIO()
    csv.writer(text, dialect="excel-tab").writerows([header, *rows])
    return atomic_write(path, text.getvalue().encode("utf-8", "backslashreplace"))


def make_temp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new, uniquely named folder in parent, to be filled and then renamed into place."""
    folder = Path(parent) / f"{prefix}{uuid.uuid4().hex[:12]}"
    folder.mkdir(mode=0o777)
    return folder


def cache_dir() -> Path:
    """Where downloads and rendered datasets are kept between runs: $TF_CYCLEGAN_CACHE, else
    ~/.cache/tf_cyclegan (a test session or a shared machine points the variable elsewhere)."""
    return Path(os.environ.get("TF_CYCLEGAN_CACHE") or Path.home() / ".cache" / "tf_cyclegan")


def install_folder(tmp: Path, folder: Path, complete: Callable[[Path], bool]) -> Path:
    """Rename a finished temporary folder to `folder`. A folder already there that is not `complete` (an
    interrupted or stale one) is moved aside first and removed; when another process has just installed a
    complete one, theirs is kept."""
    old = None
    if folder.exists() and not complete(folder):
        old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not complete(folder):
            raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder
