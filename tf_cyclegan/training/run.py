"""A training run: everything around the model's step, from the config to the run folder.

train() holds the run folder (one training at a time: tf_cyclegan.training.lock), loads and checks the data,
builds the model that --model names, restores its newest readable checkpoint and hands both to the loop
(tf_cyclegan.training.loop). The data pipeline is a pure function of (seed, step), so a resumed run sees
exactly the data an uninterrupted one would have seen.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from tf_cyclegan.core.checkpoints import CheckpointFolder
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.core.layout import RunFolder, default_output
from tf_cyclegan.data.paired import Pairs
from tf_cyclegan.data.pipeline import PairedData, TrainingData, Unpaired
from tf_cyclegan.data.sources import load_domains, load_pairs
from tf_cyclegan.models import model_class, trains_on_pairs
from tf_cyclegan.training.distribute import cpu_has_amx, describe, is_chief, make_strategy
from tf_cyclegan.training.lock import hold_folder
from tf_cyclegan.training.loop import Loop


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped training after a checkpoint; `signum` says which."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


_FROM_CONFIG = object()


def train(config: Config, domains=None, log=print, strategy=_FROM_CONFIG, model_ready=None) -> Path:
    """Train (or resume) the run in config.output; returns the run folder.

    `domains` lets tests and notebooks pass already-loaded data; by default config.dataset is loaded.
    `strategy`: a tf.distribute strategy, or None for one device; by default --strategy decides.
    `model_ready(model)` is called with the model once its checkpoint is restored, so that a caller can
    look at the networks (a multi-worker run's other workers keep no checkpoint of their own).
    Raises a tf_cyclegan.core.errors.Error with a one-line message (a RunError naming the holder's PID when
    another training holds the run folder: tf_cyclegan.training.lock), TrainingInterrupted after a checkpoint
    on Ctrl-C or SIGTERM.
    """
    if strategy is _FROM_CONFIG:  # first: multi-worker and TPU set-up must precede every other TF op
        strategy = make_strategy(config.strategy, config.tpu)
    # Grappler's remapper gives up on the CycleGAN step graph (LeakyReLU gradients) and logs an alarming
    # "remapper failed" error; the step is as fast without it (docs/performance.md, Levers tried).
    tf.config.optimizer.set_experimental_options({"remapping": False})
    run = RunFolder(config.output or default_output(config.dataset))
    _check_strategy(config, strategy)
    # The chief holds the run folder from before its first write to its end (a second training into it is
    # refused); the other workers of a multi-worker run write only to scratch folders and take no lock.
    with hold_folder(run.root, run.lock, log) if is_chief(strategy) else contextlib.nullcontext():
        check_resume(config, run)
        return _train(config, domains, log, strategy, model_ready, run)


def _train(config: Config, domains, log, strategy, model_ready, run: RunFolder) -> Path:
    """train() in a run folder that is ours."""
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    data = _load_data(config, domains, run, strategy, log)
    model, checkpoints = _start(config, data, run, strategy, log)
    if model_ready:
        model_ready(model)
    total = config.total_epochs * data.steps_per_epoch
    end = total if config.max_steps is None else min(total, config.max_steps)
    if model.step_count >= end:
        log(f"Nothing to do: the run is at step {model.step_count} of {end} (raise --n_epochs, "
            "--n_epochs_decay or --max_steps to train longer)")
        return run.root
    loop = Loop(config, model, data, run, checkpoints, strategy)
    step, rate = loop.run(end)
    if loop.stop.requested:
        raise TrainingInterrupted(
            f"{signal.Signals(loop.stop.signum).name}: stopped at step {step} ({rate:.2f} steps/s); checkpoint "
            f"{checkpoints.latest} saved. Run the same command again to resume.", loop.stop.signum)
    if step < total:
        log(f"Paused at step {step} of {total} (--max_steps {config.max_steps}); run the command again "
            "with a larger --max_steps, or without it, to continue.")
    else:
        log(f"Done: {step} steps ({rate:.2f} steps/s). Run folder: {run.root}")
    return run.root


def check_resume(config: Config, run: RunFolder) -> Config | None:
    """The saved config of an existing run, after refusing a resume that would not be the same run."""
    if not run.config.exists():
        return None
    saved = run.read_config()
    problems = config.incompatibilities(saved)
    if problems:
        raise RunError(f"--output {run.root} holds a run with another configuration; use another --output "
                       "or repeat the run's options. Differences: " + "; ".join(problems))
    return saved


def _check_strategy(config: Config, strategy):
    """Refuse what cannot work under the strategy before the run folder is touched."""
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if strategy is not None and config.jit_compile:
        raise RunError(f"--jit_compile: not with {type(strategy).__name__} (--strategy {config.strategy}); XLA "
                       "compiles the step on one device: use --strategy default")
    if config.batch_size % replicas:
        raise RunError(f"--batch_size {config.batch_size} does not split over {replicas} replicas; use a multiple "
                       f"of {replicas} (the batch size is global: each replica trains on batch_size / replicas)")


def _load_data(config: Config, domains, run: RunFolder, strategy, log) -> TrainingData:
    """The training data (unpaired domains, or pairs for a model that trains on pairs), every image checked
    once (the unusable ones skipped and listed); only the chief writes the report into the run folder."""
    paired = trains_on_pairs(config)
    if domains is None:
        domains = load_pairs(config.dataset, config.paired) if paired else load_domains(config.dataset, config.data_dir)
    if paired != isinstance(domains, Pairs):
        raise RunError(f"--model {config.model} trains on {'pairs' if paired else 'unpaired domains'}; the data "
                       f"given is {type(domains).__name__}")
    try:
        run.root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"--output {run.root}: cannot create it ({e.strerror or e})") from None
    started = time.perf_counter()
    splits = (domains.train, domains.test) if paired else (domains.train_a, domains.train_b, domains.test_a,
                                                            domains.test_b)
    n_items = sum(len(s) for s in splits if s)
    scratch = None if is_chief(strategy) else tempfile.mkdtemp(prefix="tf_cyclegan_worker_")
    report = Path(scratch) / "data_report.tsv" if scratch else run.data_report
    try:
        domains, n_bad = domains.checked(config.max_image_pixels, config.max_bad_fraction, report)
    except OSError as e:
        raise RunError(f"cannot write {report}: {e.strerror or e}") from None
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    data = PairedData.from_pairs(domains, config) if paired else Unpaired.from_domains(domains, config)
    if strategy is not None and data.image_shape is None:
        raise RunError(f"images of varying sizes (--preprocess {config.preprocess}) train one per step on one "
                       "device: use --strategy default, or a --preprocess that crops")
    log(f"Data: {domains.description}: {data.summary()}; {data.steps_per_epoch} steps per epoch, "
        f"{config.total_epochs} epochs, "
        f"{config.total_epochs * data.steps_per_epoch} steps" + _shape_note(config, data)
        + (f"; {domains.ignored} non-image files ignored" if domains.ignored else ""))
    log(f"Checked {n_items} {'pairs' if paired else 'images'} in {time.perf_counter() - started:.1f} s"
        + (f": {n_bad} {'unusable' if paired else 'unreadable'}, skipped and listed in {run.data_report}"
           if n_bad else ": all usable"))
    return data


def _shape_note(config: Config, data: TrainingData) -> str:
    if config.crops:
        return ""
    if data.image_shape:
        return f"; every image is {data.image_shape[1]}x{data.image_shape[0]} after --preprocess {config.preprocess}"
    return (f"; image sizes vary (up to {data.max_shape[1]}x{data.max_shape[0]} after --preprocess "
            f"{config.preprocess}): one image per step")


def _start(config: Config, data: TrainingData, run: RunFolder, strategy, log):
    """The model, restored from the run's newest readable checkpoint when there is one, and its
    checkpoint folder; the chief writes config.json and domains.json."""
    replicas = strategy.num_replicas_in_sync if strategy else 1
    log(f"Devices: {describe(strategy)}" + (f"; {config.batch_size // replicas} image(s) per replica per step"
                                             if strategy else ""))
    accelerators = [d for kind in ("GPU", "TPU") for d in tf.config.list_logical_devices(kind)]
    if config.mixed_precision == "off" and not accelerators and cpu_has_amx():
        log("Hint: this CPU has AMX units for bfloat16; --mixed_precision bf16 trains the paper's networks 2-3x "
            "faster on one at 128x128 and above (docs/performance.md)")
    model = model_class(config.model)(config, data.steps_per_epoch, data.max_shape,
                                      variable_size=data.image_shape is None, strategy=strategy)
    checkpoints = CheckpointFolder(model.checkpoint, run.checkpoints, config.keep_checkpoints, model.step,
                                   log=log, restore=model.restore, writer=is_chief(strategy))
    restored = checkpoints.restore()
    if restored:
        log(f"Resuming from {restored} (step {model.step_count}, "
            f"epoch {model.step_count // data.steps_per_epoch + 1})")
    else:
        log(f"Starting a new run in {run.root}")
    if is_chief(strategy):
        run.write(run.config, config.to_json())
        run.write(run.domains, json.dumps({"X": data.name_x, "Y": data.name_y}, indent=2))
    return model, checkpoints
