"""GAN Compression's mobile ResNet generator (--netG mobile_resnet_<N>blocks): its layers and parameters
against a hand count, its MACs against the closed form, XNNPACK running the whole TFLite file, tiling with
shared statistics, and every model training with it. Its export round trips are test_roundtrip.py's."""

import keras
import numpy as np
import pytest
from roundtrip import undelegated_ops

from tf_cyclegan.core.catalog import residual_blocks, resnet_sequence, size_multiple
from tf_cyclegan.core.config import Config
from tf_cyclegan.models.networks import build_generator
from tf_cyclegan.models.networks.costs import generator_costs
from tf_cyclegan.runtime.translator import Translator


def mobile_parameters(ngf: int, blocks: int, channels: int = 3) -> int:
    """GAN Compression's MobileResnetGenerator, counted by hand: every convolution with a bias (instance
    norm), the norms without parameters."""
    stem = 7 * 7 * channels * ngf + ngf
    down = (3 * 3 * ngf * 2 * ngf + 2 * ngf) + (3 * 3 * 2 * ngf * 4 * ngf + 4 * ngf)
    separable = (3 * 3 * 4 * ngf + 4 * ngf) + (4 * ngf * 4 * ngf + 4 * ngf)  # depthwise, then pointwise
    up = (3 * 3 * 4 * ngf * 2 * ngf + 2 * ngf) + (3 * 3 * 2 * ngf * ngf + ngf)
    head = 7 * 7 * ngf * channels + channels
    return stem + down + blocks * 2 * separable + up + head


def mobile_macs(ngf: int, blocks: int, size: int) -> int:
    """Its multiply-accumulates at size x size as TensorFlow's profiler counts them: k*k*C_in*C_out per
    output pixel; a transposed convolution's per pixel of its uncropped output over stride^2."""
    pixels = lambda scale: (size // scale) ** 2  # noqa: E731
    macs = 7 * 7 * 3 * ngf * pixels(1) + 9 * ngf * 2 * ngf * pixels(2) + 9 * 2 * ngf * 4 * ngf * pixels(4)
    macs += blocks * 2 * (9 * 4 * ngf + 4 * ngf * 4 * ngf) * pixels(4)
    for scale, c_in, c_out in ((4, 4 * ngf, 2 * ngf), (2, 2 * ngf, ngf)):
        uncropped = (2 * (size // scale) + 1) ** 2
        macs += 9 * c_in * c_out * uncropped // 4
    return macs + 7 * 7 * ngf * 3 * pixels(1)


def test_the_mobile_generator_is_gan_compressions_layer_for_layer():
    G = build_generator("mobile_resnet_3blocks", ngf=8)
    kinds = [type(layer).__name__ for layer in G.layers]
    assert kinds.count("DepthwiseConv2D") == 6 and kinds.count("Conv2DTranspose") == 2
    assert sum(1 for layer in G.layers if layer.name.endswith("_pointwise")) == 6
    assert G.count_params() == mobile_parameters(8, 3)
    assert build_generator("mobile_resnet_9blocks", ngf=32).count_params() == mobile_parameters(32, 9) == 514_307
    # The ResNet layout's names, so that CUT's --nce_layers and distillation find the same places in it.
    names = {layer.name for layer in G.layers}
    assert set(resnet_sequence(3)) - {"tanh"} <= names
    assert residual_blocks("mobile_resnet_3blocks") == 3 and residual_blocks("unet_256") is None
    assert size_multiple("mobile_resnet_9blocks") == 4


def test_macs_and_parameters_against_the_paper_generator():
    """The issue's figures at 256x256: the paper's 49.6 G MACs and 11.4 M parameters; the mobile generator at
    --ngf 32 about 3.1 G and 0.52 M, at most 1/15 of the MACs."""
    paper = generator_costs(build_generator("resnet_9blocks", ngf=64), 256, 256)
    mobile = generator_costs(build_generator("mobile_resnet_9blocks", ngf=32), 256, 256)
    assert mobile == {"macs": mobile_macs(32, 9, 256), "parameters": 514_307}
    assert round(paper["macs"] / 1e9, 1) == 49.6 and paper["parameters"] == 11_378_179
    assert paper["macs"] / mobile["macs"] >= 15
    print(f"MACs at 256x256: paper {paper['macs'] / 1e9:.2f} G, mobile ngf 32 {mobile['macs'] / 1e9:.2f} G "
          f"({paper['macs'] / mobile['macs']:.1f}x fewer)")


def test_xnnpack_runs_every_op_of_the_mobile_tflite_file(generators):
    """Only the uint8 wrapper's size arithmetic, resizing, padding and casts stay outside XNNPACK."""
    for variant in ("tflite", "tflite_float16"):
        left = undelegated_ops(generators["mobile"][2][variant])
        network = {"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "DEPTH_TO_SPACE", "MEAN", "TANH", "RELU", "MUL"}
        assert not network & set(left), left


def test_the_mobile_saved_model_tiles_with_shared_statistics_like_keras(generators):
    generator, _, paths = generators["mobile"]
    image = np.random.default_rng(3).integers(0, 256, (300, 260, 3), dtype=np.uint8)
    options = dict(tile=128, overlap=32, always_tile=True)
    served = Translator.load(paths["saved_model"], **options)
    assert "thumbnail statistics" in served.describe_tiling(300, 260)
    assert np.abs(served(image).astype(int) - Translator.from_generator(generator, **options)(image)).max() <= 1


@pytest.mark.parametrize("model", ["cycle_gan", pytest.param("pix2pix", marks=pytest.mark.slow),
                                   pytest.param("cut", marks=pytest.mark.slow),
                                   pytest.param("fastcut", marks=pytest.mark.slow)])
def test_every_model_takes_the_mobile_generator(model):
    from tf_cyclegan.models import model_class

    contrastive = dict(nce_layers="0,4,8,12", num_patches=16, netF_nc=16) if model in ("cut", "fastcut") else {}
    config = Config.for_model(model, netG="mobile_resnet_2blocks", ngf=8, ndf=8, load_size=36, crop_size=32,
                              pool_size=0, **contrastive)
    assert config.errors() == []
    keras.utils.set_random_seed(0)
    trained = model_class(model)(config, steps_per_epoch=4, image_shape=(32, 32))
    x, y = (np.random.default_rng(s).uniform(-1, 1, (1, 32, 32, 3)).astype("float32") for s in (1, 2))
    before = trained.G.get_weights()
    logs = trained.train_step(x, y)
    assert bool(logs["finite"]) and all(np.isfinite(float(logs[n])) for n in trained.LOSS_NAMES)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, trained.G.get_weights()))
    assert type(trained.G.get_layer("block0_conv1_depthwise")).__name__ == "DepthwiseConv2D"


@pytest.mark.parametrize("netG, options", [("resnet_2blocks", {}), ("mobile_resnet_2blocks", {}),
                                           ("unet_128", {"norm": "batch"}), ("resnet_1blocks", {"antialias": True})])
def test_the_lite_copy_computes_transposed_convolutions_by_phase(netG, options):
    """Every stride-2 transposed convolution and its crop become one PhaseTransposedConv2D, exactly."""
    from tf_cyclegan.exporting.lite import lite_generator

    keras.utils.set_random_seed(1)
    G = build_generator(netG, ngf=8, **options)
    lite = lite_generator(G)
    kinds = [type(layer).__name__ for layer in lite.layers]
    assert "Conv2DTranspose" not in kinds and kinds.count("PhaseTransposedConv2D") == sum(
        isinstance(layer, keras.layers.Conv2DTranspose) for layer in G.layers) > 0
    x = np.random.default_rng(0).uniform(-1, 1, (2, 128, 128, 3)).astype("float32")
    np.testing.assert_allclose(lite(x), G(x, training=False), atol=1e-5)
