"""The loop around a model's train step: it feeds batches from the run's current step to its end, and does
what the run needs between steps: logs, evaluation, checkpoints and their cadence, sample grids, Ctrl-C and
SIGTERM, non-finite steps, and under tf.distribute which worker writes."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tf_cyclegan.core.checkpoints import CheckpointFolder
from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import RunError, first_line
from tf_cyclegan.core.layout import RunFolder
from tf_cyclegan.core.pictures import save_png
from tf_cyclegan.data.pipeline import TrainingData
from tf_cyclegan.training.distribute import is_chief, is_multi_worker
from tf_cyclegan.training.evaluator import Evaluator

# How a lost worker shows itself to the others (its collectives fail or are aborted by the health check).
_WORKER_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                tf.errors.DeadlineExceededError, tf.errors.InternalError)


class Loop:
    """Feeds the model's train step from the run's current step to `end`, and does what the run needs
    between steps: logs, evaluation, checkpoints, sample grids, stops."""

    def __init__(self, config: Config, model, data: TrainingData, run: RunFolder, checkpoints: CheckpointFolder,
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
