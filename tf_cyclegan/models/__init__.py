"""The translation models, one module each, and what they are made of (networks, losses, the image pool,
PatchNCE, learning-rate schedules, the test-time modes). `--model NAME` picks one: the catalog
(tf_cyclegan.core.catalog.MODEL_CATALOG) names its class, a TranslationModel (tf_cyclegan.models.contract),
which the loop runs whatever the model."""

from __future__ import annotations

from tf_cyclegan.core import catalog
from tf_cyclegan.core.config import config_values
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.core.moved import forwarding

__getattr__ = forwarding(__name__)  # version 0.1 kept the network builders here


def model_class(name: str):
    """The class of --model NAME."""
    entry = catalog.MODEL_CATALOG.get(name)
    if entry is None:
        raise RunError(f"--model {name}: not a model of this version (tf_cyclegan.core.catalog.MODELS lists "
                       "them); a run made by a newer version needs that version")
    return catalog.resolve(entry.cls)


def trains_on_pairs(config) -> bool:
    """Whether a run (its Config, or its config's values as a dict) trains on pairs, as pix2pix does."""
    values = config_values(config)
    return model_class(values.get("model", "cycle_gan")).paired(values)
