"""evaluate: metrics.json and the results page from a run and from its export; --eval_every in training."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import EVAL_IMAGES as N
from PIL import Image
from test_loop import read_scalars

from tf_cyclegan.core.errors import EvaluateError
from tf_cyclegan.data.embedded import seasons_domains
from tf_cyclegan.evaluation import inception
from tf_cyclegan.evaluation.measures import measure
from tf_cyclegan.evaluation.options import EvaluateOptions
from tf_cyclegan.evaluation.report import evaluate
from tf_cyclegan.runtime.opening import load_generators
from tf_cyclegan.runtime.translators import keras_translator


@pytest.fixture
def run(cyclegan):
    """The shared tiny run on the embedded dataset: 4 steps, measured every 2 steps (conftest.cyclegan)."""
    return cyclegan["run"]


@pytest.fixture(autouse=True)
def no_keras_cache(tmp_path, monkeypatch):
    """No InceptionV3 weights unless a test provides them (and never a download)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))


def seasons_test_images(n, size):
    domains = seasons_domains()
    return (np.stack([domains.test_a.load(i, size) for i in range(n)]),
            np.stack([domains.test_b.load(i, size) for i in range(n)]))


@pytest.mark.slow
def test_eval_every_logs_evaluates_measures_to_tensorboard(run):
    scalars = read_scalars(run / "logs")
    for direction in ("a2b", "b2a"):
        for name in ("cycle_l1", "cycle_psnr", "cycle_ssim", "truth_psnr", "identity_psnr", "psnr_gain", "truth_ssim"):
            assert f"eval/{direction}_{name}" in scalars
    logged = scalars["eval/a2b_truth_psnr"]
    assert sorted(logged) == [2, 4]
    # The value at step 4 is what evaluate's measure gives for the final generators on those images.
    _, generators, _, _ = load_generators(run)
    test_a, test_b = seasons_test_images(N, 32)
    results, _ = measure(keras_translator(generators["a2b"]), keras_translator(generators["b2a"]), test_a, test_b,
                         paired=True)
    assert logged[4] == pytest.approx(results["a2b"]["truth_psnr"], abs=1e-3)


@pytest.mark.slow
def test_evaluate_a_run_writes_metrics_and_a_results_page(run, tmp_path):
    out = tmp_path / "eval"
    report = evaluate(EvaluateOptions(model=str(run), output=str(out), num_test=N), log=lambda s: None)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["paired"] and saved["size"] == 32 and saved["domains"] == {"A": "summer", "B": "winter"}
    assert "--inception_weights" in saved["fid_note"] and "fid" not in saved["a2b"]
    test_a, test_b = seasons_test_images(N, 32)
    # The identity baseline is the input against the truth, computed here independently.
    mse = ((test_a.astype(float) - test_b.astype(float)) ** 2).mean(axis=(1, 2, 3))
    assert saved["a2b"]["identity_psnr"] == pytest.approx(np.mean(10 * np.log10(255**2 / mse)), abs=1e-3)
    assert saved["b2a"]["identity_psnr"] == saved["a2b"]["identity_psnr"]
    m = saved["a2b"]
    assert m["images"] == N and 0 <= m["cycle_l1"] <= 2 and -1 <= m["cycle_ssim"] <= 1
    # The page: a row per image and direction, whose translation is the generator's.
    page = (out / "index.html").read_text()
    assert page.count("<tr><td><img") == 2 * N and "summer → winter" in page and "winter → summer" in page
    _, generators, _, _ = load_generators(run)
    fake = np.asarray(Image.open(out / "images" / "a2b" / "002_fake.png"))
    np.testing.assert_array_equal(fake, keras_translator(generators["a2b"])(test_a[2:3])[0])
    truth = np.asarray(Image.open(out / "images" / "b2a" / "002_truth.png"))
    np.testing.assert_array_equal(truth, test_a[2])
    picture = np.asarray(Image.open(out / "results.png"))  # 4 rows of (input, translation, cycle, truth) x 2
    assert picture.shape == (4 * 32 + 3 * 4, 2 * 4 * 32 + 3 * 4, 3)
    np.testing.assert_array_equal(picture[36:68, 32:64], keras_translator(generators["a2b"])(test_a[1:2])[0])
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_evaluate_an_export_agrees_with_its_run(cyclegan, tmp_path):
    run, models = cyclegan["run"], cyclegan["root"]
    assert set(cyclegan["folders"]) == {"a2b", "b2a"}
    from_run = evaluate(EvaluateOptions(model=str(run), output=str(tmp_path / "r"), num_test=N), log=lambda s: None)
    saved_model = evaluate(EvaluateOptions(model=str(models), output=str(tmp_path / "s"), num_test=N),
                           log=lambda s: None)
    tflite = evaluate(EvaluateOptions(model=str(models), output=str(tmp_path / "t"), num_test=N,
                                      variant="float32"), log=lambda s: None)
    assert saved_model["size"] == 32 and "SavedModel" in saved_model["model"] and "TFLite float32" in tflite["model"]
    for direction in ("a2b", "b2a"):
        for key in ("cycle_psnr", "truth_psnr", "identity_psnr"):
            assert saved_model[direction][key] == pytest.approx(from_run[direction][key], abs=0.01)
            assert tflite[direction][key] == pytest.approx(from_run[direction][key], abs=0.5)  # within a level
    with pytest.raises(EvaluateError, match="--checkpoint 4: only for training run folders"):
        evaluate(EvaluateOptions(model=str(models), output=str(tmp_path / "u"), checkpoint=4),
                 log=lambda s: None)
    with pytest.raises(EvaluateError, match="int8_selective.tflite does not exist"):
        evaluate(EvaluateOptions(model=str(models), output=str(tmp_path / "u"), variant="int8_selective"),
                 log=lambda s: None)


@pytest.mark.slow
def test_fid_and_kid_with_a_weights_file(run, tmp_path):
    weights = tmp_path / "inception.weights.h5"
    keras.utils.set_random_seed(0)
    keras.applications.InceptionV3(include_top=False, pooling="avg", weights=None).save_weights(str(weights))
    features = inception.InceptionFeatures(weights)
    test_a, test_b = seasons_test_images(4, 32)
    f = features(np.concatenate([test_a, test_b]))
    assert f.shape == (8, 2048) and np.isfinite(f).all()
    np.testing.assert_allclose(features(test_a[::-1]), f[:4][::-1], rtol=1e-4, atol=1e-5)  # per image
    lines = []
    report = evaluate(EvaluateOptions(model=str(run), output=str(tmp_path / "e"), num_test=4,
                                      inception_weights=str(weights)), log=lines.append)
    for direction in ("a2b", "b2a"):
        m = report[direction]
        assert m["fid"] >= 0 and m["fid_identity"] >= 0 and np.isfinite(m["kid"]) and m["kid_std"] == 0.0
    assert "fid_note" not in report and any("FID" in line for line in lines)
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(EvaluateError, match="cannot load InceptionV3 weights"):
        evaluate(EvaluateOptions(model=str(run), output=str(tmp_path / "f"), inception_weights=str(broken)),
                 log=lambda s: None)


@pytest.mark.slow
def test_unpaired_folders_have_no_truth_unless_paired_is_said(run, image_folder, tmp_path):
    options = dict(model=str(run), dataset=str(image_folder), num_test=2, size=16)
    report = evaluate(EvaluateOptions(output=str(tmp_path / "a"), **options), log=lambda s: None)
    assert not report["paired"] and "truth_psnr" not in report["a2b"] and report["size"] == 16
    report = evaluate(EvaluateOptions(output=str(tmp_path / "b"), paired=True, **options), log=lambda s: None)
    assert report["paired"] and "truth_psnr" in report["b2a"]


@pytest.mark.slow
def test_cli_errors_are_one_line(run, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "tf_cyclegan.evaluate", *args], capture_output=True, text=True,
                              timeout=300)

    missing = cli("--model", str(tmp_path / "nothing"), "--output", str(tmp_path / "o"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "nothing: no such file or folder" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = cli("--model", str(tmp_path / "empty"), "--output", str(tmp_path / "o"))
    assert empty.returncode == 1 and empty.stderr.strip().count("\n") == 0
    assert "empty: not a training run folder (config.json, checkpoints/), an export folder" in empty.stderr
    small = cli("--model", str(run), "--output", str(tmp_path / "o"), "--size", "5")
    assert small.returncode == 2 and "--size: SSIM needs at least 11 pixels" in small.stderr
    variant = cli("--model", str(run), "--output", str(tmp_path / "o"), "--variant", "float32")
    assert variant.returncode == 1 and "a run folder has no TFLite or ONNX files; export it first" in variant.stderr
