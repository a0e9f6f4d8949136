"""python -m tf_cyclegan.demo --model PATH [--port 7860] [--host 127.0.0.1] [--max_upload_mb 20]

A page in the browser to try a model before deploying it: upload or drag an image, choose the direction,
see the translation at full resolution (tiled with shared statistics above the untiled limit, through
tf_cyclegan.Translator) and download it as PNG. `--model` takes every kind `translate` accepts. Built with
Gradio (`pip install 'tf_cyclegan[demo]'`); TF Serving stays the production path. Uploads over
--max_upload_mb are cut off while they stream in; the rest live in a temporary folder of the demo's own,
removed when it stops (private_cache).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from tf_cyclegan.cli import add_tile_arguments, quiet_tensorflow, run_command, tile_options
from tf_cyclegan.core.errors import TranslateError, first_line
from tf_cyclegan.core.extras import require
from tf_cyclegan.core.pictures import save_image
from tf_cyclegan.core.pixels import MAX_UPLOAD_PIXELS

PROG = "python -m tf_cyclegan.demo"
MAX_UPLOAD_MB = 20  # --max_upload_mb
CACHE_CHECK, CACHE_AGE = 300, 900  # Gradio deletes its copies of uploads and results older than 15 min
SETTINGS = ("model", "dataset", "netG", "ngf", "norm", "crop_size", "n_epochs", "n_epochs_decay", "batch_size")


def open_directions(path: str, mode: str | None = None, tiles=None) -> tuple[dict, dict]:
    """({direction: Translator}, about) for every direction the model has; `about` holds what the page
    shows of it: the domains per direction, the checkpoint, the training settings, the inference mode."""
    from tf_cyclegan.runtime.opening import open_model
    from tf_cyclegan.runtime.translator import Translator

    opened = open_model(path, mode)
    translators = {name: Translator(direction, tiles) for name, direction in opened.directions.items()}
    for direction in opened.directions.values():
        direction.translate  # loaded now: a model that cannot be loaded fails before the page starts
    about = {"description": opened.description, "domains": {d: opened.domains(d) for d in opened.directions},
             "checkpoint": opened.checkpoint, "settings": opened.training, "mode": opened.mode,
             "mode_means": opened.mode_means, "path": str(Path(path))}
    return translators, about


def model_card(about: dict) -> str:
    """The page's Markdown about the model. Every visitor reads it, so it names the model and its checkpoint
    without the server's folders."""
    lines = [f"**Model:** {public_description(about)}"]
    lines += [f"- **{d}**: {src} → {dst}" for d, (src, dst) in about["domains"].items()]
    if about.get("checkpoint"):
        lines.append(f"- **checkpoint**: `{Path(about['checkpoint']).name}`")
    settings = about.get("settings") or {}
    shown = ", ".join(f"{k} {settings[k]}" for k in SETTINGS if settings.get(k) is not None)
    if shown:
        lines.append(f"- **training**: {shown}")
    means = f" ({about['mode_means']})" if about.get("mode_means") else ""
    lines.append(f"- **inference mode**: {about['mode']}{means}")
    return "\n".join(lines)


def public_description(about: dict) -> str:
    """The model's description with the --model path cut to its last name ("export models (SavedModel...)",
    "TFLite model a2b_float32.tflite"): the operator's terminal shows the whole path, the page does not."""
    description, path = about["description"], about.get("path")
    if not path:
        return description
    return description.replace(f" {path}", f" {Path(path).resolve().name}", 1)


def read_upload(path: str | None, max_pixels: int):
    """An uploaded file as uint8 RGB [H, W, 3], or a TranslateError that says what is wrong with it."""
    import numpy as np
    from PIL import Image

    from tf_cyclegan.data.images import header_size, to_rgb

    if not path:
        raise TranslateError("no image: upload or drop one first")
    name = Path(path).name
    if os.path.getsize(path) == 0:
        raise TranslateError(f"{name} is empty (0 bytes): choose an image file")

    def check(w, h):  # from the header first, so that Pillow's bomb limit never speaks before --max_pixels
        if w * h > max_pixels:
            raise TranslateError(f"{name} is {w}x{h} ({w * h:,} pixels): the demo takes up to {max_pixels:,} "
                                 "pixels (--max_pixels); python -m tf_cyclegan.translate takes any size")

    check(*(header_size(path) or (0, 0)))
    try:
        with Image.open(path) as image:
            check(*image.size)
            return np.asarray(to_rgb(image), np.uint8)
    except Image.DecompressionBombError:
        raise TranslateError(f"{name}: its header claims more than {Image.MAX_IMAGE_PIXELS * 2:,} pixels; the "
                             f"demo takes up to {max_pixels:,}") from None
    except (OSError, ValueError, SyntaxError) as e:  # what Pillow raises for bytes it cannot decode
        why = first_line(e).replace(f"'{path}'", name).replace(str(path), name)
        raise TranslateError(f"{name}: cannot read it as an image ({why})") from None


def example_images(folder: Path, count: int = 4) -> list[str]:
    """The embedded dataset's first test scenes (testA in summer, testB in winter) as 256x256 PNG files,
    rendered offline and written once."""
    from tf_cyclegan.data.seasons import render_scene, split_seeds

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        season = "summer" if i % 2 == 0 else "winter"
        file = folder / f"scene_{i}_{season}.png"
        if not file.exists():
            seed = split_seeds("testA" if season == "summer" else "testB", i // 2 + 1)[-1]
            save_image(file, render_scene(seed, season, 256))
        files.append(str(file))
    return files


def direction_label(direction: str, domains: dict) -> str:
    src, dst = domains[direction]
    return f"{direction}: {src} → {dst}"


def translate_upload(translators: dict, path: str | None, direction: str | None, max_pixels: int, out_dir: Path):
    """(input shown, translation, PNG file for download, status line) for one upload."""
    import time

    direction = direction if direction in translators else next(iter(translators))
    image = read_upload(path, max_pixels)
    translator = translators[direction]
    h, w = image.shape[:2]
    how = translator.describe_tiling(h, w) if translator.tile_runs(h, w) else "translated whole"
    started = time.perf_counter()
    translated = translator.translate_array(image)
    seconds = time.perf_counter() - started
    # Files of this request's own, not arrays: Gradio writes arrays to a path named by their content, not
    # atomically, so two identical requests at once could each send a half-written file.
    folder = out_dir / uuid.uuid4().hex[:12]
    stem = Path(path).stem
    shown = save_image(folder / f"{stem}.png", image)
    file = save_image(folder / f"{stem}_{direction}.png", translated)
    prune(out_dir)
    return str(shown), str(file), str(file), f"{w}x{h}, {direction}, {how}, {seconds:.1f} s"


KEEP_RESULTS = 100  # request folders kept on disk; Gradio has its own copy once it has answered


def prune(out_dir: Path, keep: int = KEEP_RESULTS):
    """Delete all but the newest `keep` request folders, so a demo left running does not fill the disk."""
    folders = sorted((f for f in out_dir.iterdir() if f.is_dir()), key=lambda f: f.stat().st_mtime)
    for folder in folders[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)


def build_app(translators: dict, about: dict, max_pixels: int = MAX_UPLOAD_PIXELS, work: Path | None = None,
              max_upload_mb: float = MAX_UPLOAD_MB):
    """The Gradio Blocks page; its translate event is also the API (gradio_client: api_name="/translate").
    `work` holds its results (main passes a private_cache folder)."""
    import gradio as gr

    work = Path(work or tempfile.mkdtemp(prefix="tf_cyclegan_demo_"))
    directions = list(translators)

    def translate(path, direction):
        try:
            return translate_upload(translators, path, direction, max_pixels, work / "out")
        except TranslateError as e:
            raise gr.Error(html.escape(str(e), quote=False), print_exception=False) from None

    with gr.Blocks(title="tf_cyclegan demo", delete_cache=(CACHE_CHECK, CACHE_AGE)) as app:
        gr.Markdown("## tf_cyclegan: try the model\n" + model_card(about))
        with gr.Row():
            upload = gr.File(label=f"Image: up to {max_upload_mb:g} MB, any format Pillow reads (drop it here)",
                             type="filepath", file_types=["image"], elem_id="upload")
            direction = gr.Radio([(direction_label(d, about["domains"]), d) for d in directions],
                                 value=directions[0], label="Direction", visible=len(directions) > 1)
        button = gr.Button("Translate", variant="primary", elem_id="translate")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            shown = gr.Image(label="Input", type="filepath", interactive=False)
            result = gr.Image(label="Translation (full resolution)", type="filepath", interactive=False,
                              elem_id="result")
        download = gr.File(label="Download the translation (PNG)", interactive=False, elem_id="download")
        examples = example_images(work / "examples")
        gr.Examples([[f, directions[0] if "summer" in f or len(directions) == 1 else directions[-1]]
                     for f in examples], inputs=[upload, direction], label="Examples: the embedded dataset's "
                    "test scenes")
        outputs = [shown, result, download, status]
        button.click(translate, [upload, direction], outputs, api_name="translate")
        upload.upload(translate, [upload, direction], outputs, api_name=False)
    return app


def launch(app, host: str, port: int, block: bool = True, max_upload_mb: float = MAX_UPLOAD_MB):
    """Serve one translation at a time (bounded memory; a TFLite interpreter is not thread-safe); the rest
    wait in Gradio's queue. Gradio counts an upload's bytes as they stream in and drops it (HTTP 413, its
    partial file deleted) once it passes max_file_size, UploadGuard a request whose files together do; the
    page refuses such a file before sending it."""
    import gradio as gr
    from starlette.middleware import Middleware

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])  # no web fonts: offline
    app.queue(default_concurrency_limit=1, max_size=256)
    limit = int(max_upload_mb * 2**20)
    return app.launch(server_name=host, server_port=port, prevent_thread_lock=not block, quiet=not block,
                      show_error=True, theme=theme, inbrowser=False, max_file_size=limit,
                      app_kwargs={"middleware": [Middleware(UploadGuard, limit=limit)]})


MULTIPART_MARGIN = 64 * 1024  # a request's bytes besides its file: boundaries, part headers, form fields
# Gradio's own answer (HTTP 413) to a file over max_file_size; a request cut off here gets the same one, as
# whichever of the two limits comes first depends on how its bytes arrive.
GRADIO_REFUSAL = "File size exceeded maximum allowed size of {} bytes."


class UploadGuard:
    """ASGI middleware for what Gradio's per-file max_file_size lets through: one request of many files (up
    to 1000, each under the limit), cut off once the request passes the limit, and a client that goes away
    mid-upload, whose partial file Gradio would keep until the demo stops. Both end the request's stream
    with Starlette's MultiPartException, on which Gradio deletes the request's partial files."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit + MULTIPART_MARGIN

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        if not headers.get(b"content-type", b"").strip().lower().startswith(b"multipart/form-data"):
            return await self.app(scope, receive, send)
        from starlette.formparsers import MultiPartException

        state = {"received": 0, "done": False}

        async def counted():
            message = await receive()
            if state["done"]:
                return message  # after the body: a disconnect the response may listen for
            if message["type"] == "http.disconnect":
                raise MultiPartException("Upload refused: the client went away before sending the whole file")
            state["received"] += len(message.get("body", b""))
            state["done"] = not message.get("more_body", False)
            if state["received"] > self.limit:
                raise MultiPartException(GRADIO_REFUSAL.format(self.limit - MULTIPART_MARGIN))  # its words
            return message

        return await self.app(scope, counted, send)


@contextlib.contextmanager
def private_cache():
    """A temporary folder of the demo's own (tf_cyclegan_demo_*) for its results and Gradio's copies of
    uploads (gradio/ in it: GRADIO_TEMP_DIR, which Gradio reads whenever it stores a file), removed with
    everything in it when the demo stops; only a killed process (SIGKILL) leaves it behind."""
    folder = Path(tempfile.mkdtemp(prefix="tf_cyclegan_demo_"))
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")
    try:
        yield folder
    finally:
        if before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = before
        shutil.rmtree(folder, ignore_errors=True)


def serve(args) -> int:
    """Open the model and serve the page until Ctrl-C or SIGTERM, all in a private_cache folder, made before
    Gradio is imported (some of its modules read GRADIO_TEMP_DIR then) and removed however the demo stops.
    Both signals only set a flag that the main thread waits on, so a stop never lands in the middle of
    Gradio's or TensorFlow's code: the server is then closed and the folder removed."""
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda signum, frame: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with private_cache() as work:
            require("gradio", "demo", "the demo page", TranslateError)
            quiet_tensorflow()
            translators, about = open_directions(args.model, "eval" if args.eval else None, tile_options(args))
            if stop.is_set():  # stopped while the model loaded
                return 130
            app = build_app(translators, about, args.max_pixels, work, args.max_upload_mb)
            try:
                launch(app, args.host, args.port, block=False, max_upload_mb=args.max_upload_mb)
            except OSError as e:
                raise TranslateError(f"--port {args.port}: cannot listen on {args.host}:{args.port} ({e})") from None
            print(f"Serving {about['description']} on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
            print(f"Uploads and results are kept in {work} (removed when the demo stops)", flush=True)
            while not stop.wait(0.5):
                pass
            print("Stopping the demo", flush=True)
            app.close()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="A page in the browser to try a model.")
    parser.add_argument("--model", required=True, help="anything translate --model takes: export or version "
                        "folder, .tflite, .onnx or .keras file, run folder")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default %(default)s: this machine only; 0.0.0.0 for all)")
    parser.add_argument("--eval", action="store_true", help="run folders and .keras files: batch norm's running "
                        "statistics, no dropout (as translate --eval)")
    parser.add_argument("--max_pixels", type=int, default=MAX_UPLOAD_PIXELS,
                        help="larger uploads are refused before decoding (default %(default)s)")
    parser.add_argument("--max_upload_mb", "--max-upload-mb", type=float, default=MAX_UPLOAD_MB,
                        help="larger uploads are refused while they stream in, before they are stored "
                             "(default %(default)g)")
    add_tile_arguments(parser)
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port {args.port}: choose a port between 1 and 65535")
    if not 0 < args.max_upload_mb < 2**20:
        parser.error(f"--max_upload_mb {args.max_upload_mb:g}: choose a size in MB above 0 (default "
                     f"{MAX_UPLOAD_MB})")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no calls home

    return run_command(PROG, lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
