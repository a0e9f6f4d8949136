"""Shared fixtures: tiny configs, image-folder fixtures, an offline cache for the embedded dataset, and the
expensive ones built once per test run for every module that needs them: a tiny trained CycleGAN run and
its export in every format, and a generator of each family exported in every format. Under pytest-xdist the
first worker to need one builds it under a file lock and the others read it from disk (built_once). Tests
that write into a shared run or export copy it first."""

import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from filelock import FileLock  # noqa: E402
from PIL import Image  # noqa: E402

# Two logical CPU devices, so that MirroredStrategy has two replicas on a CPU-only machine. This must
# happen before TensorFlow starts its runtime; other tests keep running on /cpu:0 as before.
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                           [tf.config.LogicalDeviceConfiguration()] * 2)

from tf_cyclegan.core.config import Config  # noqa: E402

QUIET = dict(log=lambda line: None)
EXPORT_PIXELS = 100_000  # the shared export's --max_pixels: small, so that tests can go over it
EVAL_IMAGES = 6  # test images per domain that the shared run's --eval_every measures


def shared_root(tmp_path_factory) -> Path:
    """This test run's temporary folder that every pytest-xdist worker sees (each has one of its own below)."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root


def built_once(tmp_path_factory, name: str, build):
    """The folder that build(folder) fills, built once per test run whatever the number of workers: the first
    to ask builds it under a file lock, the others wait for it."""
    folder = shared_root(tmp_path_factory) / name
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session", autouse=True)
def seasons_cache(tmp_path_factory):
    """The embedded dataset is rendered once per test run into a private cache folder, shared by the workers."""
    cache = shared_root(tmp_path_factory) / "cache"
    os.environ["TF_CYCLEGAN_CACHE"] = str(cache)
    return cache


def tiny_config(**overrides) -> Config:
    """32x32 crops, 8 filters, 1 residual block: the paper's networks, shrunk for a 2-core CPU."""
    values = dict(netG="resnet_1blocks", ngf=8, ndf=8, load_size=36, crop_size=32, pool_size=4,
                  n_epochs=1, n_epochs_decay=1, n_samples=2, print_freq=1)
    values.update(overrides)
    return Config(**values)


def write_images(folder, n, size=(40, 30), seed=0, ext="png"):
    """n random RGB images of size (w, h) in folder."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        w, h = size
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i:03d}.{ext}"))


def mixed_size_folder(root):
    """trainA: 40x30, 40x30 and 49x22 (000.jpg sorts first); trainB: 24x36 twice."""
    write_images(root / "trainA", 2, size=(40, 30), seed=1)
    write_images(root / "trainA", 1, size=(49, 22), seed=2, ext="jpg")
    write_images(root / "trainB", 2, size=(24, 36), seed=3)
    return root


@pytest.fixture
def image_folder(tmp_path):
    """A reference-layout dataset: trainA 5, trainB 3, testA 2, testB 2 random images."""
    root = tmp_path / "data"
    for split, n, seed in [("trainA", 5, 1), ("trainB", 3, 2), ("testA", 2, 3), ("testB", 2, 4)]:
        write_images(root / split, n, seed=seed)
    return root


def load_example(name):
    """A script of export/ (the TF Serving clients) as a module."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "export" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_batch_statistics(generator):
    """Batch norm with running statistics far from 0 and 1, so that train and eval mode differ."""
    rng = np.random.default_rng(0)
    for layer in generator.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([1 + 0.1 * rng.standard_normal(n), 0.1 * rng.standard_normal(n),
                               0.1 * rng.standard_normal(n), 0.5 + rng.random(n)])
    return generator


@pytest.fixture(scope="session")
def cyclegan(tmp_path_factory):
    """A tiny CycleGAN trained for 4 steps on the embedded dataset (checkpoints at steps 2 and 4, measured
    every 2 steps), exported with every default TFLite file and ONNX: {"run": the run folder, "root": the
    export folder, "folders": {direction: version folder}, "generators": {direction: Keras generator}}."""
    from tf_cyclegan.core.layout import latest_version
    from tf_cyclegan.exporting.options import ExportOptions
    from tf_cyclegan.exporting.run import export_run
    from tf_cyclegan.runtime.opening import load_generators
    from tf_cyclegan.training.run import train

    def build(folder):
        run = train(tiny_config(dataset="seasons", output=str(folder / "run"), max_steps=4, save_latest_freq=2,
                                eval_every=2, eval_images=EVAL_IMAGES), **QUIET)
        export_run(ExportOptions(run=str(run), output=str(folder / "models"), max_pixels=EXPORT_PIXELS, onnx=True),
                   **QUIET)

    folder = built_once(tmp_path_factory, "cyclegan", build)
    _, generators, _, _ = load_generators(folder / "run", **QUIET)
    return {"run": folder / "run", "root": folder / "models", "generators": generators,
            "folders": {d: latest_version(folder / "models" / d) for d in ("a2b", "b2a")}}


@pytest.fixture(scope="session")
def generators(tmp_path_factory):
    """One generator of each family the models use, each exported once in every format through the round-trip
    helpers (roundtrip.exported): {name: (Keras generator, inference mode, {format: path})}, the generator
    read back from its .keras file. pix2pix's U-Net has batch-norm statistics far from 0 and 1 and no dropout,
    so that its two modes differ and outputs compare; it is exported in both modes with every default TFLite
    variant, as is GAN Compression's mobile ResNet."""
    import keras

    from roundtrip import exported, paths_of
    from tf_cyclegan.exporting.tflite import TFLITE_VARIANTS
    from tf_cyclegan.models.networks import build_generator
    from tf_cyclegan.runtime.translators import load_keras_file

    kinds = {"pix2pix_train": ("unet", "train", TFLITE_VARIANTS), "pix2pix_eval": ("unet", "eval", TFLITE_VARIANTS),
             "cut": ("cut", "train", ("float32",)), "mobile": ("mobile", "train", TFLITE_VARIANTS)}

    def build(folder):
        keras.utils.set_random_seed(0)
        networks = {"unet": with_batch_statistics(build_generator("unet_128", ngf=8, norm="batch", name="G")),
                    "cut": build_generator("resnet_1blocks", ngf=8, antialias=True, antialias_up=True, name="G"),
                    "mobile": build_generator("mobile_resnet_2blocks", ngf=8, name="G")}
        for name, (network, mode, variants) in kinds.items():
            exported(networks[network], folder / name, mode, variants=variants)

    folder = built_once(tmp_path_factory, "generators", build)
    found = {}
    for name, (_, mode, variants) in kinds.items():
        paths = paths_of(folder / name, variants)
        found[name] = (load_keras_file(paths["keras"]), mode, paths)
    return found
