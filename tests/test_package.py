"""The package as a whole: what it needs to import, and the model family's one entry point."""

import os
import subprocess
import sys

import pytest

from tf_cyclegan.config import MODELS, Config
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
    with pytest.raises(ValueError, match="unknown model 'pix3pix'"):
        model_class("pix3pix")
    assert Config().model == "cycle_gan"
