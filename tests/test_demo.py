"""The demo page: served on 127.0.0.1 and called as a browser or a Gradio client would."""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import gradio_client  # the test extra has it (and gradio, selenium); users get them with the demo extra
import httpx
import numpy as np
import pytest
from PIL import Image

from tf_cyclegan import demo
from tf_cyclegan.core.errors import TranslateError
from tf_cyclegan.data.seasons import render_scene
from tf_cyclegan.exporting.generator import export_generator
from tf_cyclegan.models.networks.generators import build_generator
from tf_cyclegan.runtime.folders import translate_files


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def exported(cyclegan):
    """The shared two-direction export of a tiny CycleGAN trained on summer and winter (conftest.cyclegan)."""
    return cyclegan["root"]


UPLOAD_MB = 1  # the served page's --max_upload_mb


@pytest.fixture(scope="module")
def served(exported):
    """The page on a free port, in a private_cache folder as the command serves it ("work")."""
    translators, about = demo.open_directions(str(exported))
    with demo.private_cache() as work:
        app = demo.build_app(translators, about, max_pixels=1_000_000, work=work, max_upload_mb=UPLOAD_MB)
        port = free_port()
        demo.launch(app, "127.0.0.1", port, block=False, max_upload_mb=UPLOAD_MB)
        yield {"url": f"http://127.0.0.1:{port}/", "client": gradio_client.Client(f"http://127.0.0.1:{port}/",
                                                                                  verbose=False), "about": about,
               "work": work}
        app.close()


def call(served, path, direction="a2b"):
    return served["client"].predict(gradio_client.handle_file(str(path)), direction, api_name="/translate")


@pytest.mark.parametrize("direction", ["a2b", "b2a"])
def test_the_page_translates_like_translate(served, exported, tmp_path, direction):
    image = render_scene(4, "summer", 200)[:, :150]
    Image.fromarray(image).save(tmp_path / "scene.png")
    shown, translated, download, status = call(served, tmp_path / "scene.png", direction)
    translate_files(str(exported), str(tmp_path / "scene.png"), str(tmp_path / "cli"), direction,
                    log=lambda s: None, progress=False)
    expected = np.asarray(Image.open(tmp_path / "cli" / "scene.png"))
    page = np.asarray(Image.open(translated).convert("RGB"))
    assert page.shape == expected.shape and np.abs(page.astype(int) - expected).max() <= 1
    assert download.endswith(f"scene_{direction}.png") and Image.open(download).format == "PNG"
    np.testing.assert_array_equal(np.asarray(Image.open(download)), page)
    np.testing.assert_array_equal(np.asarray(Image.open(shown).convert("RGB")), image)
    assert status.startswith(f"150x200, {direction}, translated whole")


def make_png_header(width, height) -> bytes:
    """A PNG whose header claims width x height, with one empty data chunk: a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("name, data, message", [
    ("noise.png", bytes(range(256)) * 8, "noise.png: cannot read it as an image"),
    ("empty.png", b"", r"empty.png is empty \(0 bytes\)"),
    # over Pillow's own bomb limit: the same --max_pixels line as any image over the demo's limit
    ("huge.png", make_png_header(30000, 30000), r"huge.png is 30000x30000 \(900,000,000 pixels\): the demo takes up "
                                                r"to 1,000,000 pixels \(--max_pixels\)"),
    ("big.png", make_png_header(2000, 1000), r"big.png is 2000x1000 \(2,000,000 pixels\): the demo takes up to "
                                             "1,000,000 pixels")])
def test_bad_uploads_get_a_clear_message_and_the_server_keeps_serving(served, tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(gradio_client.exceptions.AppError, match=message):
        call(served, tmp_path / name)
    Image.fromarray(render_scene(1, "winter", 32)).save(tmp_path / "fine.png")
    assert call(served, tmp_path / "fine.png")[3].startswith("32x32, a2b")


def test_the_page_shows_the_models_domains_checkpoint_settings_and_mode(served):
    card = demo.model_card(served["about"])
    assert "**a2b**: summer → winter" in card and "**b2a**: winter → summer" in card
    assert "ckpt-4" in card and "netG resnet_1blocks, ngf 8, norm instance, crop_size 32" in card
    assert "**inference mode**: train (no batch norm or dropout: both modes compute the same)" in card
    import urllib.request

    page = urllib.request.urlopen(served["url"], timeout=30).read().decode()
    assert "tf_cyclegan demo" in page


def files_under(folder: Path) -> dict:
    return {str(f.relative_to(folder)): f.stat().st_size for f in folder.rglob("*") if f.is_file()}


def upload(url: str, name: str, data: bytes) -> httpx.Response:
    """A raw multipart POST to Gradio's upload route, as the page and gradio_client send files."""
    return httpx.post(url + "gradio_api/upload", files={"files": (name, data, "image/png")}, timeout=60)


def test_an_upload_over_the_limit_is_refused_as_it_streams_and_leaves_nothing(served, tmp_path):
    work, limit = served["work"], UPLOAD_MB * 2**20
    before = files_under(work)
    refused = upload(served["url"], "big.png", os.urandom(limit + 512 * 1024))
    assert refused.status_code == 413
    assert refused.text == f"File size exceeded maximum allowed size of {limit} bytes."
    assert files_under(work) == before  # not its partial copy either
    (tmp_path / "big.png").write_bytes(os.urandom(limit + 1))
    with pytest.raises(ValueError, match=f"big.png exceeds the maximum file size of {limit} bytes"):
        call(served, tmp_path / "big.png")  # gradio_client reads the limit from the page and does not send it
    assert files_under(work) == before
    accepted = upload(served["url"], "small.png", b"\x89PNG" + os.urandom(limit - 1024))
    assert accepted.status_code == 200
    stored = Path(accepted.json()[0])
    assert stored.is_relative_to(work / "gradio") and stored.stat().st_size == limit - 1020
    page = httpx.get(served["url"] + "config", timeout=30).json()
    assert page["max_file_size"] == limit  # the page refuses such a file before sending it


def test_a_request_of_many_files_each_under_the_limit_is_refused_whole(served):
    """Gradio's limit is per file and a request may carry 1000 files: the demo's UploadGuard counts them all."""
    work, limit = served["work"], UPLOAD_MB * 2**20
    before = files_under(work)
    files = [("files", (f"part{i}.png", os.urandom(limit // 2), "image/png")) for i in range(3)]
    refused = httpx.post(served["url"] + "gradio_api/upload", files=files, timeout=60)
    assert refused.status_code == 413
    assert refused.text == f"File size exceeded maximum allowed size of {limit} bytes."  # as Gradio's for one file
    assert files_under(work) == before
    accepted = upload(served["url"], "exactly.png", os.urandom(limit))  # the multipart bytes around it pass
    assert accepted.status_code == 200 and Path(accepted.json()[0]).stat().st_size == limit


def test_a_client_that_goes_away_mid_upload_leaves_nothing(served):
    """Without UploadGuard Gradio kept the partial file until the demo stopped (and logged a traceback)."""
    work, port = served["work"], int(served["url"].rstrip("/").rsplit(":", 1)[1])
    before = files_under(work)
    head = (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                       b"boundary=XyZ\r\nContent-Length: 900000\r\n\r\n" + head + os.urandom(600_000))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and files_under(work) == before:
            time.sleep(0.1)
        assert len(files_under(work)) == len(before) + 1  # its partial file, while it streams
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and files_under(work) != before:
        time.sleep(0.2)
    assert files_under(work) == before


def test_the_model_card_names_the_checkpoint_not_the_servers_folders(served, exported):
    card = demo.model_card(served["about"])
    assert "- **checkpoint**: `ckpt-4`" in card and f"**Model:** export {exported.name} (SavedModel" in card
    assert str(exported.parent) not in card and served["about"]["checkpoint"] not in card
    assert str(exported) in served["about"]["description"]  # the operator's terminal still has the whole path
    config = httpx.get(served["url"] + "config", timeout=30).text
    assert "`ckpt-4`" in config and str(exported.parent) not in config
    tflite = exported / "b2a" / "1" / "b2a_float32.tflite"
    card = demo.model_card(demo.open_directions(str(tflite))[1])
    assert "**Model:** TFLite model b2a_float32.tflite" in card and str(tflite.parent) not in card


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_command_removes_its_upload_folder_when_it_stops(exported, tmp_path, stop):
    """The command as a user runs it, stopped with SIGTERM (a service manager) or Ctrl-C."""
    port, env = free_port(), {**os.environ, "TMPDIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "tf_cyclegan.demo", "--model", str(exported), "--port",
                               str(port), "--max_upload_mb", "0.5"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
        folders = list(tmp_path.glob("tf_cyclegan_demo_*"))
        assert len(folders) == 1, server.communicate(timeout=30)
        assert upload(url, "big.png", os.urandom(600 * 1024)).status_code == 413
        stored = Path(upload(url, "small.png", os.urandom(1000)).json()[0])
        assert stored.is_relative_to(folders[0]) and stored.exists()
        server.send_signal(stop)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0 and "Traceback" not in err, err
    assert f"Uploads and results are kept in {folders[0]} (removed when the demo stops)" in out
    assert not folders[0].exists() and list(tmp_path.iterdir()) == []


def test_one_direction_files_and_runs_open_with_their_domains(exported, tmp_path):
    translators, about = demo.open_directions(str(exported / "b2a" / "1" / "b2a_float32.tflite"))
    assert list(translators) == ["b2a"] and about["domains"] == {"b2a": ("winter", "summer")}
    translators, about = demo.open_directions(str(exported / "a2b"))
    assert list(translators) == ["a2b"] and about["checkpoint"].endswith("ckpt-4")
    with pytest.raises(TranslateError, match="no such file or folder"):
        demo.open_directions(str(tmp_path / "nothing"))


def test_the_examples_are_the_embedded_test_scenes(tmp_path):
    files = demo.example_images(tmp_path)
    assert [f.rsplit("/", 1)[1] for f in files] == ["scene_0_summer.png", "scene_1_winter.png",
                                                    "scene_2_summer.png", "scene_3_winter.png"]
    from tf_cyclegan.data.seasons import split_seeds

    np.testing.assert_array_equal(np.asarray(Image.open(files[1])), render_scene(split_seeds("testB", 1)[0],
                                                                                 "winter", 256))


def test_without_gradio_the_command_says_how_to_install_it(exported, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--model", str(exported)])
    assert exit_.value.code == 1
    assert "pip install 'tf_cyclegan[demo]'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        demo.main(["--model", str(exported), "--port", "70000"])
    assert exit_.value.code == 2 and "--port 70000" in capsys.readouterr().err


@pytest.mark.slow
def test_a_headless_chromium_uploads_an_image_and_sees_its_translation(served, tmp_path):
    """A real browser: Debian's chromium and chromium-driver through Selenium. Skipped where they are missing,
    except under CI=true: .ci/run installs them, so there their absence is a failure."""
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if missing:
        why = f"{' and '.join(missing)} not found: apt-get install chromium chromium-driver (.ci/run does)"
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(why)
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    Image.fromarray(render_scene(9, "summer", 256)).save(tmp_path / "summer.png")
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(shutil.which("chromedriver")))
    try:
        driver.get(served["url"])
        wait = WebDriverWait(driver, 120)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#upload input[type=file]")))
        (tmp_path / "big.png").write_bytes(os.urandom(UPLOAD_MB * 2**20 + 1024))
        driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(tmp_path / "big.png"))
        refused = f'File(s) exceed the maximum allowed size of {UPLOAD_MB:.1f} Mb: "big.png"'
        wait.until(lambda d: refused in d.find_element(By.TAG_NAME, "body").text)
        driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(tmp_path / "summer.png"))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result img")))
        wait.until(lambda d: d.execute_script(
            "const i = document.querySelector('#result img'); return i && i.complete && i.naturalWidth"))
        size = driver.execute_script("const i = document.querySelector('#result img');"
                                     "return [i.naturalWidth, i.naturalHeight]")
        assert size == [256, 256]
        assert "256x256, a2b" in driver.find_element(By.ID, "status").text
        driver.save_screenshot(str(tmp_path / "demo.png"))
    finally:
        driver.quit()
    assert Image.open(tmp_path / "demo.png").size[0] > 800


@pytest.mark.slow
def test_the_load_run_answers_every_request(exported, capsys):
    """The load benchmark's own machinery on a few requests (its figures come from the full run)."""
    from tf_cyclegan.bench import demo_load

    assert demo_load.main(["--model", str(exported), "--requests", "6", "--threads", "3", "--size", "48"]) == 0
    out = capsys.readouterr().out
    assert "answered 6, lost 0" in out and "server peak RSS" in out


def test_runs_keras_files_and_pix2pix_exports_open_with_what_the_page_shows(tmp_path):
    from pathlib import Path

    from conftest import with_batch_statistics

    run = Path(__file__).parent / "fixtures" / "run_0.1.0"
    translators, about = demo.open_directions(str(run))
    assert list(translators) == ["a2b", "b2a"] and about["checkpoint"].endswith("ckpt-3")
    assert about["settings"]["netG"] and about["mode"] == "train"
    G = with_batch_statistics(build_generator("unet_128", ngf=8, norm="batch", name="G"))
    G.save(tmp_path / "G.keras")
    translators, about = demo.open_directions(str(tmp_path / "G.keras"), mode="eval")
    assert list(translators) == ["a2b"] and "running statistics" in demo.model_card(about)
    version = export_generator(G, tmp_path / "pix2pix" / "a2b", "a2b", "labels", "photos", "ckpt-5",
                               {"model": "pix2pix"}, 4096 * 4096, variants=(), mode="train")
    translators, about = demo.open_directions(str(tmp_path / "pix2pix"))
    card = demo.model_card(about)
    assert "**a2b**: labels → photos" in card and "model pix2pix" in card
    assert "**inference mode**: train (batch norm with each image's own statistics, dropout on" in card
    image = render_scene(2, "summer", 128)[:, :96]
    assert translators["a2b"](image).shape == image.shape
    assert version.name == "1"


def test_a_long_running_demo_keeps_only_its_newest_results(tmp_path):
    import os

    for i in range(7):
        (tmp_path / f"request{i}").mkdir()
        os.utime(tmp_path / f"request{i}", (1000 + i, 1000 + i))
    demo.prune(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["request4", "request5", "request6"]
