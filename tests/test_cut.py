"""CUT and FastCUT: the config, the anti-aliased networks, PatchNCE against a NumPy transcription, flip
equivariance, the decay epochs' resizing, resume, and the run through export, translate and evaluate."""

import collections
import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import write_images
from roundtrip import undelegated_ops
from PIL import Image

from tf_cyclegan.core.config import Config
from tf_cyclegan.models import model_class, patchnce
from tf_cyclegan.models.networks.discriminators import build_discriminator
from tf_cyclegan.models.networks.generators import build_generator, size_multiple_of
from tf_cyclegan.training.run import train


def cut_config(model="cut", **overrides) -> Config:
    """CUT's defaults, shrunk: a 1-block ResNet (NCE on the padded input, both down convs and the block),
    8 filters, 32x32 crops, 16 patches through 16-wide heads."""
    values = dict(netG="resnet_1blocks", ngf=8, ndf=8, load_size=36, crop_size=32, n_epochs=1, n_epochs_decay=1,
                  n_samples=2, print_freq=1, nce_layers="0,4,8,12", num_patches=16, netF_nc=16)
    return Config.for_model(model, **{**values, **overrides})


@pytest.fixture(scope="module")
def unpaired(tmp_path_factory):
    root = tmp_path_factory.mktemp("horses")
    for split, n, seed in [("trainA", 4, 1), ("trainB", 3, 2), ("testA", 2, 3), ("testB", 2, 4)]:
        write_images(root / split, n, size=(40, 36), seed=seed)
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory, unpaired):
    """A tiny CUT trained for its 8 steps (2 epochs of 4 images), with --eval_every."""
    output = tmp_path_factory.mktemp("runs") / "cut"
    lines = []
    train(cut_config(dataset=str(unpaired), output=str(output), eval_every=4, eval_images=2), log=lines.append)
    return output, lines


# -- config ----------------------------------------------------------------------------------------
def test_cut_and_fastcut_have_the_references_defaults():
    cut, fast = Config.for_model("cut"), Config.for_model("fastcut")
    for c in (cut, fast):
        assert (c.netG, c.netD, c.norm, c.init_type, c.init_gain, c.gan_mode, c.pool_size, c.lr, c.beta1) == (
            "resnet_9blocks", "basic", "instance", "xavier", 0.02, "lsgan", 0, 0.0002, 0.5)
        assert (c.nce_layers, c.num_patches, c.nce_T, c.netF_nc, c.lambda_GAN, c.batch_size) == (
            "0,4,8,12,16", 256, 0.07, 256, 1.0, 1)
        assert not c.no_antialias and not c.no_antialias_up and c.decay_resizes and c.errors() == []
    assert (cut.lambda_NCE, cut.nce_idt, cut.flip_equivariance, cut.n_epochs, cut.n_epochs_decay) == (
        1.0, True, False, 200, 200)
    assert (fast.lambda_NCE, fast.nce_idt, fast.flip_equivariance, fast.n_epochs, fast.n_epochs_decay) == (
        10.0, False, True, 150, 50)


def test_the_command_line_takes_cuts_boolean_flags_as_the_reference_does():
    from tf_cyclegan.train import parse_config

    assert not parse_config(["--model", "cut", "--nce_idt", "false"]).nce_idt
    assert parse_config(["--model", "cut"]).nce_idt and not parse_config(["--model", "fastcut"]).nce_idt
    fast = parse_config(["--model", "fastcut", "--flip_equivariance", "False", "--nce_idt"])
    assert (fast.flip_equivariance, fast.nce_idt, fast.lambda_NCE) == (False, True, 10.0)
    assert parse_config(["--model", "fastcut", "--no_antialias", "--no_antialias_up"]).no_antialias_up


@pytest.mark.parametrize("values, message", [
    (dict(model="cycle_gan", nce_idt=True), "--nce_idt: only with --model cut or fastcut"),
    (dict(model="pix2pix", no_antialias=True), "--no_antialias: only with --model cut or fastcut"),
    (dict(model="cut", nce_layers="0,4,x"), "--nce_layers: '0,4,x' is not a comma-separated list"),
    (dict(model="cut", nce_layers="4,0"), "--nce_layers: '4,0' must be increasing indices from 0 to 31"),
    (dict(model="cut", nce_layers="0,40"), "this resnet_9blocks has 32 layers"),
    (dict(model="cut", no_antialias=True, no_antialias_up=True, nce_layers="0,28"), "from 0 to 27"),
    (dict(model="cut", netG="unet_256"), "--netG unet_256: CUT's features come from a ResNet"),
    (dict(model="fastcut", pool_size=50), "--pool_size 50: CUT's discriminator sees the newest fakes only"),
    (dict(model="cut", num_patches=0), "--num_patches: must be at least 1"),
    (dict(model="cut", nce_T=0.0), "--nce_T: must be positive"),
])
def test_bad_cut_options_name_the_flag(values, message):
    model = values.pop("model")
    config = Config.for_model(model, **values)
    assert any(message in e for e in config.errors()), config.errors()


# -- networks --------------------------------------------------------------------------------------
def test_antialiased_networks_have_cyclegans_parameter_counts():
    plain, smooth = build_generator("resnet_9blocks"), build_generator("resnet_9blocks", antialias=True,
                                                                         antialias_up=True)
    assert plain.count_params() == smooth.count_params() == 11_378_179
    assert build_discriminator().count_params() == build_discriminator(antialias=True).count_params() == 2_764_737
    assert size_multiple_of(smooth) == 4
    x = tf.random.uniform([1, 36, 44, 3], -1, 1)
    assert smooth(x).shape == (1, 36, 44, 3)
    assert build_discriminator(ndf=8, antialias=True)(x).shape == build_discriminator(ndf=8)(x).shape


def test_no_antialias_gives_exactly_cyclegans_networks():
    c = cut_config(no_antialias=True, no_antialias_up=True)
    model = model_class("cut")(c, steps_per_epoch=4)
    keras.utils.set_random_seed(c.seed)
    reference = build_generator("resnet_1blocks", ngf=8, init_type="xavier")
    assert [(type(a), a.name) for a in model.G.layers] == [(type(b), b.name) for b in reference.layers]
    assert [layer.name for layer in model.D.layers] == [layer.name for layer in build_discriminator(ndf=8).layers]


def _blur_reference(x):
    """CUT's Downsample in NumPy: reflect-pad by one, [1,2,1] x [1,2,1] / 16 per channel, every second pixel."""
    taps = np.outer([1, 2, 1], [1, 2, 1]) / 16
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    h, w = x.shape[1:3]
    out = np.zeros((x.shape[0], (h - 1) // 2 + 1, (w - 1) // 2 + 1, x.shape[3]))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = np.einsum("bhwc,hw->bc", padded[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3], taps)
    return out


def _upsample_reference(x):
    """CUT's Upsample in NumPy: edge-pad by one, stride-2 transposed conv with [1,3,3,1] x [1,3,3,1] / 16,
    padding 2, then rows and columns 1 .. 2n (its [1:, 1:] and [:-1, :-1])."""
    taps = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 16
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    b, h, w, c = padded.shape
    full = np.zeros((b, 2 * (h - 1) + 4, 2 * (w - 1) + 4, c))
    for i in range(h):
        for j in range(w):
            full[:, 2 * i:2 * i + 4, 2 * j:2 * j + 4] += padded[:, i:i + 1, j:j + 1] * taps[None, :, :, None]
    out = full[:, 2:-2, 2:-2][:, 1:, 1:][:, :-1, :-1]
    return out


def test_blur_and_upsampling_are_cuts_filters():
    from tf_cyclegan.exporting.lite import PhaseUpsampling2D
    from tf_cyclegan.models.networks.layers import BilinearUpsampling2D, Blur2D, ReflectionPadding2D

    x = np.random.default_rng(0).normal(size=(2, 7, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(Blur2D()(ReflectionPadding2D(1)(x)), _blur_reference(x), atol=1e-6)
    expected = _upsample_reference(x)
    assert expected.shape == (2, 14, 20, 3)
    np.testing.assert_allclose(BilinearUpsampling2D()(x), expected, atol=1e-6)
    np.testing.assert_allclose(PhaseUpsampling2D()(x), expected, atol=1e-6)


# -- PatchNCE --------------------------------------------------------------------------------------
def _patch_nce_reference(q, k, T, all_negatives):
    """The reference's PatchNCELoss, one query at a time."""
    q, k = q.astype(np.float64), k.astype(np.float64)
    if all_negatives:
        q, k = q.reshape(1, -1, q.shape[-1]), k.reshape(1, -1, k.shape[-1])
    losses = []
    for b in range(q.shape[0]):
        for i in range(q.shape[1]):
            logits = [q[b, i] @ k[b, i]] + [-10.0 if j == i else q[b, i] @ k[b, j] for j in range(q.shape[1])]
            logits = np.array(logits) / T
            losses.append(np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[0])
    return np.array(losses)


@pytest.mark.parametrize("all_negatives", [False, True])
def test_patch_nce_matches_a_numpy_transcription(all_negatives):
    rng = np.random.default_rng(1)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    queries = [unit(rng.normal(size=(2, 5, 4))).astype(np.float32) for _ in range(2)]
    keys = [unit(q + rng.normal(size=q.shape)).astype(np.float32) for q in queries]
    for q, k in zip(queries, keys):
        np.testing.assert_allclose(patchnce.patch_nce(q, k, 0.07, all_negatives),
                                   _patch_nce_reference(q, k, 0.07, all_negatives), rtol=1e-5, atol=2e-6)
    expected = 10 * np.mean([_patch_nce_reference(q, k, 0.07, all_negatives).mean() for q, k in zip(queries, keys)])
    np.testing.assert_allclose(patchnce.patch_nce_loss(queries, keys, 10.0, 0.07, all_negatives), expected,
                               rtol=1e-5)


def test_patch_nce_takes_no_gradient_through_the_keys():
    q, k = (tf.Variable(tf.math.l2_normalize(tf.random.normal([1, 6, 4]), -1)) for _ in range(2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(patchnce.patch_nce(q, k))
    grad_q, grad_k = tape.gradient(loss, [q, k])
    assert grad_k is None and float(tf.reduce_max(tf.abs(grad_q))) > 0


def test_locations_are_distinct_shared_by_the_batch_and_the_heads_are_built_at_once():
    rng = tf.random.Generator.from_seed(0)
    features = [tf.random.normal([2, 6, 5, 3]), tf.random.normal([2, 2, 2, 7])]
    ids = patchnce.sample_locations(features, 8, rng)
    assert [len(set(i.numpy())) for i in ids] == [8, 4]  # min(num_patches, H * W), no repeats
    patches = patchnce.gather_patches(features, ids)
    flat = tf.reshape(features[0], [2, 30, 3]).numpy()
    np.testing.assert_array_equal(patches[0].numpy(), flat[:, ids[0].numpy()])
    H = patchnce.build_heads([3, 7], width=16)
    assert sorted(tuple(v.shape) for v in H.trainable_variables) == sorted(
        [(3, 16), (16,), (16, 16), (16,), (7, 16), (16,), (16, 16), (16,)])
    projected, raw = patchnce.project(H, patches), np.linalg.norm(H(patches)[1], axis=-1)
    np.testing.assert_allclose(tf.norm(projected[1], axis=-1), raw / (raw + 1e-7), rtol=1e-5)  # the reference's eps


# -- the step --------------------------------------------------------------------------------------
def _nce_by_hand(model, real_x, rng):
    """NCE(G(x), x) as CUT's calculate_NCE_loss computes it, from the draws of a copy of the model's RNG."""
    c = model.config
    flipped = bool(rng.uniform([]) < 0.5)
    fake = model.G(tf.reverse(real_x, [2]) if flipped else real_x, training=True)
    queries = [tf.reverse(q, [2]) if flipped else q for q in model._encode(fake)]
    keys = model._encode(real_x)
    ids = patchnce.sample_locations(keys, c.num_patches, rng)
    q, k = (patchnce.project(model.H, patchnce.gather_patches(f, ids)) for f in (queries, keys))
    return flipped, float(patchnce.patch_nce_loss(q, k, c.lambda_NCE, c.nce_T))


def test_flip_equivariance_flips_the_input_and_the_query_features_back():
    """FastCUT: both draws of the flip give the loss of CUT's recipe: queries of G(flip x) flipped back,
    keys of the unflipped x (not of G's own pass on the flipped input)."""
    model = model_class("fastcut")(cut_config("fastcut"), steps_per_epoch=4)
    real_x, real_y = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=3), tf.random.uniform([1, 32, 32, 3], -1, 1)
    seen = set()
    for seed in range(8):
        model.rng.reset_from_seed(seed)
        copy = tf.random.Generator.from_state(model.rng.state.numpy(), model.rng.algorithm)
        flipped, expected = _nce_by_hand(model, real_x, copy)
        losses = model._objective(real_x, real_y)
        np.testing.assert_allclose(float(losses["loss_NCE"]), expected, rtol=1e-5)
        assert float(losses["loss_NCE_Y"]) == 0.0
        seen.add(flipped)
    assert seen == {True, False}


def test_cuts_identity_nce_is_averaged_with_the_main_term():
    model = model_class("cut")(cut_config(), steps_per_epoch=4)
    x, y = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1), tf.random.uniform([1, 32, 32, 3], -1, 1, seed=2)
    losses = {k: float(v) for k, v in model._objective(x, y).items()}
    assert losses["loss_NCE_Y"] > 0
    np.testing.assert_allclose(losses["loss_G"], losses["loss_G_GAN"] + (losses["loss_NCE"] + losses["loss_NCE_Y"]) / 2,
                               rtol=1e-6)


def test_a_nonfinite_step_leaves_every_network_and_optimizer_alone():
    model = model_class("cut")(cut_config(), steps_per_epoch=4)
    x = tf.random.uniform([1, 32, 32, 3], -1, 1, seed=1)
    model.train_step(x, -x)
    state = lambda: [v.numpy().copy() for net in model.networks.values() for v in net.variables] + [  # noqa: E731
        v.numpy().copy() for o in model.optimizers.values() for v in o.variables]
    before = state()
    assert {"H", "optimizer_H"} <= set(model._checkpointed())
    logs = model.train_step(x * np.nan, -x)
    assert not bool(logs["finite"])
    for b, a in zip(before, state()):
        np.testing.assert_array_equal(a, b)


# -- data ------------------------------------------------------------------------------------------
def test_the_decay_epochs_see_images_resized_to_the_crop_size(unpaired):
    from tf_cyclegan.data.images import load_resized
    from tf_cyclegan.data.pipeline import Unpaired
    from tf_cyclegan.data.unpaired import folder_domains

    config = cut_config(dataset=str(unpaired), n_epochs=1, n_epochs_decay=2, serial_batches=True)
    data = Unpaired.from_domains(folder_domains(unpaired), config)
    batches = [x[0].numpy() for x, _ in data.train_dataset(config)]
    assert len(batches) == 12  # 3 epochs of 4 steps
    to_float = lambda a: a.astype(np.float32) / 127.5 - 1  # noqa: E731
    for step, image in enumerate(batches):
        resized = to_float(load_resized(data.x.items[step % 4], 32))
        whole = np.allclose(image, resized) or np.allclose(image, resized[:, ::-1])
        assert whole == (step >= 4), step  # epoch 1: load_size 36, then a random 32 crop
    resumed = [x[0].numpy() for x, _ in data.train_dataset(config, start_step=6)]
    np.testing.assert_array_equal(np.stack(resumed), np.stack(batches[6:]))
    cycle = Config(**{**json.loads(config.to_json()), "model": "cycle_gan", "nce_layers": "0,4,8,12,16",
                      "num_patches": 256, "netF_nc": 256})
    assert not cycle.decay_resizes


# -- the run and everything downstream -------------------------------------------------------------------
def test_a_run_logs_every_loss_samples_and_checkpoints_the_heads(run):
    output, lines = run
    saved = json.loads((output / "config.json").read_text())
    assert saved["model"] == "cut" and saved["nce_idt"] and saved["init_type"] == "xavier"
    grid = np.asarray(Image.open(output / "samples" / "epoch_002.png"))
    assert grid.shape == (2 * 32 + 4, 4 * 32 + 3 * 4, 3)  # 2 rows: x | G(x) || y | G(y)
    names = tf.train.load_checkpoint(str(output / "checkpoints" / "ckpt-8")).get_variable_to_shape_map()
    # (Each weight is saved once, under the first path to it: its optimizer's.)
    assert {k.split("/")[0] for k in names} >= {"optimizer_G", "optimizer_H", "optimizer_D", "rng"}
    moments = sum(1 for k in names if k.startswith("optimizer_H/_variables/"))
    assert moments == 2 * len(model_class("cut")(cut_config(), 4).H.trainable_variables)  # Adam's m and v
    assert not any(k.startswith(("F/", "pool")) for k in names)
    tags = {value.tag for file in (output / "logs").iterdir() for record in tf.data.TFRecordDataset(str(file))
            for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value}
    assert set(model_class("cut").LOSS_NAMES) <= tags and "lr" in tags
    assert "eval/a2b_input_ssim" in tags and not any(t.startswith("eval/b2a") or "cycle" in t for t in tags)


def test_the_export_is_one_direction_and_xnnpack_runs_the_whole_generator(run, tmp_path, unpaired):
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.runtime.folders import translate_files
    from tf_cyclegan.runtime.opening import open_translator

    output, _ = run
    written = export_run(ExportOptions(run=str(output), output=str(tmp_path / "exp")), log=lambda _: None)
    assert list(written) == ["a2b"] and not (tmp_path / "exp" / "b2a").exists()
    contract = json.loads((written["a2b"] / "tf_cyclegan.json").read_text())
    assert (contract["model"], contract["model_directions"]) == ("cut", ["a2b"])
    image = np.random.default_rng(0).integers(0, 256, (1, 36, 44, 3), dtype=np.uint8)
    keras_out = open_translator(written["a2b"])[0](image).astype(int)
    for variant in ("float32", "float16"):
        lite = written["a2b"] / f"a2b_{variant}.tflite"
        assert np.abs(open_translator(lite)[0](image).astype(int) - keras_out).max() <= 1
        left = undelegated_ops(lite)  # only the uint8 wrapper's resizing, padding and casts stay outside
        assert not {"CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "MEAN", "TANH", "RELU"} & set(left), left
    assert translate_files(str(tmp_path / "exp"), str(unpaired / "testA"), str(tmp_path / "t"), log=lambda _: None,
                           progress=False)[0] == 2


def test_the_lite_copy_of_the_antialiased_generator_has_no_resize_left_for_tflite(tmp_path):
    from tf_cyclegan.exporting.lite import lite_generator

    G = build_generator("resnet_1blocks", ngf=8, antialias=True, antialias_up=True)
    lite = lite_generator(G)
    fn = tf.function(lambda x: lite(x), input_signature=[tf.TensorSpec([1, None, None, 3])])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    (tmp_path / "g.tflite").write_bytes(converter.convert())
    assert undelegated_ops(tmp_path / "g.tflite", [1, 32, 32, 3]) == collections.Counter()


def test_evaluate_measures_the_one_direction(run, tmp_path):
    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    output, _ = run
    report = evaluate(EvaluateOptions(model=str(output), output=str(tmp_path / "eval"), no_fid=True),
                      log=lambda _: None)
    assert "b2a" not in report and report["a2b"]["images"] == 2 and 0 < report["a2b"]["input_ssim"] < 1
    assert "reconstruction" not in (tmp_path / "eval" / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cut", "fastcut"])
def test_resume_gives_the_weights_of_a_run_that_never_stopped(tmp_path, unpaired, model):
    """Through the decay epoch's resizing and FastCUT's flips: heads, their Adam and the RNG included."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    options = dict(dataset=str(unpaired), n_samples=0)
    train(cut_config(model, output=str(straight), max_steps=7, **options), log=lambda _: None)
    train(cut_config(model, output=str(stopped), max_steps=3, **options), log=lambda _: None)
    train(cut_config(model, output=str(stopped), max_steps=7, **options), log=lambda _: None)
    a, b = (tf.train.load_checkpoint(str(r / "checkpoints" / "ckpt-7")) for r in (straight, stopped))
    keys = [k for k in a.get_variable_to_shape_map() if not k.startswith(("_CHECKPOINTABLE", "save_counter", "config"))]
    assert any(k.startswith("optimizer_H") for k in keys)
    for k in keys:
        np.testing.assert_array_equal(a.get_tensor(k), b.get_tensor(k), err_msg=k)


def test_the_command_line_trains_fastcut(tmp_path, unpaired, capsys):
    from tf_cyclegan.train import main

    output = tmp_path / "fast"
    code = main(["--model", "fastcut", "--dataset", str(unpaired), "--output", str(output), "--netG",
                 "resnet_1blocks", "--ngf", "8", "--ndf", "8", "--load_size", "36", "--crop_size", "32",
                 "--nce_layers", "0,4,8", "--num_patches", "8", "--max_steps", "2", "--n_samples", "0"])
    assert code == 0
    saved = json.loads((output / "config.json").read_text())
    assert (saved["model"], saved["flip_equivariance"], saved["lambda_NCE"]) == ("fastcut", True, 10.0)
    out = capsys.readouterr().out
    assert "Paused at step 2 of 800 (--max_steps 2)" in out, out[-500:]


def _torch_nce(torch, G, mlps, src, ids, layers, T, weight, feat_k=None):
    """CUT's calculate_NCE_loss and PatchNCELoss, transcribed in PyTorch (batch 1, fixed locations); `feat_k`:
    the keys' features, held fixed (their projections get no gradient either way)."""
    tgt = G(src)
    feat_q = G.encode(tgt, list(layers))
    feat_k = G.encode(src, list(layers)) if feat_k is None else feat_k
    total = 0.0
    for f_q, f_k, mlp, i in zip(feat_q, feat_k, mlps, ids):
        def sample(f):
            x = mlp(f.permute(0, 2, 3, 1).flatten(1, 2)[:, torch.as_tensor(i), :].flatten(0, 1))
            return x.div(x.pow(2).sum(1, keepdim=True).pow(0.5) + 1e-7)
        q, k = sample(f_q), sample(f_k).detach()
        l_pos = (q * k).sum(1, keepdim=True)
        l_neg = q[None] @ k[None].transpose(2, 1)
        l_neg = l_neg.masked_fill(torch.eye(len(i), dtype=torch.bool)[None], -10.0).view(-1, len(i))
        out = torch.cat([l_pos, l_neg], dim=1) / T
        total = total + torch.nn.functional.cross_entropy(out, torch.zeros(len(out), dtype=torch.long)) * weight
    return total / len(layers)


def test_patch_nce_and_its_gradients_agree_with_cuts_pytorch_code(tmp_path):
    """The same weights and locations in CUT's PyTorch recipe: the loss; the heads' gradient; and G's gradient
    (through the translation and the encoder's queries; the keys held fixed) against central differences of
    PyTorch's loss in float64. PyTorch's own backward is not the reference for G: the CPU build of the test
    extra fails torch.autograd.gradcheck through this anti-aliased generator, and its gradient disagrees
    with the differences, which TensorFlow's matches to 1e-4."""
    torch = pytest.importorskip("torch")
    from tf_cyclegan.bench.torch_reference import INSTANCE, CUTGenerator
    from tf_cyclegan.models.torch_weights import load_reference_weights

    torch.manual_seed(0)
    reference = CUTGenerator(8, 1, INSTANCE).double()
    model = model_class("cut")(cut_config(), steps_per_epoch=4)
    load_reference_weights(model.G, {k: v.float().numpy() for k, v in reference.state_dict().items()},
                           "resnet_1blocks")
    with torch.no_grad():  # the float32 weights, in float64
        for v in reference.state_dict().values():
            v.copy_(v.float().double())
    dense = {layer.name: layer for layer in model.H.layers if isinstance(layer, keras.layers.Dense)}
    mlps = []
    for i in range(4):
        mlp = torch.nn.Sequential(torch.nn.Linear(*dense[f"mlp{i}_0"].kernel.shape), torch.nn.ReLU(),
                                  torch.nn.Linear(*dense[f"mlp{i}_2"].kernel.shape)).double()
        with torch.no_grad():
            for linear, name in ((mlp[0], f"mlp{i}_0"), (mlp[2], f"mlp{i}_2")):
                linear.weight.copy_(torch.from_numpy(dense[name].kernel.numpy().T))
                linear.bias.copy_(torch.from_numpy(dense[name].bias.numpy()))
        mlps.append(mlp)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    ids = patchnce.sample_locations(model._encode(x), 16, tf.random.Generator.from_seed(1))
    c = model.config
    with tf.GradientTape() as tape:
        keys = model._encode(x)
        queries = model._encode(model.G(x, training=True))
        q, k = (patchnce.project(model.H, patchnce.gather_patches(f, ids)) for f in (queries, keys))
        ours = patchnce.patch_nce_loss(q, k, c.lambda_NCE, c.nce_T)
    stem, head = model.G.get_layer("stem_conv").kernel, dense["mlp1_0"].kernel
    grad_stem, grad_head = tape.gradient(ours, [stem, head])
    src, numpy_ids = torch.from_numpy(x.transpose(0, 3, 1, 2)).double(), [i.numpy() for i in ids]
    with torch.no_grad():
        keys = reference.encode(src, [0, 4, 8, 12])
    loss = lambda: _torch_nce(torch, reference, mlps, src, numpy_ids, (0, 4, 8, 12), c.nce_T, c.lambda_NCE,  # noqa: E731
                              keys)
    expected = loss()
    expected.backward()
    np.testing.assert_allclose(float(ours), expected.item(), rtol=1e-5)
    torch_head = mlps[1][0].weight.grad.numpy().T
    np.testing.assert_allclose(grad_head.numpy(), torch_head, atol=1e-4 * np.abs(torch_head).max())
    weight = reference.model[1].weight
    for o, i, kh, kw in [(0, 0, 0, 0), (3, 1, 2, 4), (7, 2, 6, 1)]:
        with torch.no_grad():
            base = weight[o, i, kh, kw].item()
            weight[o, i, kh, kw] = base + 1e-7
            plus = loss().item()
            weight[o, i, kh, kw] = base - 1e-7
            minus = loss().item()
            weight[o, i, kh, kw] = base
        np.testing.assert_allclose(grad_stem.numpy()[kh, kw, i, o], (plus - minus) / 2e-7, rtol=5e-4)


@pytest.mark.slow
def test_cut_trains_on_two_replicas_and_resumes_on_one(tmp_path, unpaired):
    """MirroredStrategy over the two logical CPUs: each replica samples its own locations and flips; the
    heads' update is the mean over replicas; the checkpoint resumes on one device."""
    from test_distributed import mirrored

    from tf_cyclegan.data.unpaired import folder_domains

    output, lines = tmp_path / "two", []
    config = cut_config("fastcut", nce_idt=True, dataset=str(unpaired), output=str(output), batch_size=2,
                        n_samples=1)
    domains = folder_domains(unpaired)
    train(dataclasses.replace(config, max_steps=2), domains, log=lines.append, strategy=mirrored())
    assert any("MirroredStrategy: 2 replicas" in line for line in lines)
    train(dataclasses.replace(config, max_steps=3), domains, log=lines.append)
    assert any("Resuming from" in line and "(step 2" in line for line in lines)
    reader = tf.train.load_checkpoint(str(output / "checkpoints" / "ckpt-3"))
    assert all(np.isfinite(reader.get_tensor(k)).all() for k in reader.get_variable_to_shape_map()
               if k.startswith("optimizer_H/"))
