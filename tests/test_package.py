"""The package as a whole: what it needs to import, and the model family's one entry point."""

import os
import re
import subprocess
import sys

import pytest

from tf_cyclegan.core.catalog import MODELS
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.models import model_class
from tf_cyclegan.models.contract import TranslationModel


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
from tf_cyclegan.runtime.translators import keras_translator
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
    from tf_cyclegan.models import networks
    from tf_cyclegan.models.cycle_gan import CycleGAN
    from tf_cyclegan.training import run

    with pytest.warns(DeprecationWarning, match="tf_cyclegan.trainer.train is now tf_cyclegan.training.run.train"):
        from tf_cyclegan.trainer import train
    with pytest.warns(DeprecationWarning, match="now tf_cyclegan.models.cycle_gan.CycleGAN"):
        from tf_cyclegan.trainer import CycleGAN as old_cycle_gan
    with pytest.warns(DeprecationWarning, match="tf_cyclegan.models.build_generator is now tf_cyclegan.models.netw"):
        from tf_cyclegan.models import build_generator
    assert (train, old_cycle_gan, build_generator) == (run.train, CycleGAN, networks.build_generator)
    with pytest.raises(ImportError):
        from tf_cyclegan.trainer import _StopRequest  # noqa: F401  (private then, gone now)


def moved_names():
    """(old module, old name, new module, new name) for every name CHANGELOG.md lists as moved."""
    from tf_cyclegan.core.moved import MOVED

    for old, names in MOVED.items():
        for name, target in names.items():
            module, _, new = target.partition(":")
            yield f"tf_cyclegan.{old}", name, f"tf_cyclegan.{module}", new or name


@pytest.mark.parametrize("old, name, module, new", [m for m in moved_names() if m[1] != "*"],
                         ids=lambda value: value if isinstance(value, str) else "")
def test_every_name_of_version_0_5_forwards_to_its_new_home_with_a_warning(old, name, module, new):
    import importlib

    with pytest.warns(DeprecationWarning, match=f"{re.escape(old)}.{name} is now {re.escape(module)}.{new};"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(module), new)


def test_modules_of_version_0_5_forward_every_name_and_refuse_unknown_ones():
    import importlib

    from tf_cyclegan.runtime import processing

    with pytest.warns(DeprecationWarning, match="tf_cyclegan.serving.translate_uint8 is now "
                                                "tf_cyclegan.runtime.processing.translate_uint8"):
        from tf_cyclegan.serving import translate_uint8
    assert translate_uint8 is processing.translate_uint8
    for old, star, module, _ in (m for m in moved_names() if m[1] == "*"):
        importlib.import_module(module)  # where the rest went exists
        with pytest.raises(AttributeError):
            importlib.import_module(old).__dunder_nobody_has__  # noqa: B018
    with pytest.raises(ImportError):
        from tf_cyclegan.data import no_such_name  # noqa: F401


def test_the_public_api_names_what_users_import_and_train_is_the_function():
    import tf_cyclegan
    import tf_cyclegan.train  # the command module: importing it must not hide the function

    assert callable(tf_cyclegan.train) and callable(tf_cyclegan.export) and callable(tf_cyclegan.evaluate)
    for name in tf_cyclegan.__all__:
        assert getattr(tf_cyclegan, name) is not None, name
    assert tf_cyclegan.__version__ == "1.0.0"
    with pytest.raises(AttributeError):
        tf_cyclegan.no_such_name  # noqa: B018
