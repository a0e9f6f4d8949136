"""Trained generators read back as Keras models: a run's from its checkpoints, and .keras files. Here, below
the runtime, so that a model that learns from another (distillation's teacher) can open one too."""

from __future__ import annotations

import os
from pathlib import Path

from tf_cyclegan.core import directions as naming
from tf_cyclegan.core import layout
from tf_cyclegan.core.errors import CheckpointError, ModelError, first_line


def load_generators(run: str | os.PathLike, checkpoint: int | None = None, log=print):
    """(config, {direction: generator}, {"A": name, "B": name}, checkpoint path): the run's generators alone,
    restored from its newest readable checkpoint (the one training would resume from) or from ckpt-N."""
    import tensorflow as tf

    from tf_cyclegan.core.checkpoints import restore_newest
    from tf_cyclegan.models import model_class

    folder = layout.RunFolder(run)
    config = folder.read_config()
    model = model_class(config.model)
    generators = model.build_generators(config)
    reader = tf.train.Checkpoint(**generators)
    path = restore_newest(folder.checkpoints, lambda prefix: reader.read(prefix).expect_partial()
                          .assert_existing_objects_matched(), log, step=checkpoint,
                          advice="pass --checkpoint N of a readable one, or use another run")
    if path is None:
        raise CheckpointError(f"--run {run}: no checkpoint in {folder.checkpoints} yet; train first")
    names = naming.ab_names(folder.read_domain_names(), config.direction)
    return config, naming.by_direction(generators, model.sources(config), config.direction), names, path


def load_keras_file(path: Path):
    """A generator saved with model.save("G.keras"), loaded in Keras' safe mode, which refuses Lambda
    layers and pickled code (stated here on purpose: safe_mode=False appears nowhere)."""
    import keras

    import tf_cyclegan.models.modes  # noqa: F401  (registers the custom layers for deserialisation)
    import tf_cyclegan.models.networks.layers  # noqa: F401

    try:
        return keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as e:
        raise ModelError(f"--model {path}: refused or unreadable Keras file ({first_line(e)})") from None
