"""Export and translate: every artifact against the Keras generator it came from, on awkward inputs."""

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from conftest import EXPORT_PIXELS as MAX_PIXELS
from conftest import load_example
from PIL import Image

from tf_cyclegan import export as export_command
from tf_cyclegan.core.errors import CheckpointError, RunError, TranslateError
from tf_cyclegan.exporting import generator as export_generator_module
from tf_cyclegan.exporting.options import ExportOptions
from tf_cyclegan.exporting.run import export_run
from tf_cyclegan.runtime import processing
from tf_cyclegan.runtime.folders import translate_files
from tf_cyclegan.runtime.opening import load_generators

SIZES = [(32, 32), (3, 5), (255, 257), (40, 24)]


@pytest.fixture
def exported(cyclegan):
    """The shared tiny run and its export (conftest.cyclegan)."""
    return cyclegan


def reference(generator, images_uint8):
    """The Keras generator with the export's pre/post-processing, in eager mode: the ground truth."""
    floats = np.asarray(processing.translate_float(generator, processing.to_float(images_uint8)))
    return floats, np.asarray(processing.to_uint8(floats))


def random_images(h, w, batch=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, h, w, 3), dtype=np.uint8)


def run_tflite(path, image):
    interpreter = Interpreter(model_path=str(path), num_threads=2)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(image.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, image)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_layout_is_tf_servings_and_carries_a_contract(exported):
    for direction in ("a2b", "b2a"):
        folder = exported["folders"][direction]
        assert folder == exported["root"] / direction / "1"
        assert (folder / "saved_model.pb").is_file() and (folder / "variables").is_dir()
        for variant in ("float32", "float16", "int8_dynamic"):
            assert (folder / f"{direction}_{variant}.tflite").stat().st_size > 10_000
        contract = json.loads((folder / "tf_cyclegan.json").read_text())
        assert contract["direction"] == direction and contract["max_pixels"] == MAX_PIXELS
        assert (contract["source_domain"], contract["target_domain"]) == (
            ("summer", "winter") if direction == "a2b" else ("winter", "summer"))
        assert contract["training_config"]["ngf"] == 8 and contract["checkpoint"].endswith("ckpt-4")
        assert set(contract["signatures"]) == {"serving_default", "translate_bytes", "translate_float",
                                                  "tile_statistics", "translate_tile"}
        # Each weight is saved once: the SavedModel holds exactly the generator's parameters.
        saved = tf.train.list_variables(str(folder / "variables" / "variables"))
        params = sum(int(np.prod(shape)) for name, shape in saved if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
        assert params == exported["generators"][direction].count_params()
    assert not list(exported["root"].glob("*/.tmp-*"))


@pytest.mark.parametrize("h, w", SIZES)
def test_saved_model_signatures_equal_the_keras_generator(exported, h, w):
    model = tf.saved_model.load(str(exported["folders"]["a2b"]))
    images = random_images(h, w, batch=2, seed=h * w)
    floats, uint8 = reference(exported["generators"]["a2b"], images)
    out = model.signatures["serving_default"](images=tf.constant(images))["translated"].numpy()
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert np.abs(out.astype(int) - uint8).max() <= 1
    out_float = model.signatures["translate_float"](images=processing.to_float(images))["translated"].numpy()
    np.testing.assert_allclose(out_float, floats, atol=1e-4)


@pytest.mark.parametrize("h, w", [(32, 32), (255, 257), (40, 24), (9, 13)])
def test_tflite_variants_match_the_keras_generator(exported, h, w, record_property):
    image = random_images(h, w, seed=7)
    _, expected = reference(exported["generators"]["b2a"], image)
    folder = exported["folders"]["b2a"]
    tolerance = {"float32": 1, "float16": 8, "int8_dynamic": 24}  # max |diff| in uint8 levels
    for variant, limit in tolerance.items():
        out = run_tflite(folder / f"b2a_{variant}.tflite", image)
        assert out.dtype == np.uint8 and out.shape == image.shape
        diff = np.abs(out.astype(int) - expected).max()
        record_property(f"{variant}_psnr_vs_keras_{h}x{w}", round(float(psnr(out, expected)), 1))
        print(f"{variant} {h}x{w}: max diff {diff} levels, PSNR {psnr(out, expected):.1f} dB vs Keras")
        assert diff <= limit, (variant, diff)


def test_tiny_images_translate_everywhere(exported):
    """1x1 works, but is not a parity case: resized up it is a constant image, whose instance-norm
    statistics (variance 0) amplify float rounding differences between runtimes."""
    model = tf.saved_model.load(str(exported["folders"]["a2b"]))
    for h, w in [(1, 1), (3, 5)]:
        out = run_tflite(exported["folders"]["a2b"] / "a2b_float32.tflite", random_images(h, w))
        assert out.shape == (1, h, w, 3) and out.dtype == np.uint8
        out = model.signatures["serving_default"](images=tf.constant(random_images(h, w)))["translated"]
        assert out.shape == (1, h, w, 3) and out.dtype == tf.uint8


def encode(array, fmt, mode=None):
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_bytes_signature_takes_jpeg_png_grayscale_rgba_and_returns_png(exported):
    model = tf.saved_model.load(str(exported["folders"]["a2b"]))
    fn = model.signatures["translate_bytes"]
    rgb = random_images(20, 28)[0]
    payloads = [encode(rgb, "PNG"), encode(rgb, "JPEG"), encode(rgb, "PNG", "L"), encode(rgb, "PNG", "RGBA"),
                encode(random_images(9, 7)[0], "GIF")]
    out = fn(image_bytes=tf.constant(payloads))["translated_bytes"].numpy()
    decoded = [np.asarray(Image.open(io.BytesIO(b))) for b in out]
    assert [d.shape for d in decoded] == [(20, 28, 3)] * 4 + [(9, 7, 3)]
    assert all(b.startswith(b"\x89PNG") for b in out)
    _, expected = reference(exported["generators"]["a2b"], rgb[None])
    assert np.abs(decoded[0].astype(int) - expected[0]).max() <= 1  # PNG in is lossless: same as uint8


def test_bytes_signature_refuses_garbage_and_bombs_then_keeps_working(exported):
    fn = tf.saved_model.load(str(exported["folders"]["a2b"])).signatures["translate_bytes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        fn(image_bytes=tf.constant([b"this is not an image"]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        fn(image_bytes=tf.constant([b""]))
    truncated = encode(random_images(16, 16)[0], "JPEG")[:40]
    with pytest.raises(tf.errors.InvalidArgumentError):
        fn(image_bytes=tf.constant([truncated]))
    # A PNG header claiming 30000 x 30000 pixels: refused from the header, before decoding.
    bomb = bytearray(encode(random_images(8, 8)[0], "PNG"))
    bomb[16:24] = (30000).to_bytes(4, "big") * 2
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"limit of {MAX_PIXELS} pixels"):
        fn(image_bytes=tf.constant([bytes(bomb)]))
    out = fn(image_bytes=tf.constant([encode(random_images(8, 8)[0], "PNG")]))["translated_bytes"]
    assert out.shape == (1,)


def test_pixel_limit_applies_to_array_signatures(exported):
    model = tf.saved_model.load(str(exported["folders"]["a2b"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"limit of {MAX_PIXELS} pixels"):
        model.signatures["serving_default"](images=tf.zeros([1, 400, 400, 3], tf.uint8))


@pytest.mark.slow
def test_saved_model_cli_reads_the_signatures(exported):
    cli = shutil.which("saved_model_cli") or str(__import__("pathlib").Path(sys.executable).parent / "saved_model_cli")
    result = subprocess.run([cli, "show", "--dir", str(exported["folders"]["a2b"]), "--all"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['translate_bytes']",
                 "signature_def['translate_float']", "dtype: DT_UINT8", "dtype: DT_STRING",
                 "outputs['translated_bytes']"):
        assert text in result.stdout


@pytest.mark.slow
def test_a_second_export_is_the_next_version_and_a_failed_one_leaves_nothing(exported, monkeypatch, tmp_path):
    root = shutil.copytree(exported["root"], tmp_path / "models")  # the shared export stays as it is
    options = ExportOptions(run=str(exported["run"]), output=str(root), no_tflite=True)
    folders = export_run(options, log=lambda s: None)
    assert folders["a2b"].name == "2" and folders["b2a"].name == "2"

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export_generator_module, "tflite_models", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_run(ExportOptions(run=str(exported["run"]), output=str(root)), log=lambda s: None)
    assert sorted(p.name for p in (root / "a2b").iterdir()) == ["1", "2"]
    assert (root / "a2b" / "1" / "saved_model.pb").is_file()


def test_export_errors_name_what_is_wrong(exported, tmp_path):
    with pytest.raises(RunError, match="no config.json there; pass the folder a training run wrote"):
        load_generators(tmp_path)
    with pytest.raises(CheckpointError, match=r"--checkpoint 99: .*ckpt-99 does not exist \(available: 4, 2\)"):
        load_generators(exported["run"], checkpoint=99)
    damaged = shutil.copytree(exported["run"], tmp_path / "damaged")
    (damaged / "checkpoints" / "ckpt-4.index").write_bytes(b"not an index")
    with pytest.raises(CheckpointError, match=r"ckpt-4: .*; pass --checkpoint N of a readable one, or use another"):
        load_generators(damaged, checkpoint=4, log=lambda line: None)


def test_direction_btoa_exports_f_as_a2b(exported, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(exported["run"], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "direction": "BtoA"}))
    _, generators, _, _ = load_generators(run)
    assert generators["a2b"].name == "F" and generators["b2a"].name == "G"


def test_export_cli_reports_a_missing_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        export_command.main(["--run", str(tmp_path / "nope"), "--output", str(tmp_path / "out")])
    assert info.value.code == 1
    assert "no config.json" in capsys.readouterr().err


# -- translate -------------------------------------------------------------------------------------
@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)).save(folder / "photo.png")
    Image.fromarray(rng.integers(0, 256, (16, 12), dtype=np.uint8)).save(folder / "gray.jpg")
    (folder / "sub").mkdir()
    Image.fromarray(rng.integers(0, 256, (9, 9, 4), dtype=np.uint8)).save(folder / "sub" / "rgba.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.mark.parametrize("kind", ["saved_model", "export_root", "tflite", "run"])
def test_translate_folder_with_every_model_kind(exported, inputs, tmp_path, kind):
    model = {"saved_model": exported["folders"]["a2b"], "export_root": exported["root"],
             "tflite": exported["folders"]["a2b"] / "a2b_float32.tflite", "run": exported["run"]}[kind]
    out = tmp_path / "out"
    written, skipped = translate_files(str(model), str(inputs), str(out), "a2b", log=lambda s: None, progress=False)
    assert written == 3 and [p.name for p, _ in skipped] == ["broken.jpg", "empty.png"]
    assert Image.open(out / "photo.png").size == (34, 21) and Image.open(out / "gray.jpg").size == (12, 16)
    assert Image.open(out / "sub" / "rgba.png").mode == "RGB" and not (out / "broken.jpg").exists()
    translated = np.asarray(Image.open(out / "photo.png"))
    _, expected = reference(exported["generators"]["a2b"], np.asarray(Image.open(inputs / "photo.png"))[None])
    assert np.abs(translated.astype(int) - expected[0]).max() <= 1


def test_translate_refuses_overwriting_its_input_and_unknown_models(exported, inputs, tmp_path):
    with pytest.raises(TranslateError, match="--output is the --input folder"):
        translate_files(str(exported["root"]), str(inputs), str(inputs), log=lambda s: None)
    with pytest.raises(TranslateError, match="not a training run folder .*, an export folder .*, a SavedModel version or model folder, or a .tflite"):
        translate_files(str(tmp_path), str(inputs), str(tmp_path / "o"), log=lambda s: None)


# -- the TF Serving clients in export/, against loopback stand-ins that run the exported SavedModel ----
def test_rest_client_speaks_tf_servings_json(exported):
    import base64
    import http.server
    import threading

    client = load_example("rest_client")
    image = encode(random_images(12, 16)[0], "JPEG")
    request = client.build_request([image])
    # TF Serving's documented row format for a one-input signature with binary values.
    assert request == {"signature_name": "translate_bytes", "instances": [{"b64": base64.b64encode(image).decode()}]}

    signatures = tf.saved_model.load(str(exported["folders"]["a2b"])).signatures
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # what TF Serving does: decode b64, run the signature, b64 the *_bytes output
            seen.append(self.path)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fn = signatures[body["signature_name"]]
            blobs = [base64.b64decode(x["b64"]) for x in body["instances"]]
            out = fn(image_bytes=tf.constant(blobs))["translated_bytes"].numpy()
            reply = json.dumps({"predictions": [{"b64": base64.b64encode(b).decode()} for b in out]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (png,) = client.predict(f"http://127.0.0.1:{server.server_port}", "a2b", [image], timeout=60)
    finally:
        server.shutdown()
    assert seen == ["/v1/models/a2b:predict"]
    assert Image.open(io.BytesIO(png)).size == (16, 12)
    assert client.parse_response({"predictions": [{"translated_bytes": {"b64": base64.b64encode(b"x").decode()}}]}) == [b"x"]


@pytest.mark.parametrize("name, server", [("rest_client", "http://localhost:8501"),
                                          ("grpc_client", "localhost:8500")])
def test_each_clients_command_line_writes_the_translation(tmp_path, monkeypatch, capsys, name, server):
    client, calls = load_example(name), []
    monkeypatch.setattr(client, "predict", lambda *args: calls.append(args) or [b"PNG bytes"])
    (tmp_path / "photo.jpg").write_bytes(b"JPEG bytes")
    assert client.main([str(tmp_path / "photo.jpg"), str(tmp_path / "out.png"), "--model", "b2a"]) == 0
    assert calls == [(server, "b2a", [b"JPEG bytes"])] and (tmp_path / "out.png").read_bytes() == b"PNG bytes"
    assert "out.png (9 bytes)" in capsys.readouterr().out


def test_grpc_client_calls_the_prediction_service(exported):
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    client = load_example("grpc_client")
    signatures = tf.saved_model.load(str(exported["folders"]["b2a"])).signatures
    seen = []

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            seen.append((request.model_spec.name, request.model_spec.signature_name))
            images = tf.make_ndarray(request.inputs["image_bytes"])
            out = signatures[request.model_spec.signature_name](image_bytes=tf.constant(images))
            response = predict_pb2.PredictResponse()
            response.outputs["translated_bytes"].CopyFrom(tf.make_tensor_proto(out["translated_bytes"]))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        pngs = client.predict(f"127.0.0.1:{port}", "b2a", [encode(random_images(10, 6)[0], "PNG")] * 2)
    finally:
        server.stop(None)
    assert seen == [("b2a", "translate_bytes")]
    assert [Image.open(io.BytesIO(p)).size for p in pngs] == [(6, 10), (6, 10)]


def export_int8(exported, tmp_path, variant: str):
    """Export with one of the calibrated int8 options; (folders, the a2b file, its interpreter)."""
    flag = {"int8_full": "full_int8", "int8_selective": "int8_selective"}[variant]
    folders = export_run(ExportOptions(run=str(exported["run"]), output=str(tmp_path), **{flag: True}),
                     log=lambda s: None)
    path = folders["a2b"] / f"a2b_{variant}.tflite"
    contract = json.loads((folders["a2b"] / "tf_cyclegan.json").read_text())
    assert contract["tflite"][variant]["file"] == path.name
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return folders, path, interpreter


@pytest.mark.slow
def test_full_integer_int8_is_calibrated_on_training_images(exported, tmp_path):
    _, path, interpreter = export_int8(exported, tmp_path, "int8_full")
    quantized = [d for d in interpreter.get_tensor_details() if d["dtype"] == np.int8]
    assert len(quantized) > 10  # activations and weights are integers, not only weights
    out = run_tflite(path, random_images(24, 20))
    assert out.shape == (1, 24, 20, 3) and out.dtype == np.uint8


@pytest.mark.slow
def test_selective_int8_quantizes_the_convolutions_and_keeps_instance_norm_in_float(exported, tmp_path):
    folders, path, interpreter = export_int8(exported, tmp_path, "int8_selective")
    ops = {(op["op_name"], interpreter.get_tensor_details()[op["inputs"][0]]["dtype"])
           for op in interpreter._get_ops_details()}
    assert ("CONV_2D", np.int8) in ops  # convolutions on int8 activations ...
    assert ("MEAN", np.float32) in ops and ("RSQRT", np.float32) in ops  # ... instance norm in float
    assert not any(name == "MEAN" and dtype == np.int8 for name, dtype in ops)
    float32 = run_tflite(folders["a2b"] / "a2b_float32.tflite", random_images(24, 20))
    out = run_tflite(path, random_images(24, 20))
    assert out.shape == (1, 24, 20, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - float32).mean() < 8  # a tiny, briefly trained generator: a loose bound
