"""The TFLite-friendly copy of a generator computes what the training network computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_cyclegan.exporting.lite import InstanceNorm4D, SlicedReflectionPadding2D, lite_generator
from tf_cyclegan.models.networks.generators import build_generator, size_multiple_of
from tf_cyclegan.models.networks.layers import Cropping2D, ReflectionPadding2D


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_sliced_reflection_padding_is_reflection_padding(padding):
    x = tf.random.uniform([2, 7, 9, 4])
    assert np.array_equal(SlicedReflectionPadding2D(padding)(x), ReflectionPadding2D(padding)(x))


def test_4d_instance_norm_equals_group_norm_with_one_channel_per_group():
    import keras

    x = tf.random.normal([2, 9, 11, 6]) * 3 + 1
    expected = keras.layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=1e-5)(x)
    np.testing.assert_allclose(InstanceNorm4D(1e-5)(x), expected, atol=2e-5)


@pytest.mark.parametrize("netG", ["resnet_2blocks", "unet_128"])
def test_lite_generator_keeps_the_weights_and_the_outputs(netG):
    G = build_generator(netG, ngf=8)
    lite = lite_generator(G)
    trained_kinds = (keras.layers.GroupNormalization, ReflectionPadding2D, Cropping2D)  # and subclasses
    assert any(isinstance(layer, trained_kinds) for layer in G.layers)
    assert not any(isinstance(layer, trained_kinds) for layer in lite.layers)
    assert lite.count_params() == G.count_params() and size_multiple_of(lite) == size_multiple_of(G)
    x = tf.random.uniform([1, 128, 128, 3], -1, 1)
    np.testing.assert_allclose(lite(x), G(x), atol=1e-4)
