"""The run: everything around a model's train step.

The loop loads and checks the data, builds the model that --model names, restores its newest readable
checkpoint, feeds it batches, and owns checkpoint cadence and retention, Ctrl-C and SIGTERM, non-finite
steps, TensorBoard, the progress bar, --eval_every, --max_steps and, under tf.distribute, which worker
writes. The data pipeline is a pure function of (seed, step), so a resumed run sees exactly the data an
uninterrupted one would have seen.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tf_cyclegan import directions
from tf_cyclegan.checkpoints import CheckpointFolder
from tf_cyclegan.config import Config
from tf_cyclegan.data import Unpaired, load_domains
from tf_cyclegan.distribute import cpu_has_amx, describe, is_chief, is_multi_worker, make_strategy
from tf_cyclegan.errors import RunError, first_line
from tf_cyclegan.inference import inference_generator
from tf_cyclegan.layout import RunFolder, default_output
from tf_cyclegan.metrics import measure, summary_lines
from tf_cyclegan.models import model_class
from tf_cyclegan.paired import PairedData, Pairs, load_pairs
from tf_cyclegan.samples import save_png
from tf_cyclegan.translators import keras_translator


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped training after a checkpoint; `signum` says which."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


_FROM_CONFIG = object()

# How a lost worker shows itself to the others (its collectives fail or are aborted by the health check).
_WORKER_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                tf.errors.DeadlineExceededError, tf.errors.InternalError)


def train(config: Config, domains=None, log=print, strategy=_FROM_CONFIG, model_ready=None) -> Path:
    """Train (or resume) the run in config.output; returns the run folder.

    `domains` lets tests and notebooks pass already-loaded data; by default config.dataset is loaded.
    `strategy`: a tf.distribute strategy, or None for one device; by default --strategy decides.
    `model_ready(model)` is called with the model once its checkpoint is restored, so that a caller can
    look at the networks (a multi-worker run's other workers keep no checkpoint of their own).
    Raises a tf_cyclegan.errors.Error with a one-line message, TrainingInterrupted after a checkpoint on
    Ctrl-C or SIGTERM.
    """
    if strategy is _FROM_CONFIG:  # first: multi-worker and TPU set-up must precede every other TF op
        strategy = make_strategy(config.strategy, config.tpu)
    # Grappler's remapper gives up on the CycleGAN step graph (LeakyReLU gradients) and logs an alarming
    # "remapper failed" error; the step is as fast without it (docs/performance.md, Levers tried).
    tf.config.optimizer.set_experimental_options({"remapping": False})
    run = RunFolder(config.output or default_output(config.dataset))
    _check_run(config, strategy, run)
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


def _check_run(config: Config, strategy, run: RunFolder):
    """Refuse what cannot work before any data is read or network built."""
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if strategy is not None and config.jit_compile:
        raise RunError(f"--jit_compile: not with {type(strategy).__name__} (--strategy {config.strategy}); XLA "
                       "compiles the step on one device: use --strategy default")
    if config.batch_size % replicas:
        raise RunError(f"--batch_size {config.batch_size} does not split over {replicas} replicas; use a multiple "
                       f"of {replicas} (the batch size is global: each replica trains on batch_size / replicas)")
    check_resume(config, run)


def _load_data(config: Config, domains, run: RunFolder, strategy, log) -> Unpaired | PairedData:
    """The training data (unpaired domains, or pairs for a model that trains on pairs), every image checked
    once (the unusable ones skipped and listed); only the chief writes the report into the run folder."""
    paired = model_class(config.model).PAIRED
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


def _shape_note(config: Config, data: Unpaired) -> str:
    if config.crops:
        return ""
    if data.image_shape:
        return f"; every image is {data.image_shape[1]}x{data.image_shape[0]} after --preprocess {config.preprocess}"
    return (f"; image sizes vary (up to {data.max_shape[1]}x{data.max_shape[0]} after --preprocess "
            f"{config.preprocess}): one image per step")


def _start(config: Config, data: Unpaired, run: RunFolder, strategy, log):
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


class Loop:
    """Feeds the model's train step from the run's current step to `end`, and does what the run needs
    between steps: logs, evaluation, checkpoints, sample grids, stops."""

    def __init__(self, config: Config, model, data: Unpaired, run: RunFolder, checkpoints: CheckpointFolder,
                 strategy):
        self.config, self.model, self.data, self.folder, self.checkpoints = config, model, data, run, checkpoints
        self.chief, self.multi_worker = is_chief(strategy), is_multi_worker(strategy)
        self.samples = data.sample_batch(config) if config.n_samples and self.chief else None
        self.writer = (tf.summary.create_file_writer(str(run.logs)) if self.chief
                       else tf.summary.create_noop_writer())
        self.evaluator = Evaluator(model, data, config) if config.eval_every and self.chief else None
        self.dataset = self._dataset(strategy, model.step_count)
        self.stop = StopRequest()
        self.nonfinite = 0  # consecutive non-finite steps

    def _dataset(self, strategy, start: int):
        if strategy is None:
            return self.data.train_dataset(self.config, start_step=start)
        return strategy.distribute_datasets_from_function(
            lambda context: self.data.train_dataset(self.config, start_step=start, input_context=context))

    def run(self, end: int) -> tuple[int, float]:
        """Train to step `end` (or a stop request); (the step reached, steps per second)."""
        step = start_step = self.model.step_count
        started = time.perf_counter()
        bar = tqdm(total=end, initial=step, unit="step", dynamic_ncols=True, mininterval=1.0, disable=not self.chief)
        # Workers must stop at the same step, so a multi-worker run keeps the default signal handling: a
        # signal stops the process, and every worker resumes from the last checkpoint.
        handling = contextlib.nullcontext(self.stop) if self.multi_worker else self.stop.installed()
        try:
            with handling:
                for batch in self.dataset:
                    step += 1
                    self._after_step(step, end, self.model.train_step(*batch), bar)
                    if self.stop.requested or step >= end:
                        break
        except _WORKER_LOST as e:
            if not self.multi_worker:
                raise
            raise RunError(f"lost contact with another worker at step {step} ({first_line(e, 200)}); start every "
                           f"worker again with the same command to resume from "
                           f"{self.checkpoints.latest or 'the start'}") from None
        finally:
            bar.close()
            self.writer.flush()
        if step % self.data.steps_per_epoch and step % self.config.save_latest_freq:  # mid-epoch: resume here
            self.save()
        return step, (step - start_step) / max(time.perf_counter() - started, 1e-9)

    def _after_step(self, step: int, end: int, logs: dict, bar):
        c, model = self.config, self.model
        epoch = (step - 1) // self.data.steps_per_epoch + 1
        finite = bool(logs.pop("finite"))
        values = {k: float(v) for k, v in logs.items()}
        self._count_nonfinite(step, finite, values)
        bar.set_description(f"epoch {epoch}/{c.total_epochs}", refresh=False)
        bar.set_postfix({k.removeprefix("loss_"): f"{v:.3g}" for k, v in values.items() if k != "loss_scale"},
                        refresh=False)
        bar.update(1)
        if finite and (step % c.print_freq == 0 or step == end):
            with self.writer.as_default(step=step):
                for name, value in values.items():
                    tf.summary.scalar(name, value)
        if self.evaluator and finite and step % c.eval_every == 0:
            tqdm.write(self.evaluator(self.writer, step))
        if model.plateau and step % self.data.steps_per_epoch == 0 and (lr := model.plateau.end_epoch()):
            tqdm.write(f"epoch {epoch}: the mean generator loss has not improved by 1% for "
                       f"{model.plateau.patience + 1} epochs; learning rate lowered to {lr:.3g}")
        if self.nonfinite:  # no checkpoint inside a run of skipped steps: resume from before it
            return
        if step % self.data.steps_per_epoch == 0:
            path = self.end_epoch(epoch)
            tqdm.write(f"epoch {epoch}/{c.total_epochs} done at step {step}: checkpoint {path}"
                       + (f", samples {self.folder.sample(epoch)}" if self.samples is not None else ""))
        elif step % c.save_latest_freq == 0:
            self.save()

    def _count_nonfinite(self, step: int, finite: bool, values: dict):
        """A skipped step is reported; --max_nonfinite of them in a row stop the run."""
        if finite:
            self.nonfinite = 0
            if self.model.plateau:
                self.model.plateau.observe(sum(v for k, v in values.items() if k in self.model.GENERATOR_LOSSES))
            return
        self.nonfinite += 1
        bad = ", ".join(f"{k}={v}" for k, v in values.items() if not np.isfinite(v)) or "a gradient"
        tqdm.write(f"step {step}: non-finite {bad}; update skipped ({self.nonfinite} in a row, stopping at "
                   f"--max_nonfinite {self.config.max_nonfinite})", file=sys.stderr)
        if self.nonfinite >= self.config.max_nonfinite:
            raise RunError(f"stopped at step {step}: {self.nonfinite} consecutive steps had non-finite losses "
                           "(check the data, or lower --lr); last good checkpoint: "
                           f"{self.checkpoints.latest or 'none'}")

    def save(self) -> str:
        model = self.model
        model.epoch.assign(model.step_count // self.data.steps_per_epoch)
        model.before_save()
        weights = [w for net in model.networks.values() for w in net.weights]
        return self.checkpoints.save(model.step_count, weights)

    def end_epoch(self, epoch: int) -> str:
        """The epoch's checkpoint, then its sample grid (PNG and TensorBoard)."""
        path = self.save()
        if self.samples is None:
            return path
        grid = self.model.sample_grid(*self.samples)
        try:
            save_png(self.folder.sample(epoch), grid)
        except OSError as e:
            raise RunError(f"cannot write {self.folder.samples}: {e.strerror or e}; checkpoint {path} was "
                           "written") from None
        with self.writer.as_default(step=self.model.step_count):
            tf.summary.image("samples", grid[None], max_outputs=1)
        return path


class StopRequest:
    """First Ctrl-C or SIGTERM: finish the step, checkpoint, exit. A second Ctrl-C stops at once."""

    def __init__(self):
        self.requested = False
        self.signum = None

    def __call__(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested, self.signum = True, signum
        tqdm.write(f"\n{signal.Signals(signum).name}: finishing this step, then saving a checkpoint "
                   "(Ctrl-C again to stop at once)", file=sys.stderr)

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class Evaluator:
    """--eval_every: evaluate's measures on fixed test images, logged under eval/ in TensorBoard with
    evaluate's names (a2b is the A -> B generator, whichever of the model's networks that is; a model with
    one direction has only its own)."""

    def __init__(self, model, data: Unpaired, config: Config):
        real_x, real_y = data.eval_images(config)
        self.test_a, self.test_b = directions.swap_ab((real_x, real_y), config.direction)
        self.model = model
        # Train-mode copies of the generators and their translators, made once and brought up to the
        # generators' weights at each measurement.
        self.copies = {d: inference_generator(net, "train") for d, net in model.translators().items()}
        self.translators = {d: keras_translator(copy) for d, copy in self.copies.items()}
        self.paired = data.paired
        self.domains = directions.ab_names({"X": data.name_x, "Y": data.name_y}, config.direction)

    def __call__(self, writer, step: int) -> str:
        # The generators as evaluate runs them by default: the reference's test mode, with the weights of now.
        for direction, net in self.model.translators().items():
            inference_generator(net, "train", copy=self.copies[direction])
        t = self.translators
        results, _ = measure(t.get("a2b"), t.get("b2a"), self.test_a, self.test_b, self.paired)
        with writer.as_default(step=step):
            for direction, values in results.items():
                for name, value in values.items():
                    if name != "images":
                        tf.summary.scalar(f"eval/{direction}_{name}", value)
        lines = summary_lines({"domains": self.domains, **results})
        return (f"step {step}: eval on {len(self.test_a)} + {len(self.test_b)} test images\n" + "\n".join(lines))
