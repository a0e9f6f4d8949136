"""The official pix2pix datasets by name (the reference's datasets/download_pix2pix_dataset.sh): each is a
.tar.gz of train/ val/ [test/] folders of A|B images side by side.

A tarball is downloaded once into the cache (cache_dir()/pix2pix/NAME.tar.gz; one put there by hand is used
as it is) and extracted once into cache_dir()/pix2pix/NAME/. Both steps are atomic: the download goes to a
temporary file that is renamed when complete, and the extraction to a temporary folder that is renamed
into place with a marker file written last, so an interrupted run is never mistaken for a finished one.
Members that would land outside the folder (absolute paths, `..`, links out) are refused (tarfile's "data"
filter). No TensorFlow here.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from http.client import HTTPException
from pathlib import Path

from tqdm.auto import tqdm

from tf_cyclegan.core.errors import DatasetError, first_line
from tf_cyclegan.core.files import atomic_write, cache_dir, install_folder, make_temp_dir
from tf_cyclegan.data.downloads import unreachable

NAMES = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
URL_VARIABLE = "TF_CYCLEGAN_PIX2PIX_URL"  # a format string with {name}: a mirror, or a test's server
MARKER = ".complete"
SPLITS = ("train", "val", "test")
# Datasets that the authors' host does not serve (the reference's download script says why).
LICENSED = {"cityscapes": "its licence does not let the pix2pix authors share it: download it from "
                          "https://www.cityscapes-dataset.com (gtFine and leftImg8bit) and pair photos with label "
                          "maps (the reference's datasets/prepare_cityscapes_dataset.py does it)"}


def url(name: str) -> str:
    """Where the tarball of name is downloaded from: URL, or $TF_CYCLEGAN_PIX2PIX_URL."""
    return (os.environ.get(URL_VARIABLE) or URL).format(name=name)


def dataset_folder(name: str, log=print) -> Path:
    """The folder holding name's train/ val/ [test/], downloaded and extracted on first use."""
    if name not in NAMES:
        raise DatasetError(f"--dataset pix2pix/{name}: unknown pix2pix dataset; choose one of "
                           + ", ".join(f"pix2pix/{n}" for n in NAMES))
    root = cache_dir() / "pix2pix"
    folder = root / name
    if (folder / MARKER).is_file():
        return folder
    tarball = root / f"{name}.tar.gz"
    if not tarball.is_file() and name in LICENSED and URL_VARIABLE not in os.environ:
        raise DatasetError(f"--dataset pix2pix/{name}: {LICENSED[name]}; build the aligned layout (python -m "
                           f"tf_cyclegan.datasets.combine) and pass its folder, or put it as {tarball}")
    if not tarball.is_file():
        download(name, tarball, log)
    extract(name, tarball, folder, log)
    return folder


# -- download --------------------------------------------------------------------------------------
def _download_help(name: str, source: str, tarball: Path, reason: str) -> str:
    return (f"--dataset pix2pix/{name}: could not download it ({reason}). Offline? Put {tarball.name} (from "
            f"{source}) into {tarball.parent}{os.sep} and run again, or extract it and pass --dataset "
            f"/path/to/{name} (a folder with train/ val/ [test/] of A|B images side by side)")


def download(name: str, tarball: Path, log=print) -> Path:
    """Stream the tarball of name to a temporary file beside tarball, then rename it into place."""
    source = url(name)
    reason = unreachable(source)
    if reason:
        raise DatasetError(_download_help(name, source, tarball, reason))
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.parent / f".{tarball.name}.{uuid.uuid4().hex[:12]}.part"
    log(f"Downloading {source} to {tarball}")
    try:
        received, expected = _stream(source, partial, name)
        if expected is not None and received != expected:
            raise DatasetError(_download_help(name, source, tarball, f"got {received} of {expected} bytes"))
        os.replace(partial, tarball)
    except (OSError, HTTPException, ValueError) as e:  # URLError and HTTPError are OSErrors
        raise DatasetError(_download_help(name, source, tarball, first_line(e, limit=200))) from None
    finally:
        if partial.exists():
            partial.unlink()
    return tarball


def _stream(source: str, partial: Path, name: str) -> tuple[int, int | None]:
    """(bytes written to partial, the bytes the server announced), with a progress bar in bytes."""
    with urllib.request.urlopen(source, timeout=60) as response, open(partial, "wb") as f:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=f"{name}.tar.gz") as bar:
            while chunk := response.read(1 << 20):
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        f.flush()
        os.fsync(f.fileno())
    return received, expected


# -- extraction ------------------------------------------------------------------------------------
def _content(tmp: Path, name: str, tarball: Path) -> Path:
    """The folder of the splits in an extracted tarball: tmp, or its one top folder (NAME/ in the official
    tarballs)."""
    top = [p for p in tmp.iterdir() if not p.name.startswith(".")]
    content = top[0] if len(top) == 1 and top[0].is_dir() and top[0].name not in SPLITS else tmp
    if not any((content / split).is_dir() for split in SPLITS):
        raise DatasetError(f"--dataset pix2pix/{name}: {tarball} holds no train/, val/ or test/ folder; delete "
                           f"it and run again")
    return content


def extract(name: str, tarball: Path, folder: Path, log=print) -> Path:
    """Unpack tarball into a temporary folder, mark it complete, then rename it to folder."""
    log(f"Extracting {tarball} to {folder}")
    tmp = make_temp_dir(folder.parent, f".{folder.name}.partial-")
    try:
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                archive.extractall(tmp, filter="data")
        except tarfile.FilterError as e:
            raise DatasetError(f"--dataset pix2pix/{name}: {tarball} has a member that would land outside its "
                               f"folder ({first_line(e)}); refused. Delete it and run again") from None
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise DatasetError(f"--dataset pix2pix/{name}: {tarball} is not a readable .tar.gz "
                               f"({first_line(e, limit=200)}); delete it and run again") from None
        except OSError as e:
            raise DatasetError(f"--dataset pix2pix/{name}: could not extract {tarball} into {folder.parent} "
                               f"({e.strerror or e})") from None
        content = _content(tmp, name, tarball)
        atomic_write(content / MARKER, f"{name}\n")
        install_folder(content, folder, lambda there: (there / MARKER).is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
