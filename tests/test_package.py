"""The package as a whole: what it needs to import, and the model family's one entry point."""

import os
import subprocess
import sys

import pytest

from tf_cyclegan.config import MODELS, Config
from tf_cyclegan.errors import RunError
from tf_cyclegan.models import model_class
from tf_cyclegan.models.base import TranslationModel


@pytest.mark.slow
def test_every_module_imports_and_a_generator_translates_without_pytorch(tmp_path):
    (tmp_path / "torch.py").write_text("raise ImportError('No module named torch (hidden by the test)')\n")
    script = """
import importlib, pkgutil
import numpy as np
import tf_cyclegan
names = [m.name for m in pkgutil.walk_packages(tf_cyclegan.__path__, "tf_cyclegan.")
         if m.name != "tf_cyclegan.bench.torch_reference" and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
from tf_cyclegan.translators import keras_translator
out = keras_translator(tf_cyclegan.build_generator("resnet_1blocks", ngf=4))(np.zeros((1, 9, 13, 3), np.uint8))
print(len(names), out.shape)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-2000:]
    count, shape = result.stdout.split(maxsplit=1)
    assert int(count) > 25 and shape.strip() == "(1, 9, 13, 3)"


def test_every_model_name_has_a_model_class():
    assert all(issubclass(model_class(name), TranslationModel) for name in MODELS)
    with pytest.raises(RunError, match="--model pix3pix: not a model of this version"):
        model_class("pix3pix")
    assert Config().model == "cycle_gan"


def test_the_import_paths_of_version_0_1_still_work_and_say_where_the_names_went():
    from tf_cyclegan import loop, networks
    from tf_cyclegan.models.cycle_gan import CycleGAN

    with pytest.warns(DeprecationWarning, match="tf_cyclegan.trainer.train is now tf_cyclegan.loop.train"):
        from tf_cyclegan.trainer import train
    with pytest.warns(DeprecationWarning, match="now tf_cyclegan.models.cycle_gan.CycleGAN"):
        from tf_cyclegan.trainer import CycleGAN as old_cycle_gan
    with pytest.warns(DeprecationWarning, match="tf_cyclegan.models.build_generator is now tf_cyclegan.networks"):
        from tf_cyclegan.models import build_generator
    assert (train, old_cycle_gan, build_generator) == (loop.train, CycleGAN, networks.build_generator)
    with pytest.raises(ImportError):
        from tf_cyclegan.trainer import _StopRequest  # noqa: F401  (private then, gone now)
