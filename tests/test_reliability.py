"""Messy data, interrupted runs, corrupted checkpoints, non-finite losses, full disks, hostile model files.

Each test is one guarantee of docs/reliability.md.
"""

import csv
import dataclasses
import io
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_images
from PIL import Image

from tf_cyclegan.core import checkpoints as checkpoints_module
from tf_cyclegan.core.errors import CheckpointError, DatasetError, RunError
from tf_cyclegan.data import pipeline
from tf_cyclegan.data.images import check_image
from tf_cyclegan.data.unpaired import folder_domains
from tf_cyclegan.models.cycle_gan import CycleGAN
from tf_cyclegan.training.run import train

QUIET = dict(log=lambda s: None)


def save(image: Image.Image, path, fmt=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, format=fmt, **kwargs)


def rgb(w, h, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def jpeg_bytes(w=40, h=30):
    buffer = io.BytesIO()
    rgb(w, h).save(buffer, format="JPEG")
    return buffer.getvalue()


def every_format(folder):
    """1. The modes real folders hold, 6. tiny and extreme-aspect images."""
    save(rgb(40, 30).convert("L"), folder / "gray.jpg")
    save(rgb(40, 30, 1).convert("CMYK"), folder / "cmyk.jpg")
    save(rgb(40, 30, 2).convert("RGBA"), folder / "rgba.png")
    save(rgb(40, 30, 3).convert("P"), folder / "palette.png")
    save(Image.fromarray(np.arange(1200, dtype=np.uint16).reshape(30, 40) * 50), folder / "sixteen.png")
    save(rgb(40, 30, 4).convert("P"), folder / "anim.gif", save_all=True, append_images=[rgb(40, 30, 5).convert("P")])
    save(rgb(40, 30, 6), folder / "bitmap.bmp")
    save(rgb(40, 30, 7), folder / "photo.WEBP")
    save(rgb(10, 7, 8), folder / "tiny.png")
    save(rgb(1000, 20, 9), folder / "banner.png")


@pytest.mark.slow
def test_every_format_and_odd_shape_trains(tmp_path):
    every_format(tmp_path / "d" / "trainA")
    write_images(tmp_path / "d" / "trainB", 3)
    run = train(tiny_config(dataset=str(tmp_path / "d"), output=str(tmp_path / "run"), max_steps=10, n_samples=0),
                **QUIET)
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-10")
    assert report_rows(run) == [["split", "file", "reason"]]  # the header row alone: nothing skipped


def report_rows(run):
    """RUN/data_report.tsv as csv reads it: the header row, then one row per skipped file."""
    with open(run / "data_report.tsv", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def broken_files(folder):
    """2. Files that look like images and are not; 3. files that are not images at all."""
    os.makedirs(folder, exist_ok=True)
    (folder / "truncated.jpg").write_bytes(jpeg_bytes()[:300])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    (folder / "text.png").write_text("not a png")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (folder / "README.txt").write_text("scraped from the web")
    os.makedirs(folder / "__MACOSX")
    (folder / "__MACOSX" / "._photo.jpg").write_bytes(b"\0\5\26\7")
    return {"truncated.jpg", "empty.jpg", "noise.jpg", "text.png"}


@pytest.mark.slow
def test_bad_files_are_skipped_counted_and_reported(tmp_path):
    write_images(tmp_path / "d" / "trainA", 80)
    bad = broken_files(tmp_path / "d" / "trainA")
    write_images(tmp_path / "d" / "trainB", 4, seed=1)
    lines = []
    run = train(tiny_config(dataset=str(tmp_path / "d"), output=str(tmp_path / "run"), max_steps=2, n_samples=0),
                log=lines.append)
    header, *rows = report_rows(run)
    assert header == ["split", "file", "reason"] and len(rows) == 4
    assert {os.path.basename(file) for _, file, _ in rows} == bad
    assert all(split == "trainA" and file.startswith(str(tmp_path)) and reason for split, file, reason in rows)
    assert any("3 non-image files ignored" in line for line in lines)  # .DS_Store, Thumbs.db, README.txt
    assert any("4 unreadable, skipped and listed in" in line for line in lines)
    assert any("80 A (X)" in line for line in lines)
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")


def test_too_many_bad_files_stop_before_any_model_is_built(tmp_path, monkeypatch):
    write_images(tmp_path / "d" / "trainA", 4)
    broken_files(tmp_path / "d" / "trainA")
    write_images(tmp_path / "d" / "trainB", 4, seed=1)
    monkeypatch.setattr(CycleGAN, "__init__", lambda *a, **k: pytest.fail("a model was built"))
    with pytest.raises(DatasetError, match=r"4 of 8 images in trainA are unreadable \(50%, over "
                                           r"--max_bad_fraction 0.05\); see .*data_report.tsv"):
        train(tiny_config(dataset=str(tmp_path / "d"), output=str(tmp_path / "run")), **QUIET)
    (tmp_path / "e" / "trainA").mkdir(parents=True)
    write_images(tmp_path / "e" / "trainA", 2)
    broken_files(tmp_path / "e" / "trainB")
    with pytest.raises(DatasetError, match=r"trainB has no readable image \(4 unreadable\)"):
        train(tiny_config(dataset=str(tmp_path / "e"), output=str(tmp_path / "run2"), max_bad_fraction=1.0),
              **QUIET)
    for trainB, message in [(None, "trainB is missing"), ("empty", "trainB is empty")]:
        root = tmp_path / f"f{message[-3:]}"
        write_images(root / "trainA", 2)
        if trainB:
            (root / "trainB").mkdir()
        with pytest.raises(DatasetError, match=message):
            train(tiny_config(dataset=str(root), output=str(tmp_path / "run3")), **QUIET)


def test_decompression_bomb_is_refused_from_its_header(tmp_path):
    """5. A small PNG claiming 30000 x 30000 pixels: never decoded, memory stays bounded."""
    buffer = io.BytesIO()
    rgb(8, 8).save(buffer, format="PNG")
    bomb = bytearray(buffer.getvalue())
    bomb[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR width and height
    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")  # a valid chunk CRC, as a real bomb has
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(bomb))
    before, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    reason = check_image(str(path), max_pixels=8192 * 8192)
    assert reason is not None and reason.startswith("too large")
    assert "30000x30000" in reason or "900000000" in reason
    assert time.perf_counter() - started < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB; decoding needs 2.7 GB
    domains = folder_domains(_folder_with(tmp_path, path))
    good, bad = domains.train_a.checked(8192 * 8192)
    assert len(good) == 2 and [os.path.basename(f) for f, _ in bad] == ["bomb.png"]


def _folder_with(tmp_path, extra):
    root = tmp_path / "withbomb"
    write_images(root / "trainA", 2)
    write_images(root / "trainB", 2)
    os.replace(extra, root / "trainA" / extra.name)
    return root


# -- interrupted runs --------------------------------------------------------------------------------
TINY_ARGS = ["--netG", "resnet_1blocks", "--ngf", "8", "--ndf", "8", "--load_size", "36", "--crop_size", "32",
             "--pool_size", "4", "--n_samples", "0", "--print_freq", "1"]


def start(folder, run, *extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "tf_cyclegan.train", "--dataset", str(folder), "--output",
                             str(run), *TINY_ARGS, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def wait_for_line(process, text, timeout=240):
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    pytest.fail(f"never printed {text!r}: {lines} {process.stderr.read()[-2000:] if process.poll() is not None else ''}")


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_checkpoints_mid_epoch_and_the_next_run_resumes(image_folder, tmp_path, signum, code):
    run = tmp_path / "run"
    process = start(image_folder, run, "--n_epochs", "200", "--n_epochs_decay", "0")
    wait_for_line(process, "Starting a new run")
    time.sleep(4)  # tracing, then a few steps
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code, err[-2000:]
    assert f"{signal.Signals(signum).name}: stopped at step" in err and "Run the same command again to resume" in err
    saved = tf.train.latest_checkpoint(str(run / "checkpoints"))
    step = int(saved.rsplit("-", 1)[1])
    assert step > 0 and f"checkpoint {saved} saved" in err
    resumed = start(image_folder, run, "--n_epochs", "200", "--n_epochs_decay", "0", "--max_steps", str(step + 2))
    out, err = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, err[-2000:]
    assert f"Resuming from {saved} (step {step}," in out and f"Paused at step {step + 2}" in out


@pytest.mark.slow
def test_repeated_sigkill_never_loses_the_run(image_folder, tmp_path):
    """8. Killed at random moments while it trains and writes a checkpoint after every step: every restart
    resumes from a complete checkpoint, no temporary files stay behind, and the run finishes."""
    # 200 steps: long enough that the third kill still finds the run training on a fast machine (60 steps
    # were once done within the 4-7 s between a resume and the next kill).
    run, rng, resumed_at = tmp_path / "run", random.Random(0), []
    args = ["--n_epochs", "40", "--n_epochs_decay", "0", "--save_latest_freq", "1", "--keep_checkpoints", "2"]
    process = start(image_folder, run, *args)
    wait_for_line(process, "epoch 1/40 done")
    for _ in range(3):
        time.sleep(rng.uniform(0.2, 3.0))
        process.kill()
        process.communicate()
        process = start(image_folder, run, *args)
        line = wait_for_line(process, "Resuming from")[-1]
        resumed_at.append(int(line.split("(step ")[1].split(",")[0]))
        time.sleep(4)  # tracing
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    assert "Done: 200 steps" in out
    assert resumed_at == sorted(resumed_at) and resumed_at[0] >= 5, resumed_at
    leftovers = [p.name for p in (run / "checkpoints").iterdir() if "_temp" in p.name or ".tmp" in p.name]
    assert leftovers == []


# -- checkpoints -----------------------------------------------------------------------------------
@pytest.fixture
def two_checkpoints(cyclegan, tmp_path):
    """A copy of the shared run (checkpoints at steps 2 and 4, conftest.cyclegan) for one test to damage (the
    checkpoint state file names checkpoints relatively)."""
    from tf_cyclegan.core.layout import RunFolder

    copy = shutil.copytree(cyclegan["run"], tmp_path / "run")
    return dataclasses.replace(RunFolder(copy).read_config(), output=str(copy)), copy


def corrupt(path):
    data = bytearray(path.read_bytes())
    for i in range(0, len(data), 97):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_corrupted_latest_checkpoint_falls_back_with_a_warning(two_checkpoints):
    config, run = two_checkpoints
    corrupt(run / "checkpoints" / "ckpt-4.data-00000-of-00001")
    lines = []
    train(config.__class__(**{**config.__dict__, "max_steps": 5}), log=lines.append)
    warning = next(line for line in lines if line.startswith("warning:"))
    assert str(run / "checkpoints" / "ckpt-4") in warning and "trying the previous one" in warning
    assert any(f"Resuming from {run / 'checkpoints' / 'ckpt-2'} (step 2," in line for line in lines)


@pytest.mark.slow
def test_export_reads_the_checkpoint_that_training_would_resume_from(two_checkpoints):
    """The newest checkpoint is damaged and the state file is garbage: training resumes from ckpt-2, and
    so does export, with the same warning."""
    from tf_cyclegan.runtime.opening import load_generators

    _, run = two_checkpoints
    corrupt(run / "checkpoints" / "ckpt-4.data-00000-of-00001")
    (run / "checkpoints" / "checkpoint").write_text("not a checkpoint state")
    lines = []
    _, generators, _, path = load_generators(run, log=lines.append)
    assert path.endswith("ckpt-2") and set(generators) == {"a2b", "b2a"}
    assert any("ckpt-4 is unreadable" in line and "trying the previous one" in line for line in lines)


@pytest.mark.slow
def test_no_readable_checkpoint_stops_instead_of_starting_over(two_checkpoints):
    config, run = two_checkpoints
    for name in ("ckpt-2.index", "ckpt-4.index"):
        corrupt(run / "checkpoints" / name)
    (run / "checkpoints" / "checkpoint").write_text("garbage {{{")
    with pytest.raises(CheckpointError, match="no readable checkpoint in .*move the folder away to start over"):
        train(config, **QUIET)
    assert sorted(p.name for p in (run / "checkpoints").glob("ckpt-*.index")) == ["ckpt-2.index", "ckpt-4.index"]


@pytest.mark.slow
def test_stale_temporary_files_are_cleaned_and_a_lost_state_file_is_survived(two_checkpoints):
    config, run = two_checkpoints
    (run / "checkpoints" / "ckpt-6_temp").mkdir()
    (run / "checkpoints" / "ckpt-6_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half")
    (run / "checkpoints" / "checkpoint").unlink()
    lines = []
    train(config.__class__(**{**config.__dict__, "max_steps": 5}), log=lines.append)
    assert any("Removed 1 temporary file(s)" in line for line in lines)
    assert any("Resuming from" in line and "ckpt-4 (step 4," in line for line in lines)
    assert not (run / "checkpoints" / "ckpt-6_temp").exists()


@pytest.mark.slow
def test_a_full_disk_is_one_message_and_keeps_earlier_checkpoints(image_folder, tmp_path, monkeypatch):
    config = tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), n_samples=0, save_latest_freq=2,
                         max_steps=6)
    real_save, calls = tf.train.CheckpointManager.save, []

    def save_until_full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save_until_full)
    with pytest.raises(CheckpointError, match=r"could not write a checkpoint in .*checkpoints \(No space left on "
                                              r"device\); earlier checkpoints are intact \(latest: .*ckpt-2\)"):
        train(config, **QUIET)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)
    lines = []
    train(config, log=lines.append)
    assert any("ckpt-2 (step 2," in line for line in lines)


def test_a_read_only_output_is_named(image_folder, tmp_path, monkeypatch):
    """Root ignores file modes, so the test makes writes fail the way a read-only mount does."""
    from tf_cyclegan.core import layout

    def refuse(path, data):
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr(layout, "atomic_write", refuse)
    with pytest.raises(RunError, match=r"cannot write .*config.json: Read-only file system"):
        train(tiny_config(dataset=str(image_folder), output=str(tmp_path / "run")), **QUIET)


def test_an_output_that_cannot_be_created_is_named(image_folder, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(RunError, match=f"--output {blocker / 'run'}: cannot create it"):
        train(tiny_config(dataset=str(image_folder), output=str(blocker / "run")), **QUIET)


# -- non-finite losses -------------------------------------------------------------------------------
def state_of(model):
    """Everything a skipped step must leave alone: weights, Adam moments and counters, image pools."""
    variables = [w for net in (model.G, model.F, model.D_X, model.D_Y) for w in net.weights]
    variables += [*model.optimizer_G.variables, *model.optimizer_D.variables]
    variables += [model.pool_x.images, model.pool_x.count, model.pool_y.images, model.pool_y.count]
    return [np.array(v) for v in variables]


@pytest.mark.slow
def test_a_non_finite_step_changes_nothing_but_the_step():
    model = CycleGAN(tiny_config(), steps_per_epoch=100)
    x = tf.random.uniform((1, 32, 32, 3), -1, 1, seed=1)
    model.train_step(x, x)
    before = state_of(model)
    logs = model.train_step(x * np.nan, x)
    assert not bool(logs["finite"]) and not np.isfinite(float(logs["loss_cycle_x"]))
    after = state_of(model)
    assert len(before) > 100 and all(np.array_equal(a, b) for a, b in zip(before, after))
    assert int(model.step) == 2 and int(model.optimizer_G.iterations) == 1 and int(model.pool_x.count) == 1
    assert bool(model.train_step(x, x)["finite"]) and int(model.optimizer_G.iterations) == 2


def nan_at(steps):
    """Make the pipeline yield NaN images at the given 0-based steps (or from the first of them on)."""
    original = pipeline.Unpaired.train_dataset

    def patched(self, config, start_step=0):
        ds = original(self, config, start_step)
        bad = tf.constant(sorted(steps), tf.int64)

        def inject(i, batch):
            x, y = batch
            hit = tf.reduce_any(tf.equal(i + start_step, bad))
            return tf.where(hit, x * np.nan, x), y

        return ds.enumerate().map(inject)

    return patched


@pytest.mark.slow
def test_one_nan_step_is_skipped_and_training_goes_on(image_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline.Unpaired, "train_dataset", nan_at({2}))
    run = train(tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), n_samples=0), **QUIET)
    assert "step 3: non-finite" in capsys.readouterr().err
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run / "checkpoints")))
    assert reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == 10
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


@pytest.mark.slow
def test_persistent_nan_stops_and_names_the_last_good_checkpoint(image_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline.Unpaired, "train_dataset", nan_at(set(range(3, 100))))
    config = tiny_config(dataset=str(image_folder), output=str(tmp_path / "run"), n_samples=0, save_latest_freq=2,
                         max_nonfinite=3)
    with pytest.raises(RunError, match=r"stopped at step 6: 3 consecutive steps had non-finite losses .*last good "
                                       r"checkpoint: .*ckpt-2$"):
        train(config, **QUIET)
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("*.index")) == ["ckpt-2.index"]


def test_a_checkpoint_of_non_finite_weights_is_refused(tmp_path):
    model = CycleGAN(tiny_config(), steps_per_epoch=4)
    folder = checkpoints_module.CheckpointFolder(model.checkpoint, tmp_path, 3, model.step, log=lambda s: None)
    model.G.weights[0].assign(model.G.weights[0] * np.nan)
    with pytest.raises(CheckpointError, match="refusing to write a checkpoint at step 0: .*is not finite"):
        folder.save(0, model.G.weights)
    assert not list(tmp_path.glob("ckpt-*"))


# -- loading models ----------------------------------------------------------------------------------
def test_a_keras_file_with_a_lambda_layer_is_refused(tmp_path):
    import keras

    from tf_cyclegan.core.errors import TranslateError
    from tf_cyclegan.runtime.folders import translate_files

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Lambda(lambda t: t * 0 + 1)(inputs)  # arbitrary code: what an attacker ships
    path = tmp_path / "evil.keras"
    keras.Model(inputs, outputs).save(path)
    write_images(tmp_path / "in", 1)
    with pytest.raises(TranslateError, match="evil.keras: refused or unreadable Keras file .*Lambda"):
        translate_files(str(path), str(tmp_path / "in"), str(tmp_path / "out"), **QUIET)
    assert not (tmp_path / "out").exists()


def test_a_safe_keras_generator_translates(tmp_path):
    from tf_cyclegan.models.networks.generators import build_generator
    from tf_cyclegan.runtime.folders import translate_files

    path = tmp_path / "G.keras"
    build_generator("resnet_1blocks", ngf=4).save(path)
    write_images(tmp_path / "in", 2, size=(13, 9))
    written, skipped = translate_files(str(path), str(tmp_path / "in"), str(tmp_path / "out"), progress=False, **QUIET)
    assert written == 2 and skipped == [] and Image.open(tmp_path / "out" / "000.png").size == (13, 9)


def test_a_unet_saved_as_keras_keeps_its_size_multiple_and_translates_an_odd_size(tmp_path):
    """A U-Net needs sides that are multiples of 128; translate reads that from the loaded network itself."""
    from tf_cyclegan.models.networks.generators import build_generator, size_multiple_of
    from tf_cyclegan.runtime.folders import translate_files
    from tf_cyclegan.runtime.translators import keras_translator

    G = build_generator("unet_128", ngf=2)
    G.save(tmp_path / "unet.keras")
    write_images(tmp_path / "in", 1, size=(37, 50))
    written, _ = translate_files(str(tmp_path / "unet.keras"), str(tmp_path / "in"), str(tmp_path / "out"),
                                 progress=False, **QUIET)
    out = np.asarray(Image.open(tmp_path / "out" / "000.png"))
    image = np.asarray(Image.open(tmp_path / "in" / "000.png"))
    assert written == 1 and out.shape == (50, 37, 3) and size_multiple_of(G) == 128
    np.testing.assert_array_equal(out, keras_translator(G)(image[None])[0])


# -- flags -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module, argv, message", [
    ("train", ["--load_size", "-5"], "--load_size: must be at least 1"),
    ("train", ["--netG", "resnet_Xblocks"], "--netG: 'resnet_Xblocks' is not resnet_<N>blocks"),
    ("train", ["--max_bad_fraction", "1.5"], "--max_bad_fraction: must be between 0 and 1"),
    ("train", ["--batch_size", "0"], "--batch_size: must be at least 1"),
    ("export", ["--run", "r"], "--output is required"),
    ("export", ["--run", "r", "--output", "o", "--max_pixels", "0"], "--max_pixels: must be at least 1"),
    ("translate", ["--model", "m", "--input", "i", "--output", "o", "--direction", "sideways"], "invalid choice"),
    ("train", ["--model", "pix3pix"], "argument --model: invalid choice: 'pix3pix'"),
])
@pytest.mark.slow
def test_bad_flags_exit_2_with_one_line_and_no_traceback(module, argv, message):
    result = subprocess.run([sys.executable, "-m", f"tf_cyclegan.{module}", *argv], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr


def test_outputs_get_the_permissions_of_any_new_file(tmp_path):
    """Atomic writes go through temporaries, which must not keep tempfile's private 0600 / 0700."""
    import stat

    from tf_cyclegan.core.files import atomic_write
    from tf_cyclegan.core.layout import write_version

    old = os.umask(0o022)
    try:
        written = atomic_write(tmp_path / "run" / "config.json", "{}")
        _, version = write_version(tmp_path / "models" / "a2b", lambda tmp: (tmp / "saved_model.pb").write_bytes(b""))
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert stat.S_IMODE(version.stat().st_mode) == 0o755 and version.name == "1"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]  # no temporary left
