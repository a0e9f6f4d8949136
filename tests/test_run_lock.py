"""One training at a time in a run folder (tf_cyclegan.training.lock): a second train or distill into a
folder that a training holds exits with one line naming the folder and the holder's PID and changes nothing
there; the kernel drops the lock of a SIGKILLed training, so the next one resumes at once; a run that ends
lets go; and reading a run while it trains (export, translate) still works."""

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import QUIET, tiny_config, write_images

from tf_cyclegan.core.errors import DatasetError, RunError
from tf_cyclegan.core.layout import RunFolder
from tf_cyclegan.distill import main as distill_main
from tf_cyclegan.train import parse_config
from tf_cyclegan.training.lock import hold_folder
from tf_cyclegan.training.run import train

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
TINY = ["--netG", "resnet_1blocks", "--ngf", "8", "--ndf", "8", "--load_size", "36", "--crop_size", "32",
        "--pool_size", "4", "--n_samples", "0", "--print_freq", "1"]
STUDENT = ["--netG", "mobile_resnet_3blocks", "--ngf", "4", "--ndf", "8", "--n_samples", "0", "--print_freq", "1"]


def in_use(folder, pid) -> str:
    return (f"{folder} is in use by another training (PID {pid}); wait for it to finish, stop it, or pass "
            "another --output")


def snapshot(folder: Path) -> dict:
    """Every file and folder under `folder`: its modification time and bytes."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def hold(folder: Path) -> subprocess.Popen:
    """Another process that holds `folder` as a training does, until it is killed."""
    code = ("import sys, time; from pathlib import Path; from tf_cyclegan.training.lock import hold_folder\n"
            "with hold_folder(Path(sys.argv[1]), Path(sys.argv[1]) / '.lock'):\n"
            "    print('held', flush=True); time.sleep(600)")
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, env=ENV)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_train_or_distill_into_a_held_folder_is_one_line_and_changes_nothing(cyclegan, tmp_path, capsys):
    run = Path(shutil.copytree(cyclegan["run"], tmp_path / "run"))
    student = tmp_path / "student"
    student.mkdir()
    with hold_folder(run, RunFolder(run).lock), hold_folder(student, RunFolder(student).lock):
        before = snapshot(run), snapshot(student)
        result = subprocess.run([sys.executable, "-m", "tf_cyclegan.train", "--dataset", "seasons", "--output",
                                 str(run), "--max_steps", "6", *TINY], capture_output=True, text=True, timeout=240,
                                env=ENV, check=False)
        distilled = []
        for widths in ("4", "4,8"):  # one student in OUTPUT, or one per width in OUTPUT/ngf<N>/
            with pytest.raises(SystemExit) as exit_:
                distill_main(["--teacher", str(cyclegan["run"]), "--output", str(student), *STUDENT, "--ngf", widths,
                              "--max_steps", "1"])
            distilled.append((exit_.value.code, capsys.readouterr().err.strip().splitlines()))
        after = snapshot(run), snapshot(student)
    assert after == before  # the holder's .lock (with its PID) included: opened without truncating
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"python -m tf_cyclegan.train: error: {in_use(run, os.getpid())}"]
    assert distilled == [(1, [f"python -m tf_cyclegan.distill: error: {in_use(student, os.getpid())}"])] * 2
    assert not RunFolder(run).lock.exists() and not RunFolder(student).lock.exists()  # removed as we let go


def test_a_run_holds_its_folder_while_it_trains_and_lets_go_at_its_end(image_folder, tmp_path):
    run = RunFolder(tmp_path / "run")
    held = []

    def look(model):  # called inside train(), once the model is restored
        held.append(run.lock.read_text().split()[0])
        with pytest.raises(RunError, match=f"^{re.escape(in_use(run.root, os.getpid()))}$"), \
                hold_folder(run.root, run.lock):
            pass

    config = tiny_config(dataset=str(image_folder), output=str(run.root), max_steps=2, n_samples=0)
    train(config, model_ready=look, **QUIET)
    assert held == [str(os.getpid())] and not run.lock.exists()
    lines = []
    train(dataclasses.replace(config, max_steps=3), log=lines.append)
    assert any(line.startswith("Resuming from") and "(step 2," in line for line in lines), lines
    assert "Paused at step 3" in lines[-1] and not run.lock.exists()


def test_a_refused_start_leaves_no_folder_behind(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        train(tiny_config(dataset=str(tmp_path / "nowhere"), output=str(tmp_path / "new" / "run")), **QUIET)
    assert not (tmp_path / "new" / "run").exists()


def test_a_run_reads_while_another_process_trains_it(cyclegan, tmp_path, capsys):
    """Export and translate only read a run folder: they neither take nor mind its lock."""
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.translate import main as translate_main

    run = Path(shutil.copytree(cyclegan["run"], tmp_path / "run"))
    write_images(tmp_path / "in", 1, size=(32, 32))
    holder = hold(run)
    try:
        export_run(ExportOptions(run=str(run), output=str(tmp_path / "models"), no_tflite=True), **QUIET)
        assert translate_main(["--model", str(run), "--input", str(tmp_path / "in"), "--output",
                               str(tmp_path / "out")]) == 0
        assert (tmp_path / "models" / "a2b" / "1" / "saved_model.pb").exists()
        assert (tmp_path / "out" / "000.png").exists()
        assert RunFolder(run).lock.read_text().split()[0] == str(holder.pid)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_a_sigkilled_training_lets_the_next_one_resume_at_once(image_folder, tmp_path):
    run = RunFolder(tmp_path / "run")
    argv = ["--dataset", str(image_folder), "--output", str(run.root), *TINY, "--n_epochs", "200",
            "--n_epochs_decay", "0", "--save_latest_freq", "1"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen([sys.executable, "-m", "tf_cyclegan.train", *argv], stdout=log, stderr=log, env=ENV)
    try:
        deadline = time.time() + 240
        while not (run.checkpoints / "checkpoint").exists():  # the checkpoint state file: a step is saved
            assert first.poll() is None and time.time() < deadline, (tmp_path / "first.log").read_text()[-2000:]
            time.sleep(0.2)
        with pytest.raises(RunError) as refused:
            train(parse_config(argv), **QUIET)
        assert str(refused.value) == in_use(run.root, first.pid)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert run.lock.exists()  # left behind by the killed run, but nobody holds it
    import tensorflow as tf

    step = int(tf.train.latest_checkpoint(str(run.checkpoints)).rsplit("-", 1)[1])
    lines = []
    train(parse_config([*argv, "--max_steps", str(step + 1)]), log=lines.append)
    assert any(line.startswith("Resuming from") and f"(step {step}," in line for line in lines), lines
    assert f"Paused at step {step + 1}" in lines[-1] and not run.lock.exists()


@pytest.mark.slow
def test_a_distillation_resumes_at_once_after_its_holder_is_sigkilled(cyclegan, tmp_path, capsys):
    student = tmp_path / "student"
    argv = ["--teacher", str(cyclegan["run"]), "--output", str(student), *STUDENT]
    assert distill_main([*argv, "--max_steps", "1"]) == 0
    capsys.readouterr()
    holder = hold(student)
    try:
        with pytest.raises(SystemExit) as exit_:
            distill_main([*argv, "--max_steps", "2"])
        assert exit_.value.code == 1
        assert capsys.readouterr().err.strip().splitlines() == [
            f"python -m tf_cyclegan.distill: error: {in_use(student, holder.pid)}"]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert distill_main([*argv, "--max_steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "Resuming from" in out and "(step 1," in out and "Paused at step 2" in out
    assert not RunFolder(student).lock.exists()
