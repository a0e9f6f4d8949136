"""Every generator family the models use, saved as .keras and exported as a SavedModel, TFLite files and an
ONNX file, translates as the Keras generator does when opened as translate opens it (roundtrip.py):
CycleGAN's ResNet (the shared run's export), pix2pix's U-Net in both inference modes, CUT's anti-aliased
ResNet, GAN Compression's mobile ResNet."""

import numpy as np
import pytest

from roundtrip import assert_round_trips, differences, images
from tf_cyclegan.models.modes import inference_generator
from tf_cyclegan.runtime.translators import keras_translator

# max |difference| in uint8 levels of the TFLite variants that quantise (measured on the U-Net: 1 and 2)
QUANTISED = {"tflite_float16": 4, "tflite_int8_dynamic": 8}


def test_cycle_gans_export_translates_in_every_format(cyclegan):
    version = cyclegan["folders"]["b2a"]
    paths = {"saved_model": version, "tflite": version / "b2a_float32.tflite", "onnx": version / "b2a.onnx"}
    assert_round_trips(cyclegan["generators"]["b2a"], paths)


@pytest.mark.parametrize("name", ["pix2pix_train", "pix2pix_eval", "cut", "mobile"])
def test_every_format_translates_as_the_keras_generator(generators, name):
    generator, mode, paths = generators[name]
    exact = {fmt: path for fmt, path in paths.items() if fmt not in QUANTISED}
    assert set(exact) == {"keras", "saved_model", "tflite", "onnx"}
    assert_round_trips(generator, exact, mode)
    found = differences(generator, {fmt: paths[fmt] for fmt in QUANTISED if fmt in paths}, mode)
    print("quantised:", found)
    assert all(diff <= QUANTISED[fmt] for (fmt, _, _), diff in found.items()), found


def test_the_two_modes_of_a_batch_norm_generator_are_two_models(generators):
    unet = generators["pix2pix_train"][0]
    batch = images(100, 130, seed=100)
    train_mode, eval_mode = (keras_translator(inference_generator(unet, mode))(batch).astype(int)
                             for mode in ("train", "eval"))
    assert np.abs(train_mode - eval_mode).max() > 10  # each image's own statistics against the running ones
