"""pix2pix: paired data, the model and its step, resume, export in both inference modes, evaluate, translate."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import DatasetError, RunError, TranslateError
from tf_cyclegan.data.paired import aligned_pairs, folder_pairs
from tf_cyclegan.data.pipeline import PairedData
from tf_cyclegan.data.sources import load_pairs
from tf_cyclegan.training.run import train


def pix2pix_config(**overrides) -> Config:
    """pix2pix's defaults, shrunk: a 1-block ResNet generator (the reference lets pix2pix use them; the
    U-Nets need sides of 128 or 256), batch norm and dropout as pix2pix's, 32x32 crops."""
    values = dict(netG="resnet_1blocks", ngf=8, ndf=8, load_size=36, crop_size=32, n_epochs=1, n_epochs_decay=1,
                  n_samples=2, print_freq=1)
    return Config.for_model("pix2pix", **{**values, **overrides})


def write_aligned(folder, n, size=(36, 36), seed=0, ext="png"):
    """n aligned images: A random, B = 255 - A, side by side (so that a pipeline can be checked exactly)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        a = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(folder / f"{i:03d}.{ext}")


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    root = tmp_path_factory.mktemp("facades")
    write_aligned(root / "train", 4, seed=1)
    write_aligned(root / "val", 3, seed=2)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory, aligned):
    """A tiny pix2pix trained for its 8 steps (2 epochs of 4 pairs), with --eval_every."""
    output = tmp_path_factory.mktemp("runs") / "p2p"
    lines = []
    train(pix2pix_config(dataset=str(aligned), output=str(output), eval_every=4, eval_images=2, crop_size=32),
          log=lines.append)
    return output, lines


# -- config ----------------------------------------------------------------------------------------
def test_pix2pix_has_the_references_defaults():
    c = Config.for_model("pix2pix")
    assert (c.netG, c.norm, c.use_dropout, c.gan_mode, c.pool_size, c.lambda_L1) == (
        "unet_256", "batch", True, "vanilla", 0, 100.0)
    assert (c.lr, c.beta1, c.n_epochs, c.n_epochs_decay, c.batch_size, c.load_size, c.crop_size) == (
        0.0002, 0.5, 100, 100, 1, 286, 256)
    assert c.errors() == []


def test_the_command_line_takes_the_models_defaults_and_no_dropout():
    from tf_cyclegan.train import parse_config

    c = parse_config(["--model", "pix2pix", "--dataset", "pix2pix/facades", "--direction", "BtoA"])
    assert (c.netG, c.norm, c.use_dropout, c.gan_mode, c.pool_size, c.direction) == (
        "unet_256", "batch", True, "vanilla", 0, "BtoA")
    assert not parse_config(["--model", "pix2pix", "--no_dropout"]).use_dropout
    resnet = parse_config(["--model", "pix2pix", "--netG", "resnet_9blocks", "--norm", "instance"])
    assert (resnet.netG, resnet.norm) == ("resnet_9blocks", "instance")
    assert parse_config([]).netG == "resnet_9blocks"  # CycleGAN's unchanged


def test_paired_folders_are_a_pix2pix_option():
    assert "--paired: only with --model pix2pix" in " ".join(Config(paired=True).errors())


# -- networks --------------------------------------------------------------------------------------
def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_the_networks_have_the_references_parameter_counts():
    """The reference's counts (PyTorch parameters; batch norm's running statistics are buffers there)."""
    from tf_cyclegan.models.networks.discriminators import build_discriminator
    from tf_cyclegan.models.networks.generators import build_generator

    assert trainable(build_generator("unet_256", norm="batch", use_dropout=True)) == 54_413_955
    assert trainable(build_generator("unet_128", norm="batch", use_dropout=True)) == 41_828_995
    D = build_discriminator(input_nc=6, norm="batch", name="D")
    assert trainable(D) == 2_768_705
    norms = [layer for layer in D.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert norms and all(n.momentum == pytest.approx(0.9) and n.epsilon == 1e-5 for n in norms)  # PyTorch's 0.1


# -- data ------------------------------------------------------------------------------------------
def test_aligned_pairs_crop_and_flip_both_halves_alike(aligned):
    config = pix2pix_config(preprocess="crop", dataset=str(aligned))
    data = PairedData.from_pairs(aligned_pairs(aligned), config)
    assert (data.steps_per_epoch, data.test.name, len(data.test)) == (4, "val", 3)
    batches = list(data.train_dataset(config).take(8))
    for real_x, real_y in batches:
        assert real_x.shape == real_y.shape == (1, 32, 32, 3)
        np.testing.assert_allclose(real_y.numpy(), -real_x.numpy(), atol=1e-6)  # B = 255 - A, same crop, same flip
    # The pipeline is a function of the step: starting at step 5 gives steps 5.. of a full pass.
    later = list(data.train_dataset(config, start_step=5).take(3))
    for (x1, _), (x2, _) in zip(batches[5:], later):
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())


def test_btoa_swaps_input_and_truth(aligned):
    config = pix2pix_config(preprocess="crop", direction="BtoA")
    data = PairedData.from_pairs(aligned_pairs(aligned), config)
    x, y = data.eval_images(config)
    a, b = PairedData.from_pairs(aligned_pairs(aligned), pix2pix_config()).eval_images(pix2pix_config())
    np.testing.assert_array_equal(x, b)
    np.testing.assert_array_equal(y, a)


def test_bad_pairs_are_reported_with_their_reason(tmp_path):
    root = tmp_path / "data"
    write_aligned(root / "train", 3)
    Image.new("RGB", (37, 20)).save(root / "train" / "odd.png")
    (root / "train" / "broken.jpg").write_bytes(b"not a jpeg")
    report = tmp_path / "report.tsv"
    pairs, n_bad = aligned_pairs(root).checked(10**8, 0.9, report)
    assert (len(pairs.train), n_bad) == (3, 2)
    text = report.read_text()
    assert "odd.png\todd width 37" in text and "broken.jpg\t" in text
    with pytest.raises(DatasetError, match="2 of 5 pairs in train are unusable"):
        aligned_pairs(root).checked(10**8, 0.05, report)


def test_folders_paired_by_name_list_files_without_a_partner(tmp_path):
    root = tmp_path / "data"
    for split, names in (("trainA", ["a", "b", "c", "only_a"]), ("trainB", ["a", "b", "c", "only_b"])):
        (root / split).mkdir(parents=True)
        for name in names:
            Image.new("RGB", (36, 36), (len(name) * 20, 0, 0)).save(root / split / f"{name}.png")
    Image.new("RGB", (40, 36)).save(root / "trainB" / "c.png")  # c's halves differ in size
    pairs = folder_pairs(root)
    assert [tuple(p.split("/")[-1] for p in item) for item in pairs.train.items] == [
        ("a.png", "a.png"), ("b.png", "b.png"), ("c.png", "c.png")]
    report = tmp_path / "report.tsv"
    checked, n_bad = pairs.checked(10**8, 0.5, report)
    text = report.read_text()
    assert len(checked.train) == 2 and n_bad == 3
    assert "only_a.png\tno partner" in text and "only_b.png\tno partner" in text
    assert "the A image is 36x36 and the B image 40x36" in text


def test_a_folder_of_unpaired_domains_says_to_pass_paired(image_folder):
    with pytest.raises(DatasetError, match="pass --paired if their files pair up by name"):
        load_pairs(str(image_folder))
    with pytest.raises(DatasetError, match="train/ .* is missing or holds no images|no such folder"):
        load_pairs(str(image_folder / "nowhere"))


def test_the_embedded_dataset_has_a_paired_form(tmp_path, monkeypatch):
    import functools

    from tf_cyclegan.data import seasons

    monkeypatch.setenv("TF_CYCLEGAN_CACHE", str(tmp_path))
    monkeypatch.setattr(seasons, "write_dataset", functools.partial(seasons.write_dataset, size=32, n_train=3,
                                                                    n_test=2))
    pairs = load_pairs("seasons")
    assert (pairs.name_a, pairs.name_b, len(pairs.train), len(pairs.test)) == ("summer", "winter", 3, 2)
    a, b = pairs.train.images(1)
    seed = seasons.split_seeds("trainA", 3)[1]
    np.testing.assert_array_equal(np.asarray(a), seasons.render_scene(seed, "summer", 32))
    np.testing.assert_array_equal(np.asarray(b), seasons.render_scene(seed, "winter", 32))


# -- training ----------------------------------------------------------------------------------------
def test_a_run_trains_logs_samples_and_evaluates(run):
    output, lines = run
    assert any("4 training pairs (A -> B); 4 steps per epoch" in line for line in lines)
    saved = json.loads((output / "config.json").read_text())
    assert saved["model"] == "pix2pix" and saved["use_dropout"] and saved["norm"] == "batch"
    grid = np.asarray(Image.open(output / "samples" / "epoch_002.png"))
    assert grid.shape == (2 * 32 + 4, 3 * 32, 3)  # 2 test pairs: input | translation | truth
    reader = tf.train.load_checkpoint(str(output / "checkpoints" / "ckpt-8"))
    names = reader.get_variable_to_shape_map()
    assert any(k.startswith("D/") for k in names) and not any(k.startswith(("F/", "pool")) for k in names)


@pytest.mark.slow
def test_resume_gives_the_weights_of_a_run_that_never_stopped(tmp_path, aligned):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(pix2pix_config(dataset=str(aligned), output=str(straight), max_steps=5, n_samples=0), log=lambda _: None)
    train(pix2pix_config(dataset=str(aligned), output=str(stopped), max_steps=2, n_samples=0), log=lambda _: None)
    train(pix2pix_config(dataset=str(aligned), output=str(stopped), max_steps=5, n_samples=0), log=lambda _: None)
    a, b = (tf.train.load_checkpoint(str(run / "checkpoints" / "ckpt-5")) for run in (straight, stopped))
    # (The saved config differs in --max_steps; the save counter in the number of saves.)
    keys = [k for k in a.get_variable_to_shape_map() if not k.startswith(("_CHECKPOINTABLE", "save_counter", "config"))]
    assert any("moving_mean" in k for k in keys) and any(k.startswith("dropout_seeds") for k in keys)
    for k in keys:
        np.testing.assert_array_equal(a.get_tensor(k), b.get_tensor(k), err_msg=k)


def test_a_nonfinite_step_leaves_weights_and_running_statistics_alone():
    from tf_cyclegan.models import model_class

    model = model_class("pix2pix")(pix2pix_config(), steps_per_epoch=4)
    x = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1)
    model.train_step(x, -x)
    before = [v.numpy().copy() for net in model.networks.values() for v in net.variables]
    logs = model.train_step(x * np.nan, -x)
    assert not bool(logs["finite"])
    after = [v.numpy() for net in model.networks.values() for v in net.variables]
    for b, a in zip(before, after):
        np.testing.assert_array_equal(a, b)


# -- export, evaluate, translate -------------------------------------------------------------------------
def test_the_export_holds_the_one_direction_and_says_so(run, tmp_path):
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run

    output, _ = run
    written = export_run(ExportOptions(run=str(output), output=str(tmp_path / "exp"), no_tflite=True),
                     log=lambda _: None)
    assert list(written) == ["a2b"] and not (tmp_path / "exp" / "b2a").exists()
    contract = json.loads((written["a2b"] / "tf_cyclegan.json").read_text())
    assert (contract["model"], contract["model_directions"], contract["inference_mode"]) == ("pix2pix", ["a2b"],
                                                                                          "train")
    assert "dropout on" in contract["inference_mode_means"] and contract["inference_modes_differ"]


def test_int8_is_calibrated_on_the_inputs_of_the_pairs(run, tmp_path):
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.runtime.opening import open_translator

    output, _ = run
    written = export_run(ExportOptions(run=str(output), output=str(tmp_path / "exp"), int8_selective=True),
                     log=lambda _: None)
    lite = written["a2b"] / "a2b_int8_selective.tflite"
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    assert open_translator(lite)[0](image).shape == image.shape
    with pytest.raises(TranslateError, match="exported in train mode"):
        open_translator(lite, mode="eval")


def test_btoa_exports_b2a(tmp_path, aligned):
    from tf_cyclegan.runtime.opening import load_generators

    output = tmp_path / "btoa"
    train(pix2pix_config(dataset=str(aligned), output=str(output), direction="BtoA", max_steps=1, n_samples=0),
          log=lambda _: None)
    _, generators, names, _ = load_generators(output, log=lambda _: None)
    assert list(generators) == ["b2a"]


def test_evaluate_measures_the_one_direction_against_the_truth(run, tmp_path):
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    output, _ = run
    tags = {value.tag for file in (output / "logs").iterdir() for record in tf.data.TFRecordDataset(str(file))
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value}
    assert {"eval/a2b_truth_psnr", "eval/a2b_psnr_gain", "loss_G_L1", "loss_D"} <= tags  # --eval_every, losses
    assert not any(tag.startswith("eval/b2a") or "cycle" in tag for tag in tags)
    report = evaluate(EvaluateOptions(model=str(output), output=str(tmp_path / "eval"), no_fid=True),
                      log=lambda _: None)
    assert "b2a" not in report and report["paired"]
    assert {"truth_psnr", "identity_psnr", "psnr_gain", "truth_ssim"} <= set(report["a2b"])
    assert "cycle_l1" not in report["a2b"]
    page = (tmp_path / "eval" / "index.html").read_text()
    assert "truth (B)" in page and "reconstruction" not in page
    assert np.asarray(Image.open(tmp_path / "eval" / "results.png")).shape[1] == 3 * 32
    eval_mode = evaluate(EvaluateOptions(model=str(output), output=str(tmp_path / "eval2"), no_fid=True, eval=True),
                         log=lambda _: None)
    assert eval_mode["a2b"]["truth_psnr"] != report["a2b"]["truth_psnr"]


def test_measure_one_direction_with_fid_and_kid():
    """pix2pix's evaluation: truth, identity baseline, FID and KID of the one direction; no cycle."""
    from tf_cyclegan.evaluation.measures import fid, measure

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8) for _ in range(2))
    features = lambda x: x.reshape(len(x), -1)[:, :6].astype(np.float64)  # noqa: E731
    results, images = measure(lambda x: 255 - x, None, a, b, paired=True, features=features)
    assert list(results) == ["a2b"] and "cycled" not in images["a2b"]
    m = results["a2b"]
    assert m["fid"] == round(fid(features(255 - a), features(b)), 3)
    assert m["fid_identity"] == round(fid(features(a), features(b)), 3) and "kid" in m and "cycle_l1" not in m
    perfect, _ = measure(lambda x: b, None, a, b, paired=True)
    assert perfect["a2b"]["truth_psnr"] == 100.0


def test_translate_uses_the_only_direction_and_refuses_a_mode_the_export_lacks(run, tmp_path, aligned):
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.runtime.folders import translate_files

    output, _ = run
    assert translate_files(str(output), str(aligned / "val"), str(tmp_path / "t"), log=lambda _: None,
                           progress=False)[0] == 3
    with pytest.raises(TranslateError, match="--direction b2a: the run .* has only a2b"):
        translate_files(str(output), str(aligned / "val"), str(tmp_path / "t2"), direction="b2a", log=lambda _: None)
    export_run(ExportOptions(run=str(output), output=str(tmp_path / "exp"), no_tflite=True), log=lambda _: None)
    with pytest.raises(TranslateError, match="exported in train mode; export the run again with --eval"):
        translate_files(str(tmp_path / "exp"), str(aligned / "val"), str(tmp_path / "t3"), mode="eval",
                        log=lambda _: None)


def test_datasets_of_the_other_kind_say_which_model_takes_them():
    from tf_cyclegan.data.sources import load_domains

    with pytest.raises(DatasetError, match="a paired dataset; train it with --model pix2pix"):
        load_domains("pix2pix/facades")
    with pytest.raises(DatasetError, match="TFDS datasets hold unpaired domains; pix2pix needs pairs"):
        load_pairs("cycle_gan/horse2zebra")
    with pytest.raises(DatasetError, match="--paired: only for a folder with trainA/ and trainB/"):
        load_pairs("seasons", paired_folders=True)


def test_a_run_with_dropout_from_before_its_streams_were_checkpointed_resumes(tmp_path):
    """Version 0.2 checkpointed no dropout streams (a CycleGAN with --use_dropout): such a run resumes."""
    from tf_cyclegan.models import model_class

    config = Config(netG="resnet_1blocks", ngf=8, ndf=8, crop_size=32, load_size=36, use_dropout=True)
    old = model_class("cycle_gan")(config, steps_per_epoch=4)
    x = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=2)
    old.train_step(x, -x)
    state = {k: v for k, v in old._checkpointed().items() if k != "dropout_seeds"}
    prefix = tf.train.Checkpoint(**state).save(str(tmp_path / "ckpt"))  # as CheckpointManager saves
    new = model_class("cycle_gan")(config, steps_per_epoch=4)
    new.restore(prefix)
    for a, b in zip(old.G.weights, new.G.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert new.step_count == 1


def test_cycle_gan_data_is_refused_by_pix2pix(tmp_path, image_folder):
    from tf_cyclegan.data.unpaired import folder_domains

    with pytest.raises(RunError, match="--model pix2pix trains on pairs"):
        train(pix2pix_config(output=str(tmp_path / "r")), folder_domains(image_folder), log=lambda _: None)


def test_the_command_line_trains_pix2pix(tmp_path, aligned, capsys):
    from tf_cyclegan.train import main

    data = tmp_path / "data"
    shutil.copytree(aligned, data)
    assert main(["--model", "pix2pix", "--dataset", str(data), "--output", str(tmp_path / "r"), "--netG",
                 "resnet_1blocks", "--ngf", "8", "--ndf", "8", "--load_size", "36", "--crop_size", "32",
                 "--n_epochs", "1", "--n_epochs_decay", "0", "--n_samples", "1"]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["model"], saved["gan_mode"], saved["pool_size"]) == ("pix2pix", "vanilla", 0)
    assert "Done: 4 steps" in capsys.readouterr().out


def test_train_mode_is_batch_norm_on_each_image_alone():
    """What PyTorch's train mode computes at the reference's test batch size of 1, for each image of a batch."""
    from tf_cyclegan.models.modes import inference_generator
    from tf_cyclegan.models.networks.generators import build_generator

    G = build_generator("unet_128", ngf=8, norm="batch", name="G")
    x = tf.random.uniform([2, 128, 128, 3], -1, 1, seed=3)
    batch = inference_generator(G, "train")(x).numpy()
    for i in range(2):
        np.testing.assert_allclose(batch[i:i + 1], G(x[i:i + 1], training=True).numpy(), atol=2e-5)


def test_train_mode_dropout_is_on_and_eval_mode_is_deterministic():
    from tf_cyclegan.models.modes import inference_generator
    from tf_cyclegan.models.networks.generators import build_generator

    G = build_generator("unet_128", ngf=8, norm="batch", use_dropout=True, name="G")
    x = tf.random.uniform([1, 128, 128, 3], -1, 1, seed=4)
    train_mode = inference_generator(G, "train")
    assert np.abs(train_mode(x).numpy() - train_mode(x).numpy()).max() > 1e-3
    np.testing.assert_array_equal(G(x, training=False).numpy(), G(x, training=False).numpy())
