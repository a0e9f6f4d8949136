"""Distillation (python -m tf_cyclegan.distill; tf_cyclegan.models.distiller): the losses on fixed tensors
against a NumPy transcription, the mapping layers, the config a student takes from its teacher, an exact
resume, a student of each teacher kind (CycleGAN run, pix2pix, CUT run, from_torch import) that exports and
translates, the width table, and one line for each bad teacher."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from conftest import QUIET, tiny_config

from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.distill import main as distill_main
from tf_cyclegan.distill import parse
from tf_cyclegan.models.networks import build_generator
from tf_cyclegan.models.teacher import feature_layers, student_layers, teacher_facts
from tf_cyclegan.training.distillation import student_defaults
from tf_cyclegan.training.run import train

STUDENT = dict(netG="mobile_resnet_3blocks", ngf=4, ndf=8, n_samples=2, print_freq=1)


def student_config(teacher, output, **values) -> Config:
    """A tiny student of `teacher` with the defaults the command gives it."""
    defaults = student_defaults(teacher_facts(str(teacher)), values.pop("teacher_model", None))
    return Config(**{**defaults, **STUDENT, "teacher": str(teacher), "output": str(output), **values})


def losses_by_hand(model, real_x, real_y) -> dict:
    """The Distiller's losses transcribed in NumPy from its networks' outputs (LSGAN, unpaired)."""
    c, found = model.config, dict.fromkeys(model.LOSS_NAMES, 0.0)
    for name, source in model.sources(c).items():
        x, y = (real_x, real_y) if source == "X" else (real_y, real_x)
        taught, *taught_features = (np.asarray(t) for t in model.teacher_features[name](x, training=False))
        fake, *features = model.student_features[name](x, training=True)
        mapped = [np.asarray(m) for m in model.maps[name](features, training=True)]
        fake = np.asarray(fake)
        D = model.critics[name]
        pred_real, pred_fake = np.asarray(D(y, training=True)), np.asarray(D(fake, training=True))
        found["loss_recon"] += c.lambda_recon * np.abs(fake - taught).mean()
        found["loss_distill"] += c.lambda_distill * sum(((m - t) ** 2).mean() for m, t in zip(mapped, taught_features))
        found["loss_GAN"] += c.lambda_GAN * ((pred_fake - 1) ** 2).mean()
        found["loss_D_real"] += ((pred_real - 1) ** 2).mean()
        found["loss_D_fake"] += (pred_fake ** 2).mean()
        found["loss_D"] += 0.5 * (((pred_real - 1) ** 2).mean() + (pred_fake ** 2).mean())
    return found


def test_the_losses_on_fixed_tensors_are_gan_compressions(cyclegan, tmp_path):
    from tf_cyclegan.models.distiller import Distiller

    config = student_config(cyclegan["run"], tmp_path / "s", lambda_distill=0.5, lambda_GAN=2.0)
    model = Distiller(config, steps_per_epoch=4, image_shape=(32, 32))
    real_x, real_y = (np.random.default_rng(s).uniform(-1, 1, (2, 32, 32, 3)).astype("float32") for s in (1, 2))
    found = {name: float(value) for name, value in model._objective(real_x, real_y).items()}
    expected = losses_by_hand(model, real_x, real_y)
    for name in model.LOSS_NAMES:
        assert found[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6), name
    assert found["loss_truth"] == 0.0 and found["loss_distill"] > 0 and set(model.maps) == {"G", "F"}
    # Two mappings per student, from its width (4 x 4 filters) to the teacher's (4 x 8).
    assert [tuple(w.shape) for w in model.maps["G"].weights[::2]] == [(1, 1, 16, 32)] * 2


def test_the_mapping_layers_are_gan_compressions():
    paper = build_generator("resnet_9blocks", ngf=8)
    assert feature_layers(paper) == ["down1_relu", "block2_add", "block5_add", "block8_add"]  # model.9/12/15/18
    mobile = build_generator("mobile_resnet_6blocks", ngf=4)
    assert feature_layers(mobile) == ["down1_relu", "block1_add", "block3_add", "block5_add"]
    assert feature_layers(build_generator("resnet_1blocks", ngf=4, antialias=True)) == ["down1_blur", "block0_add"]
    unet = build_generator("unet_128", ngf=4, norm="batch")
    assert feature_layers(unet) == ["level1_down_norm", "level2_skip"]
    assert [unet.get_layer(n).output.shape[1:] for n in feature_layers(unet)] == [(None, None, 8), (None, None, 16)]
    assert student_layers(mobile, 4) == feature_layers(mobile)
    assert student_layers(mobile, 2) == ["down1_relu", "block5_add"]
    inputs = keras.Input((None, None, 3))
    assert feature_layers(keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))) is None


def test_a_student_takes_its_teachers_data_and_discriminator(cyclegan, tmp_path):
    teacher = json.loads((cyclegan["run"] / "config.json").read_text())
    config, widths = parse(["--teacher", str(cyclegan["run"]), "--output", str(tmp_path / "s"), "--ngf", "16,8",
                            "--lambda_recon", "3"])
    assert widths == [16, 8] and config.ngf == 16 and config.model == "distill"
    for name in ("dataset", "crop_size", "load_size", "direction", "ndf", "gan_mode", "n_epochs"):
        assert getattr(config, name) == teacher[name], name
    assert (config.netG, config.norm, config.pool_size, config.lambda_recon, config.lambda_distill) == (
        "mobile_resnet_9blocks", "instance", 0, 3.0, 0.01)
    assert (config.teacher_model, config.teacher_directions) == ("cycle_gan", "a2b,b2a")
    # A pix2pix teacher that says nothing of its training (a from_torch import): GAN Compression's weights.
    pix2pix = student_defaults(dataclasses.replace(teacher_facts(str(cyclegan["run"])), kind="pix2pix",
                                                   directions=["b2a"], training={}))
    assert (pix2pix["lambda_distill"], pix2pix["lambda_L1"], pix2pix["gan_mode"], pix2pix["direction"]) == (
        1.0, 100.0, "vanilla", "BtoA")


@pytest.mark.slow
def test_distillation_resumes_bitwise(cyclegan, tmp_path):
    """Two steps, then two more in a new model, end with the weights of four steps in one go: students,
    mappings, discriminators and both optimizers."""
    import tensorflow as tf

    config = student_config(cyclegan["run"], tmp_path / "twice", max_steps=2, save_latest_freq=2)
    train(config, **QUIET)
    train(dataclasses.replace(config, max_steps=4), **QUIET)
    train(student_config(cyclegan["run"], tmp_path / "once", max_steps=4, save_latest_freq=2), **QUIET)
    twice, once = (tf.train.load_checkpoint(str(tmp_path / run / "checkpoints" / "ckpt-4"))
                   for run in ("twice", "once"))
    shapes = twice.get_variable_to_shape_map()
    assert shapes == once.get_variable_to_shape_map() and len(shapes) > 200
    assert sum(shape == [1, 1, 16, 32] for shape in shapes.values()) == 4 * 3  # 4 mappings, with Adam's m and v
    # Every tensor but the config (each run's own --output) and the object graph (Keras' layer names).
    for name in (n for n in shapes if not n.startswith(("config/", "_CHECKPOINTABLE_OBJECT_GRAPH"))):
        np.testing.assert_array_equal(twice.get_tensor(name), once.get_tensor(name), err_msg=name)


@pytest.mark.slow
def test_a_student_run_logs_every_loss_and_draws_input_teacher_student(cyclegan, tmp_path):
    import tensorflow as tf
    from PIL import Image

    from tf_cyclegan.models.distiller import LOSS_NAMES

    run = train(student_config(cyclegan["run"], tmp_path / "s", max_dataset_size=3, n_epochs=1, n_epochs_decay=0,
                               eval_every=3, eval_images=2), **QUIET)
    tags = {value.tag for file in (run / "logs").iterdir() for record in tf.data.TFRecordDataset(str(file))
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value}
    assert set(LOSS_NAMES) <= tags and {"eval/a2b_cycle_psnr", "eval/b2a_truth_psnr"} <= tags
    grid = np.asarray(Image.open(next((run / "samples").iterdir())))
    assert grid.shape[1] == 2 * 3 * 32 + 3 * 4  # two directions of input | teacher | student, 12 pixels apart


@pytest.mark.parametrize("bad, message", [
    ("a2b/1/a2b_float32.tflite", "a .tflite file holds no Keras generator to distill from"),
    ("a2b/1/a2b.onnx", "a .onnx file holds no Keras generator"),
    ("", "its SavedModel, TFLite and ONNX files hold no Keras generator"),
    ("a2b", "its SavedModel, TFLite and ONNX files hold no Keras generator"),
    ("missing", "no such file or folder")])
def test_a_teacher_without_keras_generators_gets_one_line(cyclegan, bad, message, capsys):
    teacher = cyclegan["root"] / bad
    with pytest.raises(SystemExit) as stopped:
        distill_main(["--teacher", str(teacher), "--output", "unused"])
    err = capsys.readouterr().err.strip()
    assert stopped.value.code == 2 and len(err.splitlines()) == 1 and message in err and str(teacher) in err


def test_a_teacher_for_other_channels_or_layers_gets_one_line(tmp_path):
    inputs = keras.Input((None, None, 1))
    gray = keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(inputs))
    gray.save(tmp_path / "gray.keras")
    with pytest.raises(RunError, match="maps 1 to 3 channels; the data's images have 3"):
        train(student_config(tmp_path / "gray.keras", tmp_path / "s1", dataset="seasons", crop_size=32, load_size=36),
              **QUIET)
    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Conv2D(3, 1, activation="tanh")(inputs)).save(tmp_path / "plain.keras")
    with pytest.raises(RunError, match="neither a ResNet's nor a U-Net's layers.*--lambda_distill 0"):
        train(student_config(tmp_path / "plain.keras", tmp_path / "s2", crop_size=32, load_size=36), **QUIET)


@pytest.mark.slow
def test_a_resume_with_a_changed_teacher_is_refused(cyclegan, tmp_path):
    import shutil

    teacher = tmp_path / "teacher"
    shutil.copytree(cyclegan["run"], teacher)
    config = student_config(teacher, tmp_path / "s", max_steps=1)
    train(config, **QUIET)
    train(tiny_config(dataset="seasons", output=str(teacher), max_steps=5, save_latest_freq=5, eval_every=2,
                      eval_images=6), **QUIET)  # the teacher goes on training
    with pytest.raises(RunError, match="^--teacher .*teacher: its weights differ from those this run started with"):
        train(dataclasses.replace(config, max_steps=2), **QUIET)


@pytest.mark.parametrize("values, message", [
    (dict(model="cycle_gan", lambda_recon=3.0), "--lambda_recon: only for distillation"),
    (dict(pool_size=5), "--pool_size 5: distillation's discriminator sees the newest translations"),
    (dict(netG="unet_128"), "a student's features come from the ResNet layout"),
    (dict(teacher_directions="a2b,a2b"), "--teacher_directions"),
    (dict(teacher=None), "--teacher: distillation needs a teacher")])
def test_bad_distillation_settings_name_their_flag(values, message):
    config = Config.for_model("distill", teacher="t", crop_size=128, load_size=143)
    errors = dataclasses.replace(config, **values).errors()
    assert any(message in e for e in errors), errors


def exports_and_translates(run, tmp_path, directions, size=32) -> dict:
    """Export a student run (SavedModel and float32 TFLite) and translate an image with each direction as
    translate does; {direction: the contract}."""
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.runtime.opening import open_model

    written = export_run(ExportOptions(run=str(run), output=str(tmp_path / "export")), **QUIET)
    assert list(written) == directions
    image = np.random.default_rng(0).integers(0, 256, (1, size + 4, size, 3), dtype=np.uint8)
    for direction in directions:
        for variant in ("saved_model", "float32"):
            out = open_model(tmp_path / "export", variant=variant).direction(direction).translate(image)
            assert out.shape == image.shape and out.dtype == np.uint8
    return {d: json.loads((written[d] / "tf_cyclegan.json").read_text()) for d in directions}


def test_a_cycle_gan_student_exports_and_translates_both_ways(cyclegan, tmp_path):
    run = train(student_config(cyclegan["run"], tmp_path / "s", max_steps=1), **QUIET)
    contracts = exports_and_translates(run, tmp_path, ["a2b", "b2a"])
    assert contracts["a2b"]["model"] == "distill" and contracts["a2b"]["training_config"]["netG"] == STUDENT["netG"]


@pytest.mark.slow
def test_a_pix2pix_student_of_a_keras_unet_learns_on_pairs(tmp_path, capsys):
    """A bare .keras U-Net taught as a pix2pix teacher (--teacher_model pix2pix): paired data, a conditional
    discriminator, the L1 to the truth, and the U-Net's two quarter-size mapping layers."""
    keras.utils.set_random_seed(0)
    build_generator("unet_128", ngf=4, norm="batch").save(tmp_path / "unet.keras")
    assert distill_main(["--teacher", str(tmp_path / "unet.keras"), "--teacher_model", "pix2pix", "--output",
                         str(tmp_path / "s"), "--dataset", "seasons", "--crop_size", "128", "--load_size", "128",
                         "--netG", "mobile_resnet_2blocks", "--ngf", "4", "--ndf", "4", "--max_steps", "2",
                         "--print_freq", "1"]) == 0
    assert "Teacher:" in capsys.readouterr().out
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert (config["teacher_model"], config["lambda_distill"], config["gan_mode"]) == ("pix2pix", 1.0, "vanilla")
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(tmp_path / "s" / "checkpoints" / "ckpt-2"))
    shapes = reader.get_variable_to_shape_map()
    kernels = [shape for shape in shapes.values() if shape[:3] == [1, 1, 16]]  # each with Adam's m and v
    # The mappings to the U-Net's 8 and 16 channels; 16 -> 16 also for the student's four pointwise convs.
    assert kernels.count([1, 1, 16, 8]) == 3 and kernels.count([1, 1, 16, 16]) == 3 * (1 + 4)
    assert [4, 4, 6, 4] in shapes.values()  # the conditional discriminator's first kernel: (input, output) pairs
    exports_and_translates(tmp_path / "s", tmp_path, ["a2b"], size=128)


@pytest.mark.slow
def test_a_cut_student_learns_the_one_direction(tmp_path):
    cut = Config.for_model("cut", netG="resnet_1blocks", ngf=8, ndf=8, load_size=36, crop_size=32, num_patches=16,
                           netF_nc=16, nce_layers="0,4,8,12", output=str(tmp_path / "cut"), max_steps=1)
    train(cut, **QUIET)
    run = train(student_config(tmp_path / "cut", tmp_path / "s", max_steps=1), **QUIET)
    config = json.loads((run / "config.json").read_text())
    assert (config["teacher_model"], config["teacher_directions"]) == ("cut", "a2b")
    assert exports_and_translates(run, tmp_path, ["a2b"])["a2b"]["model_directions"] == ["a2b"]


@pytest.mark.slow
def test_a_from_torch_import_teaches_its_direction(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is in the test extra")
    from tf_cyclegan.bench.torch_reference import INSTANCE, ResnetGenerator
    from tf_cyclegan.from_torch import main as from_torch_main

    torch.manual_seed(0)
    torch.save(ResnetGenerator(8, 2, INSTANCE).state_dict(), tmp_path / "winter2summer.pth")
    assert from_torch_main([str(tmp_path / "winter2summer.pth"), "--netG", "resnet_2blocks", "--ngf", "8",
                            "--output", str(tmp_path / "imported"), "--name", "b2a", "--no_tflite"]) == 0
    version = tmp_path / "imported" / "b2a" / "1"
    assert json.loads((version / "tf_cyclegan.json").read_text())["keras"]["file"] == "b2a.keras"
    run = train(student_config(tmp_path / "imported", tmp_path / "s", dataset="seasons", crop_size=32, load_size=36,
                               max_steps=1), **QUIET)
    config = json.loads((run / "config.json").read_text())
    assert (config["teacher_directions"], config["direction"]) == ("b2a", "BtoA")
    exports_and_translates(run, tmp_path, ["b2a"])


@pytest.mark.slow
def test_several_widths_write_a_table_to_choose_from(cyclegan, tmp_path, capsys):
    import csv

    assert distill_main(["--teacher", str(cyclegan["run"]), "--output", str(tmp_path / "sweep"), "--ngf", "4,8",
                         "--netG", "mobile_resnet_2blocks", "--max_steps", "1", "--eval_images", "2"]) == 0
    with open(tmp_path / "sweep" / "widths.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["ngf"], r["direction"]) for r in rows] == [("4", "a2b"), ("4", "b2a"), ("8", "a2b"), ("8", "b2a")]
    assert float(rows[0]["g_macs"]) < float(rows[2]["g_macs"]) and float(rows[0]["m_parameters"]) < float(
        rows[2]["m_parameters"])
    assert all(float(r["tflite_ms"]) > 0 and 0 < float(r["truth_psnr"]) < 60 and float(r["teacher_psnr"]) > 0
               for r in rows)
    assert "Students by width" in capsys.readouterr().out
    assert (tmp_path / "sweep" / "ngf4" / "config.json").exists() and (tmp_path / "sweep" / "ngf8").is_dir()


def test_the_command_answers_help_and_reads_its_teacher_without_tensorflow(cyclegan):
    import subprocess
    import sys

    code = ("import sys; from tf_cyclegan.distill import parse; "
            f"config, widths = parse(['--teacher', {str(cyclegan['run'])!r}, '--output', 'x']); "
            "print(config.teacher_model, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.split() == ["cycle_gan", "False"], result.stderr[-2000:]
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.distill", "--help"], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0 and "--teacher" in result.stdout and "--lambda_distill" in result.stdout
    assert "(default: mobile_resnet_9blocks)" in " ".join(result.stdout.split())  # the student's, not train's
