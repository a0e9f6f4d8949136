"""datasets.pix2pix: the official datasets by name, downloaded once and extracted atomically, from a server
on 127.0.0.1 (no network)."""

import io
import socket
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.data import pix2pix_datasets as pix2pix


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(seed).integers(0, 256, (4, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def tarball(members: dict[str, bytes]) -> bytes:
    """A .tar.gz of the files {name in the archive: contents}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


FACADES = {f"facades/{split}/{i}.jpg": jpeg(i) for split in ("train", "val", "test") for i in (1, 2)}


@pytest.fixture
def server(monkeypatch, tmp_path):
    """Serves {path: bytes} on 127.0.0.1; TF_CYCLEGAN_PIX2PIX_URL points at it and the cache at tmp_path.
    Yields (files, the paths requested)."""
    files, requests = {}, []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            data = files.get(self.path)
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("TF_CYCLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(pix2pix.URL_VARIABLE, f"http://127.0.0.1:{httpd.server_address[1]}/{{name}}.tar.gz")
    yield files, requests
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def cache(tmp_path):
    return tmp_path / "cache" / "pix2pix"


def listing(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_downloads_once_and_extracts(server, tmp_path):
    files, requests = server
    files["/facades.tar.gz"] = tarball(FACADES)
    lines = []
    folder = pix2pix.dataset_folder("facades", log=lines.append)
    assert folder == cache(tmp_path) / "facades"
    assert listing(folder) == sorted([".complete"] + [name.removeprefix("facades/") for name in FACADES])
    assert (folder / "train" / "1.jpg").read_bytes() == FACADES["facades/train/1.jpg"]
    assert (cache(tmp_path) / "facades.tar.gz").read_bytes() == files["/facades.tar.gz"]
    assert requests == ["/facades.tar.gz"]
    assert any("Downloading" in line for line in lines)
    assert pix2pix.dataset_folder("facades", log=lines.append) == folder
    assert requests == ["/facades.tar.gz"]  # the second call neither downloads nor extracts again
    assert sorted(p.name for p in cache(tmp_path).iterdir()) == ["facades", "facades.tar.gz"]  # no temp left


def test_hand_placed_tarball_is_used_without_downloading(server, tmp_path):
    _, requests = server
    cache(tmp_path).mkdir(parents=True)
    (cache(tmp_path) / "maps.tar.gz").write_bytes(tarball({"train/1.jpg": jpeg(1), "val/1.jpg": jpeg(2)}))
    folder = pix2pix.dataset_folder("maps", log=lambda line: None)
    assert listing(folder) == [".complete", "train/1.jpg", "val/1.jpg"]  # no top folder: the splits directly
    assert requests == []


def test_interrupted_extraction_is_not_used(server, tmp_path):
    files, requests = server
    files["/facades.tar.gz"] = tarball(FACADES)
    half = cache(tmp_path) / "facades"
    (half / "train").mkdir(parents=True)  # a folder without the marker: as an interrupted run leaves none
    (half / "train" / "stale.jpg").write_bytes(b"x")
    folder = pix2pix.dataset_folder("facades", log=lambda line: None)
    assert "train/stale.jpg" not in listing(folder) and "train/1.jpg" in listing(folder)
    assert requests == ["/facades.tar.gz"]


def test_offline_message_is_one_line_with_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("TF_CYCLEGAN_CACHE", str(tmp_path / "cache"))
    port = closed_port()
    source = f"http://127.0.0.1:{port}/facades.tar.gz"
    monkeypatch.setenv(pix2pix.URL_VARIABLE, f"http://127.0.0.1:{port}/{{name}}.tar.gz")
    with pytest.raises(DatasetError) as error:
        pix2pix.dataset_folder("facades", log=lambda line: None)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"--dataset pix2pix/facades: could not download it (127.0.0.1:{port} is unreachable")
    assert message.endswith(f"). Offline? Put facades.tar.gz (from {source}) into {cache(tmp_path)}/ and run again, "
                            f"or extract it and pass --dataset /path/to/facades (a folder with train/ val/ [test/] "
                            f"of A|B images side by side)")
    assert not (cache(tmp_path) / "facades").exists()


def test_http_error_names_the_url(server, tmp_path):
    with pytest.raises(DatasetError, match=r"could not download it \(HTTP Error 404.*Offline\? Put night2day"):
        pix2pix.dataset_folder("night2day", log=lambda line: None)
    assert list(cache(tmp_path).iterdir()) == []  # no partial download left


def test_corrupt_tarball_says_delete_it(server, tmp_path):
    _, requests = server
    cache(tmp_path).mkdir(parents=True)
    broken = cache(tmp_path) / "facades.tar.gz"
    broken.write_bytes(tarball(FACADES)[:200])  # truncated
    with pytest.raises(DatasetError) as error:
        pix2pix.dataset_folder("facades", log=lambda line: None)
    assert str(error.value).startswith(f"--dataset pix2pix/facades: {broken} is not a readable .tar.gz (")
    assert str(error.value).endswith("delete it and run again") and "\n" not in str(error.value)
    broken.write_bytes(b"not a tarball at all")
    with pytest.raises(DatasetError, match="is not a readable .tar.gz"):
        pix2pix.dataset_folder("facades", log=lambda line: None)
    assert sorted(p.name for p in cache(tmp_path).iterdir()) == ["facades.tar.gz"] and requests == []


def test_member_outside_the_folder_is_refused(server, tmp_path):
    cache(tmp_path).mkdir(parents=True)
    (cache(tmp_path) / "facades.tar.gz").write_bytes(tarball({"facades/train/1.jpg": jpeg(1), "../evil": b"x",
                                                              "../../evil2": b"x"}))
    with pytest.raises(DatasetError, match="would land outside its folder"):
        pix2pix.dataset_folder("facades", log=lambda line: None)
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
    assert sorted(p.name for p in cache(tmp_path).iterdir()) == ["facades.tar.gz"]


def test_tarball_without_splits_is_refused(server, tmp_path):
    files, _ = server
    files["/edges2shoes.tar.gz"] = tarball({"edges2shoes/readme.txt": b"hi"})
    with pytest.raises(DatasetError, match="holds no train/, val/ or test/ folder; delete it"):
        pix2pix.dataset_folder("edges2shoes", log=lambda line: None)
    assert not (cache(tmp_path) / "edges2shoes").exists()


def test_unknown_name_lists_the_names():
    with pytest.raises(DatasetError) as error:
        pix2pix.dataset_folder("horse2zebra")
    assert str(error.value) == ("--dataset pix2pix/horse2zebra: unknown pix2pix dataset; choose one of "
                                + ", ".join(f"pix2pix/{name}" for name in pix2pix.NAMES))


def test_default_url_is_the_reference_one(monkeypatch):
    monkeypatch.delenv(pix2pix.URL_VARIABLE, raising=False)
    assert pix2pix.url("facades") == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"


def test_module_imports_without_tensorflow():
    code = "import sys, tf_cyclegan.data.pix2pix_datasets; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_cityscapes_says_where_to_get_it(monkeypatch, tmp_path):
    """The authors' host does not serve Cityscapes (its licence): no download is tried."""
    monkeypatch.setenv("TF_CYCLEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(pix2pix.URL_VARIABLE, raising=False)
    with pytest.raises(DatasetError) as error:
        pix2pix.dataset_folder("cityscapes")
    message = str(error.value)
    assert "\n" not in message and "cityscapes-dataset.com" in message
    assert str(tmp_path / "cache" / "pix2pix" / "cityscapes.tar.gz") in message


def test_training_reads_a_downloaded_dataset(server, tmp_path):
    """--dataset pix2pix/NAME is an aligned dataset: train/ pairs, test/ (else val/) for evaluation."""
    from tf_cyclegan.data.sources import load_pairs

    files, _ = server
    files["/facades.tar.gz"] = tarball(FACADES)
    pairs = load_pairs("pix2pix/facades")
    assert pairs.description == "pix2pix dataset facades" and len(pairs.train) == 2 and pairs.test is not None
