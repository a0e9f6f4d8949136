"""Import of reference PyTorch generators: the reference architecture is rebuilt here in PyTorch, given random
weights, saved with the reference's key names, converted, and must give the same outputs."""

import pickle
import sys
import zipfile

import numpy as np
import pytest

from tf_cyclegan.core.errors import ConversionError
from tf_cyclegan.from_torch import main
from tf_cyclegan.models.torch_weights import convert, read_state_dict

torch = pytest.importorskip("torch", reason="PyTorch is in the test extra; the safe reader is tested below too")
from tf_cyclegan.bench.torch_reference import (  # noqa: E402
    BATCH,
    INSTANCE,
    NONE,
    CUTGenerator,
    ResnetGenerator,
    UnetGenerator,
)


def randomised(net, seed):
    """N(0, 0.02) weights as the reference's init, plus non-trivial batch-norm parameters and statistics;
    CUT's fixed filters (.filt buffers) are kept."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.dtype.is_floating_point and not name.endswith(".filt"):
                if name.endswith("running_var"):
                    tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
                elif name.endswith("weight") and tensor.ndim == 1:
                    tensor.copy_(1 + 0.1 * torch.randn(tensor.shape, generator=generator))
                else:
                    tensor.copy_(0.02 * torch.randn(tensor.shape, generator=generator))
    return net.eval()


def assert_same_outputs(net, generator, size, seed=0):
    x = np.random.default_rng(seed).uniform(-1, 1, (1, *size, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    ours = np.asarray(generator(x, training=False))
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    return float(np.abs(ours - expected).max())


def assert_serves_like(reference, export, image):
    """The export's uint8 serving signature translates `image` as PyTorch does, within one level."""
    import tensorflow as tf

    served = tf.saved_model.load(str(export)).signatures["serving_default"](images=tf.constant(image))
    with torch.no_grad():
        expected = reference(torch.from_numpy(image.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1))
    expected = np.clip(np.round((expected.numpy().transpose(0, 2, 3, 1) + 1) * 127.5), 0, 255)
    assert np.abs(served["translated"].numpy().astype(int) - expected).max() <= 1


@pytest.mark.parametrize("netG, net, size", [
    ("resnet_9blocks", lambda: ResnetGenerator(64, 9, INSTANCE), (64, 48)),
    ("resnet_6blocks", lambda: ResnetGenerator(64, 6, INSTANCE), (36, 44)),
    ("unet_256", lambda: UnetGenerator(8, 64, INSTANCE), (256, 256)),
])
def test_reference_generators_convert_with_equal_outputs(netG, net, size, tmp_path):
    reference = randomised(net(), seed=len(netG))
    path = tmp_path / "latest_net_G.pth"
    torch.save(reference.state_dict(), path)
    assert_same_outputs(reference, convert(path, netG), size)


def test_batch_norm_multi_gpu_save_converts(tmp_path):
    """nn.DataParallel saves prefix every key with 'module.'; batch-norm statistics carry over."""
    reference = randomised(UnetGenerator(7, 8, BATCH), seed=3)
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in reference.state_dict().items()}, path)
    assert_same_outputs(reference, convert(path, "unet_128", ngf=8, norm="batch"), (128, 128))


def test_the_safe_reader_reads_what_torch_reads_without_torch(tmp_path, monkeypatch):
    reference = randomised(ResnetGenerator(8, 2, INSTANCE), seed=5)
    path = tmp_path / "g.pth"
    torch.save(reference.state_dict(), path)
    with_torch = read_state_dict(path, use_torch=True)
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a machine without PyTorch
    without = read_state_dict(path)
    assert with_torch.keys() == without.keys() and len(without) > 10
    for key in without:
        assert without[key].dtype == np.float32 and np.array_equal(without[key], with_torch[key]), key


def test_the_safe_reader_refuses_code(tmp_path):
    """A .pth whose pickle calls os.system is refused before anything runs."""
    class Exploit:
        def __reduce__(self):
            import os
            return os.system, ("touch " + str(tmp_path / "pwned"),)

    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"model.1.weight": Exploit()}))
    with pytest.raises(ConversionError, match="holds Python code besides weights and was not loaded"):
        read_state_dict(path, use_torch=False)
    assert not (tmp_path / "pwned").exists()


def test_a_checkpoint_for_another_network_names_the_problem(tmp_path, capsys):
    path = tmp_path / "g.pth"
    torch.save(randomised(ResnetGenerator(8, 2, INSTANCE), seed=1).state_dict(), path)
    with pytest.raises(ConversionError, match=r"shape .* check --netG, --ngf and --norm"):
        convert(path, "resnet_2blocks", ngf=16)
    with pytest.raises(ConversionError, match=r"has no model\.11\.weight: is it a resnet_1blocks generator"):
        convert(path, "resnet_1blocks", ngf=8)
    state = randomised(ResnetGenerator(8, 2, INSTANCE), seed=1).state_dict()
    torch.save({**state, "extra.weight": torch.zeros(3)}, tmp_path / "extra.pth")
    with pytest.raises(ConversionError, match=r"tensors this resnet_2blocks does not use \(extra\.weight\)"):
        convert(tmp_path / "extra.pth", "resnet_2blocks", ngf=8)
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "missing.pth"), "--output", str(tmp_path / "out")])
    assert info.value.code == 1 and "missing.pth: no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_writes_the_export_artifacts(tmp_path):
    import tensorflow as tf

    reference = randomised(ResnetGenerator(8, 2, INSTANCE), seed=2)
    path = tmp_path / "horse2zebra.pth"
    torch.save(reference.state_dict(), path)
    assert main([str(path), "--netG", "resnet_2blocks", "--ngf", "8", "--output", str(tmp_path / "out"),
                 "--name", "horse2zebra", "--source", "horse", "--target", "zebra"]) == 0
    folder = tmp_path / "out" / "horse2zebra" / "1"
    assert {p.name for p in folder.glob("*.tflite")} == {
        "horse2zebra_float32.tflite", "horse2zebra_float16.tflite", "horse2zebra_int8_dynamic.tflite"}
    image = np.random.default_rng(0).integers(0, 256, (1, 20, 28, 3), dtype=np.uint8)
    served = tf.saved_model.load(str(folder)).signatures["serving_default"](images=tf.constant(image))
    with torch.no_grad():
        x = torch.from_numpy(image.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1)
        expected = reference(x).numpy().transpose(0, 2, 3, 1)
    expected = np.clip(np.round((expected + 1) * 127.5), 0, 255)
    assert np.abs(served["translated"].numpy().astype(int) - expected).max() <= 1


@pytest.mark.slow
def test_the_benchmarks_reference_networks_have_the_reference_sizes():
    from tf_cyclegan.bench.torch_reference import NLayerDiscriminator, time_reference_step
    from tf_cyclegan.models.networks.discriminators import build_discriminator

    def count(net):
        return sum(p.numel() for p in net.parameters())

    assert count(NLayerDiscriminator(64, INSTANCE)) == build_discriminator().count_params() == 2_764_737
    assert count(ResnetGenerator(64, 9, INSTANCE)) == 11_378_179
    times = time_reference_step(size=32, batch_size=2, iters=2, n_blocks=1, ngf=8)
    assert len(times) == 2 and all(t > 0 for t in times)


def test_the_reference_is_timed_under_torch_autocast_for_mixed_precision():
    from tf_cyclegan.bench.torch_reference import autocast, time_reference_step

    G, x = ResnetGenerator(8, 1, INSTANCE), torch.rand(1, 3, 16, 16)
    for precision, dtype in (("off", torch.float32), ("bf16", torch.bfloat16)):
        with autocast(precision):
            assert G.model[1](x).dtype == dtype  # the stem convolution
    times = time_reference_step(size=32, batch_size=1, iters=2, n_blocks=1, ngf=8, mixed_precision="bf16")
    assert len(times) == 2 and all(t > 0 for t in times)


# -- pix2pix: the official generators are unet_256, batch norm, dropout ------------------------------
def test_an_official_pix2pix_generator_converts_and_agrees_with_model_eval(tmp_path):
    """facades_label2photo.pth and the other published pix2pix generators: the official state-dict keys
    (model.model.0.weight, model.model.1.model.1.weight, ...), running statistics; in eval mode the converted
    generator agrees with PyTorch's model.eval() within 1e-4."""
    reference = randomised(UnetGenerator(8, 64, BATCH, use_dropout=True), seed=7)
    keys = reference.state_dict().keys()
    assert {"model.model.0.weight", "model.model.1.model.1.weight", "model.model.1.model.2.running_mean"} <= set(keys)
    path = tmp_path / "facades_label2photo.pth"
    torch.save(reference.state_dict(), path)
    generator = convert(path, "unet_256", norm="batch", use_dropout=True)
    assert sum(int(np.prod(w.shape)) for w in generator.trainable_weights) == 54_413_955
    assert_same_outputs(reference, generator, (256, 256))


def test_pix2pix_train_mode_agrees_with_pytorch_train_mode_at_batch_one(tmp_path):
    """The reference tests pix2pix in train mode: batch statistics of the one test image. Dropout is off on
    both sides so that the outputs can be compared."""
    from tf_cyclegan.models.modes import inference_generator

    reference = randomised(UnetGenerator(7, 8, BATCH), seed=5).train()
    path = tmp_path / "G.pth"
    torch.save(reference.state_dict(), path)
    generator = inference_generator(convert(path, "unet_128", ngf=8, norm="batch"), "train")
    assert_same_outputs(reference, generator, (128, 128))
    # ... and the two modes differ: eval mode uses the checkpoint's running statistics.
    x = np.random.default_rng(1).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    eval_mode = np.asarray(convert(path, "unet_128", ngf=8, norm="batch")(x, training=False))
    assert np.abs(eval_mode - np.asarray(generator(x))).max() > 0.01


def test_cli_eval_exports_pix2pix_in_eval_mode(tmp_path):
    import json

    reference = randomised(UnetGenerator(7, 8, BATCH, use_dropout=True), seed=4)
    path = tmp_path / "edges2shoes.pth"
    torch.save(reference.state_dict(), path)
    out = tmp_path / "out"
    assert main([str(path), "--netG", "unet_128", "--ngf", "8", "--norm", "batch", "--dropout", "--eval",
                 "--no_tflite", "--output", str(out)]) == 0
    contract = json.loads((out / "a2b" / "1" / "tf_cyclegan.json").read_text())
    assert contract["inference_mode"] == "eval" and contract["model_directions"] == ["a2b"]
    image = np.random.default_rng(0).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    assert_serves_like(reference, out / "a2b" / "1", image)


def test_batch_norm_keeps_pytorchs_running_statistics():
    """PyTorch updates the running variance with the unbiased batch variance (Keras: the biased one); at
    pix2pix's batch of 1 the U-Net's 2x2 levels differ by 4/3 otherwise."""
    from tf_cyclegan.models.networks.layers import norm_layer

    x = np.random.default_rng(0).normal(1.0, 3.0, (1, 2, 2, 5)).astype(np.float32)
    ours = norm_layer("batch", name="bn")
    ours.build((None, None, None, 5))
    reference = torch.nn.BatchNorm2d(5)
    reference.weight.data = torch.from_numpy(ours.gamma.numpy().copy())
    for _ in range(3):
        y = ours(x, training=True).numpy()
        expected = reference.train()(torch.from_numpy(x.transpose(0, 3, 1, 2))).detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    np.testing.assert_allclose(ours.moving_mean.numpy(), reference.running_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.moving_variance.numpy(), reference.running_var.numpy(), rtol=1e-5)


def test_an_imported_pix2pix_generator_is_evaluated_on_pairs(tmp_path):
    """--model pix2pix goes into the contract, so evaluate reads the aligned test pairs; --name b2a for a
    generator that maps B to A (facades_label2photo)."""
    from PIL import Image

    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    reference = randomised(UnetGenerator(7, 8, BATCH), seed=6)
    torch.save(reference.state_dict(), tmp_path / "label2photo.pth")
    assert main([str(tmp_path / "label2photo.pth"), "--netG", "unet_128", "--ngf", "8", "--norm", "batch",
                 "--model", "pix2pix", "--name", "b2a", "--source", "label", "--target", "photo", "--eval",
                 "--no_tflite", "--output", str(tmp_path / "out")]) == 0
    rng = np.random.default_rng(0)
    (tmp_path / "facades" / "test").mkdir(parents=True)
    for i in range(2):
        pair = rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)
        Image.fromarray(pair).save(tmp_path / "facades" / "test" / f"{i}.png")
    report = evaluate(EvaluateOptions(model=str(tmp_path / "out"), output=str(tmp_path / "eval"),
                                      dataset=str(tmp_path / "facades"), size=32, no_fid=True), log=lambda _: None)
    assert list(k for k in ("a2b", "b2a") if k in report) == ["b2a"] and report["paired"]
    assert report["domains"] == {"A": "photo", "B": "label"} and "truth_psnr" in report["b2a"]


# -- CUT (taesungp/contrastive-unpaired-translation): anti-aliased ResNet generators ------------------------
CUT_SWITCHES = {"antialiased": {}, "no_antialias_up": {"no_antialias_up": True},
                "no_antialias": {"no_antialias": True},
                "plain": {"no_antialias": True, "no_antialias_up": True}}


def resampling(no_antialias=False, no_antialias_up=False):
    """convert()'s switches for CUT's flags."""
    return dict(antialias=not no_antialias, antialias_up=not no_antialias_up)


def saved(net, tmp_path, name="latest_net_G.pth"):
    torch.save(net.state_dict(), tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("switches", CUT_SWITCHES.values(), ids=CUT_SWITCHES.keys())
def test_cut_generators_convert_with_equal_outputs(switches, tmp_path):
    """CUT's published generators are anti-aliased (Downsample, Upsample with their .filt buffers); with
    --no_antialias(_up) their layout is CycleGAN's. Each converts and agrees with PyTorch within 1e-4."""
    reference = randomised(CUTGenerator(8, 2, INSTANCE, **switches), seed=11)
    generator = convert(saved(reference, tmp_path), "resnet_2blocks", ngf=8, **resampling(**switches))
    assert assert_same_outputs(reference, generator, (32, 32)) < 1e-4


def test_a_batch_norm_cut_generator_with_dropout_converts(tmp_path):
    """Block indices shift with dropout (conv_block.6, .7) and batch norm adds statistics, filters still apply."""
    reference = randomised(CUTGenerator(8, 3, BATCH, use_dropout=True), seed=12)
    generator = convert(saved(reference, tmp_path), "resnet_3blocks", ngf=8, norm="batch", use_dropout=True,
                        antialias=True, antialias_up=True)
    assert_same_outputs(reference, generator, (32, 40))


@pytest.mark.parametrize("n_blocks, nce_layers, switches, norm", [
    (9, (0, 4, 8, 12, 16), {}, INSTANCE),  # CUT's default --nce_layers on its default generator
    (3, None, {}, INSTANCE),  # None: every module
    (3, None, {"no_antialias_up": True}, INSTANCE),
    (3, None, {"no_antialias": True, "no_antialias_up": True}, INSTANCE),
    (2, None, {}, NONE),
], ids=["nce_layers_9blocks", "antialiased", "no_antialias_up", "plain", "norm_none"])
def test_resnet_sequence_names_the_layers_whose_outputs_are_cuts_features(n_blocks, nce_layers, switches, norm,
                                                                          tmp_path):
    """CUT's PatchNCE compares the outputs of modules model.<i> (forward(x, layers, encode_only=True)); our layer
    resnet_sequence(...)[i] must give the same features, so that --nce_layers count what CUT counts. Every
    module is asked for alone: see the next test for why."""
    import keras

    from tf_cyclegan.core.catalog import resnet_sequence

    norm_name = {INSTANCE: "instance", NONE: "none"}[norm]
    reference = randomised(CUTGenerator(8, n_blocks, norm, **switches), seed=n_blocks)
    generator = convert(saved(reference, tmp_path), f"resnet_{n_blocks}blocks", ngf=8, norm=norm_name,
                        **resampling(**switches))
    names = resnet_sequence(n_blocks, **resampling(**switches), norm=norm_name)
    assert len(names) == len(reference.model)
    layers = list(range(len(names)) if nce_layers is None else nce_layers)
    features = keras.Model(generator.input, [generator.get_layer(names[i]).output for i in layers])
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    ours = features(x, training=False)
    with torch.no_grad():
        image = torch.from_numpy(x.transpose(0, 3, 1, 2))
        expected = (reference.encode(image, layers) if nce_layers
                    else [reference.encode(image, [i])[0] for i in layers])
    for i, mine, theirs in zip(layers, ours, expected, strict=True):
        np.testing.assert_allclose(np.asarray(mine), theirs.numpy().transpose(0, 2, 3, 1), atol=1e-4,
                                   err_msg=f"model.{i} ({names[i]})")


def test_cuts_in_place_relu_overwrites_a_norm_feature_unless_it_is_the_last(tmp_path):
    """A quirk of CUT's encode (kept by the rebuild, which is CUT's module for module): its ReLUs are in place, so
    a norm's feature, unless its index is the last one asked for, comes back rectified: our `_relu` layer's
    output, not the `_norm` one resnet_sequence names. CUT's default --nce_layers 0,4,8,12,16 name no norm."""
    from tf_cyclegan.core.catalog import resnet_sequence

    reference = randomised(CUTGenerator(8, 1, INSTANCE), seed=1)
    image = torch.rand(1, 3, 16, 16) * 2 - 1
    assert resnet_sequence(1, True, True)[2:4] == ["stem_norm", "stem_relu"]
    with torch.no_grad():
        alone, (before, relu) = reference.encode(image, [2])[0], reference.encode(image, [2, 3])
    assert alone.min() < 0 and torch.equal(before, relu) and torch.equal(relu, torch.relu(alone))


def conversion_error(state, tmp_path, netG="resnet_1blocks", **options) -> str:
    """The one line ConversionError of converting this state dict."""
    torch.save(state, tmp_path / "g.pth")
    with pytest.raises(ConversionError) as info:
        convert(tmp_path / "g.pth", netG, ngf=8, **options)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_cuts_filter_buffers_must_hold_the_fixed_filters(tmp_path):
    """The .filt buffers hold no weights but fix the network: a different one is not CUT's generator. With one
    block, model.7 and model.11 are the Downsamples, model.13 and model.17 the Upsamples."""
    state = randomised(CUTGenerator(8, 1, INSTANCE), seed=4).state_dict()
    aa = resampling()
    assert {k for k in state if k.endswith(".filt")} == {"model.7.filt", "model.11.filt", "model.13.filt",
                                                          "model.17.filt"}
    blurred = {**state, "model.11.filt": torch.full_like(state["model.11.filt"], 1 / 9)}
    assert "model.11.filt is not CUT's fixed Downsample filter" in conversion_error(blurred, tmp_path, **aa)
    scaled = {**state, "model.17.filt": state["model.17.filt"] / 4}  # Upsample's filter is times stride²
    assert "model.17.filt is not CUT's fixed Upsample filter" in conversion_error(scaled, tmp_path, **aa)
    cut = {**state, "model.13.filt": state["model.13.filt"][:16]}
    assert "model.13.filt has shape (16, 1, 4, 4), CUT's Upsample of 32 channels holds (32, 1, 4, 4)" in (
        conversion_error(cut, tmp_path, **aa))


def test_a_cut_checkpoint_converted_with_other_anti_aliasing_says_which_flag(tmp_path):
    cut = randomised(CUTGenerator(8, 1, INSTANCE), seed=4).state_dict()
    assert ("CUT generator with anti-aliased downsampling and upsampling (it has model.7.filt): convert it with "
            "--model cut or fastcut, without --no_antialias and --no_antialias_up") in conversion_error(cut, tmp_path)
    assert "without --no_antialias_up" in conversion_error(cut, tmp_path, antialias=True)
    plain = randomised(ResnetGenerator(8, 1, INSTANCE), seed=4).state_dict()
    assert ("no anti-aliasing buffers for downsampling and upsampling (CUT's model.<i>.filt): it was trained with "
            "--no_antialias and --no_antialias_up") in conversion_error(plain, tmp_path, **resampling())
    no_up = randomised(CUTGenerator(8, 1, INSTANCE, no_antialias_up=True), seed=4).state_dict()
    assert "for upsampling" in conversion_error(no_up, tmp_path, **resampling())
    assert "has no model.13.conv_block.1.weight" in conversion_error(cut, tmp_path, "resnet_2blocks", **resampling())


@pytest.mark.parametrize("model, flags", [("cut", []), ("fastcut", ["--no_antialias_up"])])
def test_cli_exports_a_cut_generator(model, flags, tmp_path):
    """--model cut/fastcut: anti-aliased unless --no_antialias(_up), recorded with the export, which serves
    one direction as pix2pix's."""
    import json

    reference = randomised(CUTGenerator(8, 2, INSTANCE, no_antialias_up="--no_antialias_up" in flags), seed=9)
    out = tmp_path / "out"
    assert main([str(saved(reference, tmp_path)), "--model", model, *flags, "--netG", "resnet_2blocks", "--ngf",
                 "8", "--no_tflite", "--output", str(out), "--source", "horse", "--target", "zebra"]) == 0
    contract = json.loads((out / "a2b" / "1" / "tf_cyclegan.json").read_text())
    assert contract["model"] == model and contract["model_directions"] == ["a2b"]
    assert contract["training_config"]["antialias"] and contract["training_config"]["antialias_up"] == (not flags)
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 36, 3), dtype=np.uint8)
    assert_serves_like(reference, out / "a2b" / "1", image)


def test_cli_anti_aliasing_flags_need_cut_and_a_cut_checkpoint_needs_them(tmp_path, capsys):
    path = saved(randomised(CUTGenerator(8, 1, INSTANCE), seed=3), tmp_path)
    common = [str(path), "--netG", "resnet_1blocks", "--ngf", "8", "--no_tflite", "--output", str(tmp_path / "o")]
    for flag in ("--no_antialias", "--no_antialias_up"):
        with pytest.raises(SystemExit) as info:
            main([*common, flag])
        assert info.value.code == 2 and f"{flag}: only with --model cut or fastcut" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([*common, "--model", "cut", "--netG", "unet_256"])
    assert info.value.code == 2 and "CUT's generators are ResNets" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(common)  # --model cycle_gan on CUT's checkpoint
    err = capsys.readouterr().err
    assert info.value.code == 1 and "convert it with --model cut or fastcut" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as info:
        main([*common, "--model", "cut", "--no_antialias"])
    assert info.value.code == 1 and capsys.readouterr().err.rstrip().endswith(
        "anti-aliased downsampling (it has model.7.filt): convert it with --model cut or fastcut, without "
        "--no_antialias")
