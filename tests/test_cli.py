"""The train CLI as a user runs it: in-process for the happy path, in new processes for exact resume."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import mixed_size_folder

from tf_cyclegan.train import main

TINY = ["--netG", "resnet_1blocks", "--ngf", "8", "--ndf", "8", "--load_size", "36", "--crop_size", "32",
        "--pool_size", "4", "--n_epochs", "1", "--n_epochs_decay", "1", "--n_samples", "2", "--print_freq", "1"]


@pytest.mark.slow
def test_cli_trains_in_process(image_folder, tmp_path, capsys):
    assert main(["--dataset", str(image_folder), "--output", str(tmp_path / "run"), "--max_steps", "3", *TINY]) == 0
    out = capsys.readouterr().out
    assert "Data: folder" in out and "5 A (X) and 3 B (Y)" in out and "Paused at step 3 of 10" in out
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "checkpoints")).endswith("ckpt-3")


def test_missing_dataset_is_one_line_and_exit_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["--dataset", str(tmp_path / "nowhere"), "--output", str(tmp_path / "run"), *TINY])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0] and err[0].startswith("python -m tf_cyclegan.train: error:")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_help_lists_the_reference_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--n_epochs_decay", "--lambda_identity", "--pool_size", "--no_flip", "--netG", "--dataset"):
        assert flag in out


def help_of(capsys, *argv) -> dict[str, str]:
    """What `python -m tf_cyclegan.train ARGV --help` prints (argparse exits 0): each flag's entry, by name,
    on one line (argparse wraps at the terminal's width)."""
    with pytest.raises(SystemExit) as info:
        main([*argv, "--help"])
    assert info.value.code == 0
    entries = re.split(r"\n  --", capsys.readouterr().out.split("\noptions:\n")[1])[1:]
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


@pytest.mark.parametrize("argv, shown", [
    ([], dict(netG="(default: resnet_9blocks)", norm="(default: instance)", gan_mode="(default: lsgan)",
              pool_size="(default: 50)", init_type="(default: normal)", n_epochs="(default: 100)",
              model="--model cut --help shows CUT's (default: cycle_gan)")),
    (["--model", "pix2pix"], dict(netG="(default: unet_256)", norm="(default: batch)", gan_mode="(default: vanilla)",
                                  pool_size="(default: 0)", use_dropout="(default: on)")),
    (["--model=cut"], dict(init_type="(default: xavier)", pool_size="(default: 0)", n_epochs="(default: 200)",
                           n_epochs_decay="(default: 200)", nce_idt="(default: True)", lambda_NCE="(default: 1.0)",
                           netG="(default: resnet_9blocks)")),
    (["--model", "fastcut"], dict(init_type="(default: xavier)", n_epochs="(default: 150)",
                                  n_epochs_decay="(default: 50)", flip_equivariance="(default: True)",
                                  lambda_NCE="(default: 10.0)", nce_idt="(default: False)")),
])
def test_help_shows_the_chosen_models_defaults(capsys, argv, shown):
    entries = help_of(capsys, *argv)
    for name, text in shown.items():
        assert entries[name].endswith(text), entries[name]
    if argv != ["--model", "pix2pix"]:
        assert "(default: on)" not in entries["use_dropout"]


def test_help_of_each_model_states_its_catalog_defaults(capsys):
    from tf_cyclegan.core.catalog import MODEL_DEFAULTS

    for model in ("pix2pix", "cut", "fastcut"):
        entries = help_of(capsys, "--model", model)
        for name, value in MODEL_DEFAULTS[model].items():
            expected = "(default: on)" if value is True and name == "use_dropout" else f"(default: {value})"
            assert entries[name].endswith(expected), (model, entries[name])


def start_cli(*args) -> subprocess.Popen:
    """The train command in a new process, as a user starts it (no TF_CPP_MIN_LOG_LEVEL of their own)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen([sys.executable, "-m", "tf_cyclegan.train", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish_cli(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    for noise in ("cudart_stub", "cuInit", "absl::InitializeLog", "oneDNN custom operations"):
        assert noise not in err, err[:2000]  # TensorFlow's start-up lines are hidden
    return out


def run_cli(*args) -> str:
    return finish_cli(start_cli(*args))


def checkpoint_values(run):
    path = tf.train.latest_checkpoint(str(run / "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    names = [n for n in reader.get_variable_to_shape_map() if "save_counter" not in n and "config" not in n]
    return path, {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow
@pytest.mark.parametrize("case", ["crops", "sizes vary, plateau"])
def test_interrupted_and_resumed_run_ends_bitwise_equal_to_a_straight_run(image_folder, tmp_path, case):
    if case == "crops":
        folder, extra, stop, end, epoch, prefixes = image_folder, [], 3, 10, 1, ()
    else:  # images of their own sizes, one per step, and a learning rate that depends on the losses seen
        folder, extra, stop, end = mixed_size_folder(tmp_path / "mixed"), ["--preprocess", "none", "--lr_policy",
                                                                             "plateau"], 4, 6
        epoch, prefixes = 2, ("lr_plateau/", "pool_x/sizes")
    common = ["--dataset", str(folder), "--deterministic", *TINY, *extra]
    straight_run = start_cli(*common, "--output", str(tmp_path / "straight"))  # the two runs side by side
    first = run_cli(*common, "--output", str(tmp_path / "resumed"), "--max_steps", str(stop))
    finish_cli(straight_run)
    assert f"Paused at step {stop} of {end}" in first
    assert ("image sizes vary (up to 48x36 after --preprocess none): one image per step" in first) == bool(extra)
    second = run_cli(*common, "--output", str(tmp_path / "resumed"))
    assert "Resuming from" in second and f"ckpt-{stop} (step {stop}, epoch {epoch})" in second

    straight_path, straight = checkpoint_values(tmp_path / "straight")
    resumed_path, resumed = checkpoint_values(tmp_path / "resumed")
    assert straight_path.endswith(f"ckpt-{end}") and resumed_path.endswith(f"ckpt-{end}")
    assert straight.keys() == resumed.keys()
    for name, value in straight.items():  # weights, Adam moments, pools, RNG and counters
        assert np.array_equal(value, resumed[name]), f"{name} differs after resume"
    for prefix in ("optimizer_G/", "optimizer_D/", "pool_x/", "pool_y/", "rng/", "step/", *prefixes):
        assert any(name.startswith(prefix) for name in straight), prefix

    # The networks restore on their own from either checkpoint (as export will), to the same weights.
    from tf_cyclegan.models.networks.discriminators import build_discriminator
    from tf_cyclegan.models.networks.generators import build_generator
    nets = {}
    for path in (straight_path, resumed_path):
        G, D_Y = build_generator("resnet_1blocks", ngf=8), build_discriminator(ndf=8)
        tf.train.Checkpoint(G=G, D_Y=D_Y).read(path).expect_partial().assert_existing_objects_matched()
        nets[path] = [np.array(w) for w in G.weights + D_Y.weights]
    assert all(np.array_equal(a, b) for a, b in zip(nets[straight_path], nets[resumed_path]))


def test_first_line_of_a_graph_error_is_its_reason_not_the_preamble_or_the_stack():
    from tf_cyclegan.core.errors import first_line

    @tf.function
    def out_of_range(x):
        return tf.gather(x, [5])

    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        out_of_range(tf.constant([1, 2]))
    assert str(info.value).startswith("Graph execution error")
    assert first_line(info.value) == "indices[0] = 5 is not in [0, 2)"
    assert first_line(ValueError("one\ntwo")) == "one" and first_line(ValueError("")) == "ValueError"


def test_start_up_noise_is_hidden_and_every_other_line_kept(capfd):
    from tf_cyclegan.cli import STARTUP_NOISE, without_lines

    def start():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"I0000 00:00:1796198642.187885 2320 cudart_stub.cc:31] Could not find cuda drivers on your "
                    b"machine, GPU will not be used.\nE0000 00:00:1796198652.808486 2338 cuda_platform.cc:52] "
                    b"failed call to cuInit: INTERNAL: CUDA error\na warning that matters\n")

    without_lines(STARTUP_NOISE, start)
    assert capfd.readouterr().err == "a warning that matters\n"


def test_a_users_own_log_level_turns_the_filter_off(monkeypatch):
    from tf_cyclegan import cli

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.setattr(cli, "without_lines", lambda noise, fn: pytest.fail("filtered despite the user's level"))
    cli.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_on_a_machine_with_an_nvidia_device_the_cuda_lines_stay(monkeypatch, tmp_path):
    from tf_cyclegan import cli

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    (tmp_path / "nvidiactl").touch()
    monkeypatch.setattr(cli, "GPU_DEVICES", (str(tmp_path / "nvidiactl"),))
    monkeypatch.setattr(cli, "without_lines", lambda noise, fn: pytest.fail("CUDA's lines hidden on a GPU machine"))
    cli.quiet_tensorflow()
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
