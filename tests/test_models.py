import numpy as np
import pytest

import tf_cyclegan
from tf_cyclegan.layers import ReflectionPadding2D, instance_norm
from tf_cyclegan.models import build_discriminator, build_generator


@pytest.mark.parametrize("netG, params", [("resnet_9blocks", 11_378_179), ("resnet_6blocks", 7_837_699)])
def test_generator_parameter_count_equals_the_reference(netG, params):
    assert build_generator(netG).count_params() == params


def test_discriminator_parameter_count_equals_the_reference():
    assert tf_cyclegan.build_discriminator().count_params() == 2_764_737
    assert build_discriminator("n_layers", n_layers_D=3).count_params() == 2_764_737


def test_top_level_builders_default_to_the_paper_networks():
    G = tf_cyclegan.build_generator()
    assert G.name == "G" and G.count_params() == 11_378_179


@pytest.mark.parametrize("h, w", [(32, 32), (36, 20), (64, 48)])
def test_generator_keeps_any_multiple_of_4_shape(h, w):
    G = build_generator("resnet_2blocks", ngf=8)
    y = np.asarray(G(np.random.default_rng(0).uniform(-1, 1, (2, h, w, 3)).astype("float32")))
    assert y.shape == (2, h, w, 3)
    assert np.all(np.abs(y) <= 1.0)


@pytest.mark.parametrize("h, w, out", [(256, 256, (30, 30)), (70, 70, (6, 6)), (32, 48, (2, 4))])
def test_patchgan_output_grid_matches_the_reference(h, w, out):
    D = build_discriminator(ndf=8)
    assert D(np.zeros((1, h, w, 3), "float32")).shape == (1, *out, 1)


def test_reflection_padding_equals_numpy_reflect():
    x = np.arange(2 * 5 * 4 * 3, dtype="float32").reshape(2, 5, 4, 3)
    ours = np.asarray(ReflectionPadding2D(2)(x))
    assert np.array_equal(ours, np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    assert ReflectionPadding2D(3).compute_output_shape((None, None, 10, 3)) == (None, None, 16, 3)


def test_instance_norm_normalises_each_image_and_channel_without_parameters():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(3, 8, 6, 4)) * np.array([1, 5, 0.1, 30]) + np.array([3, -2, 7, 0])).astype("float32")
    layer = instance_norm()
    y = np.asarray(layer(x))
    assert layer.count_params() == 0
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), x.var(axis=(1, 2)) / (x.var(axis=(1, 2)) + 1e-5), rtol=1e-4)


def test_conv_weights_start_as_normal_0_002_and_biases_at_zero():
    G = build_generator("resnet_9blocks")
    kernel = np.asarray(G.get_layer("block0_conv1").kernel)
    assert abs(kernel.mean()) < 1e-3 and kernel.std() == pytest.approx(0.02, rel=0.02)
    assert not np.any(np.asarray(G.get_layer("block0_conv1").bias))


def _torch_conv_transpose(x, kernel, bias, stride=2, padding=1, output_padding=1):
    """PyTorch ConvTranspose2d in numpy (NHWC, kernel (kh, kw, out, in) as Keras stores it)."""
    n, h, w, _ = x.shape
    k = kernel.shape[0]
    full = np.zeros((n, (h - 1) * stride + k + output_padding, (w - 1) * stride + k + output_padding,
                     kernel.shape[2]))
    for i in range(h):
        for j in range(w):
            full[:, i * stride:i * stride + k, j * stride:j * stride + k] += np.einsum(
                "nc,abdc->nabd", x[:, i, j], kernel)
    out_h, out_w = (h - 1) * stride - 2 * padding + k + output_padding, (w - 1) * stride - 2 * padding + k + output_padding
    return full[:, padding:padding + out_h, padding:padding + out_w] + bias


def test_upsampling_matches_pytorch_conv_transpose_with_output_padding():
    """The generator's transposed convs must place pixels as PyTorch's, or reference weights shift."""
    G = build_generator("resnet_1blocks", ngf=4)
    layer = G.get_layer("up0_conv")
    rng = np.random.default_rng(1)
    layer.kernel.assign(rng.normal(size=layer.kernel.shape).astype("float32"))
    layer.bias.assign(rng.normal(size=layer.bias.shape).astype("float32"))
    x = rng.normal(size=(1, 3, 5, layer.kernel.shape[3])).astype("float32")
    ours = np.asarray(G.get_layer("up0_crop")(layer(x)))
    expected = _torch_conv_transpose(x, np.asarray(layer.kernel), np.asarray(layer.bias))
    assert ours.shape == (1, 6, 10, layer.kernel.shape[2])
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_builders_reject_unknown_networks():
    with pytest.raises(ValueError, match="resnet_<N>blocks"):
        build_generator("unet_1024")
    with pytest.raises(ValueError, match="netD"):
        build_discriminator("pixelgan")


# -- the reference's other options (issue 5) ---------------------------------------------------------
def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


@pytest.mark.parametrize("netG, norm, params", [
    # Counted by running the reference's UnetGenerator under PyTorch 2.13 (pix2pix prints "54.414 M" for
    # unet_256 with its default batch norm). The 54,414,979 quoted in issue 5 matches neither.
    ("unet_256", "instance", 54_409_603), ("unet_256", "batch", 54_413_955),
    ("unet_128", "instance", 41_825_667), ("unet_128", "batch", 41_828_995),
])
def test_unet_parameter_counts_equal_the_reference(netG, norm, params):
    assert trainable(build_generator(netG, norm=norm)) == params


@pytest.mark.parametrize("netG, size", [("unet_256", 256), ("unet_128", 128)])
def test_unet_keeps_the_shape_and_needs_its_multiple(netG, size):
    G = build_generator(netG, ngf=4)
    assert G.size_multiple == size
    assert G(np.zeros((1, size, 2 * size, 3), "float32")).shape == (1, size, 2 * size, 3)


def test_norm_options_follow_the_references_bias_rule():
    """Normalised convs have a bias only with instance norm; batch norm adds gamma and beta (and two
    non-trainable moving statistics) per channel; 'none' has neither."""
    instance = build_generator("resnet_1blocks", ngf=8, norm="instance")
    batch = build_generator("resnet_1blocks", ngf=8, norm="batch")
    none = build_generator("resnet_1blocks", ngf=8, norm="none")
    normalised_channels = 8 + 16 + 32 + 32 + 32 + 16 + 8  # stem, 2 downs, 2 block convs, 2 ups
    assert instance.count_params() - none.count_params() == normalised_channels  # the biases
    assert trainable(batch) - none.count_params() == 2 * normalised_channels  # gamma and beta
    assert len(batch.non_trainable_weights) == 2 * 7


def test_pixel_discriminator_scores_every_pixel():
    D = build_discriminator("pixel", ndf=64)
    assert D.count_params() == (3 * 64 + 64) + (64 * 128 + 128) + (128 * 1 + 1)
    assert D(np.zeros((1, 10, 12, 3), "float32")).shape == (1, 10, 12, 1)


@pytest.mark.parametrize("init_type, expected_std", [
    ("normal", 0.02),
    ("xavier", 0.02 * np.sqrt(2 / (3 * 3 * 32 + 3 * 3 * 32))),
    ("kaiming", np.sqrt(2 / (3 * 3 * 32))),
    ("orthogonal", None),
])
def test_init_types_scale_as_the_reference(init_type, expected_std):
    G = build_generator("resnet_1blocks", ngf=8, init_type=init_type, init_gain=0.02)
    kernel = np.asarray(G.get_layer("block0_conv1").kernel)  # 3x3, 32 -> 32
    if expected_std is None:  # orthogonal: the flattened kernel's columns are orthogonal, of norm gain
        flat = kernel.reshape(-1, kernel.shape[-1])
        np.testing.assert_allclose(flat.T @ flat, 0.02**2 * np.eye(32), atol=1e-6)
    else:
        assert kernel.std() == pytest.approx(expected_std, rel=0.1)
