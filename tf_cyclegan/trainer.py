"""The CycleGAN: four networks, two optimizers, two image pools, one compiled train step, and the loop.

Everything that decides what the next step does (weights, Adam moments, step counter, pools, the pools'
RNG) is in one tf.train.Checkpoint, and the data pipeline is a pure function of (seed, step), so a run that
is stopped and started again ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from tf_cyclegan.checkpoints import CheckpointFolder
from tf_cyclegan.cli import first_line
from tf_cyclegan.config import MIXED_PRECISION, Config
from tf_cyclegan.data import Unpaired, load_domains
from tf_cyclegan.distribute import cpu_has_amx, describe, is_chief, is_multi_worker, make_strategy
from tf_cyclegan.fileio import atomic_write
from tf_cyclegan.image_pool import ImagePool
from tf_cyclegan.losses import adversarial_loss, discriminator_loss, gradient_penalty, l1_loss
from tf_cyclegan.models import build_discriminator, build_generator, dtype_policy, generator_options
from tf_cyclegan.samples import sample_grid, save_png
from tf_cyclegan.schedule import PlateauDecay, make_schedule

LOSS_NAMES = ("loss_G", "loss_F", "loss_cycle_x", "loss_cycle_y", "loss_idt_x", "loss_idt_y",
              "loss_D_X", "loss_D_Y")
LOG_NAMES = LOSS_NAMES + ("lr", "finite")
GENERATOR_LOSSES = LOSS_NAMES[:6]  # what optimizer_G minimises: their sum


class RunError(Exception):
    """A problem with the run folder (incompatible resume, unreadable config), worded for the user."""


class TrainingInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped training after a checkpoint; `signum` says which."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class CycleGAN:
    """G: X -> Y, F: Y -> X, D_X judges X, D_Y judges Y (the paper's names)."""

    def __init__(self, config: Config, steps_per_epoch: int, image_shape: tuple[int, int] | None = None,
                 variable_size: bool = False, strategy: tf.distribute.Strategy | None = None):
        """image_shape: (height, width) of the training images (default: crop_size square). With
        variable_size, the largest of them: images of any size up to it come one per step, and the step
        is compiled once for all sizes. strategy: a tf.distribute strategy (None: one device); the batch
        the step is given is then the global batch, split over its replicas."""
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.batch_passes = config.norm != "batch" and not variable_size and not config.low_memory
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self._build(config, steps_per_epoch, image_shape, variable_size)
        self.saved_config = tf.Variable(config.to_json(), trainable=False, name="config")
        self.state = dict(G=self.G, F=self.F, D_X=self.D_X, D_Y=self.D_Y, optimizer_G=self.optimizer_G,
                          optimizer_D=self.optimizer_D, rng=self.rng, step=self.step, epoch=self.epoch,
                          config=self.saved_config, **({"lr_plateau": self.plateau} if self.plateau else {}))
        self.checkpoint = tf.train.Checkpoint(**self.state, pool_x=self.pool_x, pool_y=self.pool_y)
        any_size = [tf.TensorSpec([1, None, None, 3], tf.float32)] * 2
        # XLA compiles one program per input shape, so images of varying sizes run without it.
        self.train_step = tf.function(self._train_step, input_signature=any_size if variable_size else None,
                                      jit_compile=bool(config.jit_compile and not variable_size) or None)
        self._gather_pools = tf.function(lambda: self.strategy.run(self._gather_replica_pools))

    def _build(self, config: Config, steps_per_epoch: int, image_shape, variable_size: bool):
        """Everything with state, created in the strategy's scope so that it is mirrored on the replicas."""
        with dtype_policy(MIXED_PRECISION[config.mixed_precision]):
            self.G, self.F = (build_generator(**generator_options(config), name=name) for name in ("G", "F"))
            self.D_X, self.D_Y = (build_discriminator(config.netD, config.ndf, config.n_layers_D, norm=config.norm,
                                                      init_type=config.init_type, init_gain=config.init_gain,
                                                      name=name) for name in ("D_X", "D_Y"))
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.schedule = make_schedule(config, steps_per_epoch)
        self.plateau = self.schedule if isinstance(self.schedule, PlateauDecay) else None
        # The LR follows our step counter, which also counts skipped (non-finite) steps, not the
        # optimizers' update counters. PyTorch's Adam epsilon (1e-8), not Keras' (1e-7), as the reference.
        learning_rate = lambda: self.schedule(self.step)  # noqa: E731
        self.optimizer_G, self.optimizer_D = (keras.optimizers.Adam(learning_rate, beta_1=config.beta1, epsilon=1e-8)
                                              for _ in range(2))
        # float16 gradients underflow: scale each loss up (dynamically: halved on overflow, when the step is
        # skipped, doubled after 2000 good steps) and the gradients back down. Its state is checkpointed.
        self.loss_scaling = config.mixed_precision == "fp16"
        if self.loss_scaling:
            self.optimizer_G, self.optimizer_D = (keras.optimizers.LossScaleOptimizer(o)
                                                  for o in (self.optimizer_G, self.optimizer_D))
        # Build the moments now so a checkpoint restores into them at once, not on first use.
        self.optimizer_G.build(self.generator_variables)
        self.optimizer_D.build(self.discriminator_variables)
        pool_shape = (*(image_shape or (config.crop_size, config.crop_size)), 3)
        self.pool_x, self.pool_y = (ImagePool(config.pool_size, pool_shape, name=name, variable_size=variable_size,
                                              replicas=self.replicas) for name in ("pool_x", "pool_y"))
        # Made in the strategy's scope, it gives each replica its own stream.
        self.rng = tf.random.Generator.from_seed(config.seed)

    @property
    def step_count(self) -> int:
        """The step counter as a Python int (a MirroredVariable, unlike a plain one, has no __int__)."""
        return int(self.step.numpy())

    @property
    def generator_variables(self):
        return self.G.trainable_variables + self.F.trainable_variables

    @property
    def discriminator_variables(self):
        return self.D_X.trainable_variables + self.D_Y.trainable_variables

    def _passes(self, net, *images):
        """net(images[0]), net(images[1]), ...: in one call on the concatenated batch where that computes the
        same thing (norms per image, so not batch norm; equal sizes), which is faster per image (measured:
        a resnet_9blocks forward and backward at 128x128 takes 0.49 s for one image, 0.71 s for two). It
        also holds more memory at the step's peak (measured at 256x256: 3.65 GiB against 3.11 GiB), so
        --low_memory calls the network once per pass."""
        if len(images) == 1 or not self.batch_passes:
            return [net(x, training=True) for x in images]
        return tf.split(net(tf.concat(images, axis=0), training=True), len(images), axis=0)

    def _replica_step(self, real_x, real_y):
        """One replica's share of the step: losses (means over its images), gradients and proposed pool
        changes. Nothing is updated here (see _train_step)."""
        c = self.config
        context = tf.distribute.get_replica_context()
        with tf.GradientTape(persistent=True) as tape:
            # 1. Translate each domain to the other and back; for the identity loss each generator also
            #    sees its own target domain, in the same call as its first pass (see _passes).
            identity = c.lambda_identity > 0
            fake_y, *same_y = self._passes(self.G, real_x, *([real_y] if identity else []))
            fake_x, *same_x = self._passes(self.F, real_y, *([real_x] if identity else []))
            cycled_x = self.F(fake_y, training=True)
            cycled_y = self.G(fake_x, training=True)
            # 2. Generators: fool the discriminators, and come back to where they started.
            loss_G = adversarial_loss(self.D_Y(fake_y, training=True), True, c.gan_mode)
            loss_F = adversarial_loss(self.D_X(fake_x, training=True), True, c.gan_mode)
            loss_cycle_x = c.lambda_A * l1_loss(cycled_x, real_x)
            loss_cycle_y = c.lambda_B * l1_loss(cycled_y, real_y)
            # 3. Identity: a generator given an image of its target domain should leave it alone.
            if identity:
                loss_idt_y = c.lambda_B * c.lambda_identity * l1_loss(same_y[0], real_y)
                loss_idt_x = c.lambda_A * c.lambda_identity * l1_loss(same_x[0], real_x)
            else:
                loss_idt_x = loss_idt_y = tf.constant(0.0)
            loss_generators = loss_G + loss_F + loss_cycle_x + loss_cycle_y + loss_idt_x + loss_idt_y
            # 4. Discriminators: real images against fakes drawn from this replica's history pools.
            replica = context.replica_id_in_sync_group
            pooled_fake_y, next_pool_y = self.pool_y.propose(tf.stop_gradient(fake_y), self.rng, replica)
            pooled_fake_x, next_pool_x = self.pool_x.propose(tf.stop_gradient(fake_x), self.rng, replica)
            loss_D_Y = discriminator_loss(*self._passes(self.D_Y, real_y, pooled_fake_y), c.gan_mode)
            loss_D_X = discriminator_loss(*self._passes(self.D_X, real_x, pooled_fake_x), c.gan_mode)
            if c.gan_mode == "wgangp":  # WGAN-GP: keep the critics 1-Lipschitz between real and fake
                loss_D_Y += gradient_penalty(self.D_Y, real_y, pooled_fake_y, self.rng.uniform([real_y.shape[0]]))
                loss_D_X += gradient_penalty(self.D_X, real_x, pooled_fake_x, self.rng.uniform([real_x.shape[0]]))
            loss_discriminators = loss_D_X + loss_D_Y
            # The optimizers sum the replicas' gradients, so each replica's loss counts 1/replicas: the
            # update is that of the mean loss over the global batch. Loss scaling (fp16) multiplies on
            # the tape; without it scale_loss returns the loss.
            if self.replicas > 1:
                loss_generators, loss_discriminators = (loss / self.replicas
                                                        for loss in (loss_generators, loss_discriminators))
            scaled_generators = self.optimizer_G.scale_loss(loss_generators)
            scaled_discriminators = self.optimizer_D.scale_loss(loss_discriminators)
        # 5. Both updates use gradients taken at the same weights, as the reference's G-then-D order
        #    does (its D step sees fakes made before the G update).
        generator_grads = tape.gradient(scaled_generators, self.generator_variables)
        discriminator_grads = tape.gradient(scaled_discriminators, self.discriminator_variables)
        losses = {"loss_G": loss_G, "loss_F": loss_F, "loss_cycle_x": loss_cycle_x,
                  "loss_cycle_y": loss_cycle_y, "loss_idt_x": loss_idt_x, "loss_idt_y": loss_idt_y,
                  "loss_D_X": loss_D_X, "loss_D_Y": loss_D_Y}
        # With loss scaling, non-finite (scaled) gradients are the loss scale's overflow, which its
        # optimizer handles; the losses are still checked.
        checked = [*losses.values()] + ([] if self.loss_scaling else [*generator_grads, *discriminator_grads])
        nonfinite = 1.0 - tf.cast(tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in checked]), tf.float32)
        return losses, nonfinite, (generator_grads, discriminator_grads, next_pool_x, next_pool_y)

    def _apply(self, generator_grads, discriminator_grads, next_pool_x, next_pool_y):
        self.optimizer_G.apply_gradients(zip(generator_grads, self.generator_variables))
        self.optimizer_D.apply_gradients(zip(discriminator_grads, self.discriminator_variables))
        self.pool_x.commit(next_pool_x)
        self.pool_y.commit(next_pool_y)

    def _train_step(self, real_x, real_y):
        lr = self.schedule(self.step)
        losses, nonfinite, update = self.strategy.run(self._replica_step, args=(real_x, real_y))
        # 6. A non-finite loss or gradient on any replica changes nothing (weights, Adam moments, pools):
        #    the step is counted and skipped, and the loop decides whether to go on. The decision is taken
        #    here, across replicas, because an update (which sums gradients over replicas) cannot be made
        #    conditional inside one replica's function.
        finite = tf.equal(self.strategy.reduce(tf.distribute.ReduceOp.SUM, nonfinite, axis=None), 0.0)

        def apply():
            self.strategy.run(self._apply, args=update)
            return tf.constant(True)

        finite = tf.cond(finite, apply, lambda: tf.constant(False))
        self.step.assign_add(1)
        logs = {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in losses.items()}
        scales = {"loss_scale": self.optimizer_G.dynamic_scale} if self.loss_scaling else {}
        return {**logs, "lr": lr, **scales, "finite": finite}

    def _gather_replica_pools(self):
        self.pool_x.gather()
        self.pool_y.gather()

    def before_save(self):
        """Every replica's image pool into the checkpoint (every worker takes part)."""
        if self.replicas > 1:
            self._gather_pools()

    def restore(self, prefix: str):
        """Restore a checkpoint made on any number of replicas: when its image pools have another number of
        blocks, everything else is restored as usual and the pools are dealt out again (see ImagePool.load)."""
        reader = tf.train.load_checkpoint(prefix)
        saved = reader.get_variable_to_shape_map().get("pool_x/images/.ATTRIBUTES/VARIABLE_VALUE")
        if saved is None or tuple(saved) == tuple(self.pool_x.images.shape):
            self.checkpoint.restore(prefix).assert_existing_objects_matched()
            return
        tf.train.Checkpoint(**self.state).restore(prefix).expect_partial().assert_existing_objects_matched()
        with self.strategy.scope():
            self.pool_x.load(reader, "pool_x")
            self.pool_y.load(reader, "pool_y")


# -- the run folder --------------------------------------------------------------------------------
def default_output(dataset: str) -> str:
    name = dataset.rstrip("/\\").replace("\\", "/").split("/")[-1] or "run"
    return os.path.join("runs", name)


def check_resume(config: Config, run: Path) -> Config | None:
    """The saved config of an existing run, after refusing a resume that would not be the same run."""
    path = run / "config.json"
    if not path.exists():
        return None
    try:
        saved = Config.from_json(path.read_text())
    except (ValueError, TypeError) as e:
        raise RunError(f"{path}: unreadable run config ({e}); use another --output") from None
    problems = config.incompatibilities(saved)
    if problems:
        raise RunError(f"--output {run} holds a run with another configuration; use another --output "
                       "or repeat the run's options. Differences: " + "; ".join(problems))
    return saved


class _StopRequest:
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


def _summaries(writer, logs: dict, step: int):
    with writer.as_default(step=step):
        for name, value in logs.items():
            tf.summary.scalar(name, value)


def _write(path: Path, text: str):
    try:
        atomic_write(path, text)
    except OSError as e:
        raise RunError(f"cannot write {path}: {e.strerror or e}") from None


def _shape_note(config: Config, data: Unpaired) -> str:
    if config.crops:
        return ""
    if data.image_shape:
        return f"; every image is {data.image_shape[1]}x{data.image_shape[0]} after --preprocess {config.preprocess}"
    return (f"; image sizes vary (up to {data.max_shape[1]}x{data.max_shape[0]} after --preprocess "
            f"{config.preprocess}): one image per step")


class _Evaluator:
    """--eval_every: tf_cyclegan.evaluate's measures on fixed test images, logged under eval/ in TensorBoard
    with evaluate's names (a2b is the A -> B generator: G, or F with --direction BtoA)."""

    def __init__(self, model: CycleGAN, data: Unpaired, config: Config):
        from tf_cyclegan.translate import keras_translator

        self.real_x, self.real_y = data.eval_images(config)
        self.G, self.F = keras_translator(model.G), keras_translator(model.F)
        self.paired = data.paired
        self.swapped = config.direction == "BtoA"
        a, b = (data.name_y, data.name_x) if self.swapped else (data.name_x, data.name_y)
        self.domains = {"A": a, "B": b}

    def __call__(self, writer, step: int) -> str:
        from tf_cyclegan.evaluate import measure, summary_lines

        results, _ = measure(self.G, self.F, self.real_x, self.real_y, self.paired)
        if self.swapped:  # measure's a2b is G's direction, X -> Y, which is B -> A here
            results = {"a2b": results["b2a"], "b2a": results["a2b"]}
        with writer.as_default(step=step):
            for direction, values in results.items():
                for name, value in values.items():
                    if name != "images":
                        tf.summary.scalar(f"eval/{direction}_{name}", value)
        lines = summary_lines({"domains": self.domains, **results})
        return f"step {step}: eval on {len(self.real_x)} + {len(self.real_y)} test images\n" + "\n".join(lines)


_FROM_CONFIG = object()

# How a lost worker shows itself to the others (its collectives fail or are aborted by the health check).
_WORKER_LOST = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
                tf.errors.DeadlineExceededError, tf.errors.InternalError)


def train(config: Config, domains=None, log=print, strategy=_FROM_CONFIG, model_ready=None) -> Path:
    """Train (or resume) the run in config.output; returns the run folder.

    `domains` lets tests and notebooks pass already-loaded data; by default config.dataset is loaded.
    `strategy`: a tf.distribute strategy, or None for one device; by default --strategy decides.
    `model_ready(model)` is called with the CycleGAN once its checkpoint is restored, so that a caller can
    look at the networks (a multi-worker run's other workers keep no checkpoint of their own).
    Raises DatasetError / RunError / CheckpointError / StrategyError with a one-line message,
    TrainingInterrupted after a checkpoint on Ctrl-C or SIGTERM.
    """
    if strategy is _FROM_CONFIG:  # first: multi-worker and TPU set-up must precede every other TF op
        strategy = make_strategy(config.strategy, config.tpu)
    # Grappler's remapper gives up on the CycleGAN step graph (LeakyReLU gradients) and logs an alarming
    # "remapper failed" error; measured: the step is equally fast without it (1.85 s vs 1.87 s, 128x128).
    tf.config.optimizer.set_experimental_options({"remapping": False})
    chief, multi_worker = is_chief(strategy), is_multi_worker(strategy)
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if strategy is not None and config.jit_compile:
        raise RunError(f"--jit_compile: not with {type(strategy).__name__} (--strategy {config.strategy}); XLA "
                       "compiles the step on one device: use --strategy default")
    if config.batch_size % replicas:
        raise RunError(f"--batch_size {config.batch_size} does not split over {replicas} replicas; use a multiple "
                       f"of {replicas} (the batch size is global: each replica trains on batch_size / replicas)")
    run = Path(config.output or default_output(config.dataset))
    check_resume(config, run)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    domains = domains or load_domains(config.dataset, config.data_dir)
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"--output {run}: cannot create it ({e.strerror or e})") from None
    started = time.perf_counter()
    n_images = sum(len(s) for s in (domains.train_a, domains.train_b, domains.test_a, domains.test_b) if s)
    scratch = None if chief else tempfile.mkdtemp(prefix="tf_cyclegan_worker_")  # only the chief writes the run
    report = run / "data_report.tsv" if chief else Path(scratch) / "data_report.tsv"
    try:
        domains, n_bad = domains.checked(config.max_image_pixels, config.max_bad_fraction, report)
    except OSError as e:
        raise RunError(f"cannot write {report}: {e.strerror or e}") from None
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    data = Unpaired.from_domains(domains, config)
    if strategy is not None and data.image_shape is None:
        raise RunError(f"images of varying sizes (--preprocess {config.preprocess}) train one per step on one "
                       "device: use --strategy default, or a --preprocess that crops")
    total_steps = config.total_epochs * data.steps_per_epoch
    log(f"Data: {domains.description}: {len(data.x)} {data.name_x} (X) and {len(data.y)} {data.name_y} (Y) "
        f"training images; {data.steps_per_epoch} steps per epoch, {config.total_epochs} epochs, "
        f"{total_steps} steps" + _shape_note(config, data)
        + (f"; {domains.ignored} non-image files ignored" if domains.ignored else ""))
    log(f"Checked {n_images} images in {time.perf_counter() - started:.1f} s"
        + (f": {n_bad} unreadable, skipped and listed in {run / 'data_report.tsv'}" if n_bad else ": all readable"))

    log(f"Devices: {describe(strategy)}" + (f"; {config.batch_size // replicas} image(s) per replica per step"
                                             if strategy else ""))
    accelerators = [d for kind in ("GPU", "TPU") for d in tf.config.list_logical_devices(kind)]
    if config.mixed_precision == "off" and not accelerators and cpu_has_amx():
        log("Hint: this CPU has AMX units for bfloat16; --mixed_precision bf16 trains the paper's networks 2-3x "
            "faster on one at 128x128 and above (README: Performance)")
    model = CycleGAN(config, data.steps_per_epoch, data.max_shape, variable_size=data.image_shape is None,
                     strategy=strategy)
    checkpoints = CheckpointFolder(model.checkpoint, run / "checkpoints", config.keep_checkpoints, model.step,
                                   log=log, restore=model.restore, writer=chief)
    restored = checkpoints.restore()
    if model_ready:
        model_ready(model)
    if restored:
        log(f"Resuming from {restored} (step {model.step_count}, "
            f"epoch {model.step_count // data.steps_per_epoch + 1})")
    else:
        log(f"Starting a new run in {run}")
    if chief:
        _write(run / "config.json", config.to_json())
        _write(run / "domains.json", json.dumps({"X": data.name_x, "Y": data.name_y}, indent=2))

    step = model.step_count
    end = total_steps if config.max_steps is None else min(total_steps, config.max_steps)
    if step >= end:
        log(f"Nothing to do: the run is at step {step} of {end} (raise --n_epochs, --n_epochs_decay or "
            "--max_steps to train longer)")
        return run

    sample_x, sample_y = data.sample_batch(config) if config.n_samples and chief else (None, None)
    writer = tf.summary.create_file_writer(str(run / "logs")) if chief else tf.summary.create_noop_writer()
    evaluator = _Evaluator(model, data, config) if config.eval_every and chief else None
    networks = (model.G, model.F, model.D_X, model.D_Y)
    if strategy is None:
        dataset = data.train_dataset(config, start_step=step)
    else:
        dataset = strategy.distribute_datasets_from_function(
            lambda context, start=step: data.train_dataset(config, start_step=start, input_context=context))

    def save():
        model.epoch.assign(model.step_count // data.steps_per_epoch)
        model.before_save()
        return checkpoints.save(model.step_count, [w for net in networks for w in net.weights])

    def end_epoch(epoch: int):
        path = save()
        if sample_x is not None:
            grid = sample_grid(model.G, model.F, sample_x, sample_y)
            try:
                save_png(run / "samples" / f"epoch_{epoch:03d}.png", grid)
            except OSError as e:
                raise RunError(f"cannot write {run / 'samples'}: {e.strerror or e}; checkpoint {path} was "
                               "written") from None
            with writer.as_default(step=model.step_count):
                tf.summary.image("samples", grid[None], max_outputs=1)
        return path

    stop = _StopRequest()
    start_time, start_step, nonfinite = time.perf_counter(), step, 0
    bar = tqdm(total=end, initial=step, unit="step", dynamic_ncols=True, mininterval=1.0, disable=not chief)
    # Workers must stop at the same step, so a multi-worker run keeps the default signal handling: a
    # signal stops the process, and every worker resumes from the last checkpoint.
    handling = contextlib.nullcontext(stop) if multi_worker else stop.installed()
    try:
        with handling:
            for real_x, real_y in dataset:
                logs = model.train_step(real_x, real_y)
                step += 1
                epoch = (step - 1) // data.steps_per_epoch + 1
                finite = bool(logs.pop("finite"))
                values = {k: float(v) for k, v in logs.items()}
                if finite:
                    nonfinite = 0
                    if model.plateau:
                        model.plateau.observe(sum(v for k, v in values.items() if k in GENERATOR_LOSSES))
                else:
                    nonfinite += 1
                    bad = ", ".join(f"{k}={v}" for k, v in values.items() if not np.isfinite(v)) or "a gradient"
                    tqdm.write(f"step {step}: non-finite {bad}; update skipped "
                               f"({nonfinite} in a row, stopping at --max_nonfinite {config.max_nonfinite})",
                               file=sys.stderr)
                    if nonfinite >= config.max_nonfinite:
                        raise RunError(f"stopped at step {step}: {nonfinite} consecutive steps had non-finite "
                                       "losses (check the data, or lower --lr); last good checkpoint: "
                                       f"{checkpoints.latest or 'none'}")
                bar.set_description(f"epoch {epoch}/{config.total_epochs}", refresh=False)
                bar.set_postfix({k.removeprefix("loss_"): f"{v:.3g}" for k, v in values.items() if k != "loss_scale"},
                                refresh=False)
                bar.update(1)
                if finite and (step % config.print_freq == 0 or step == end):
                    _summaries(writer, values, step)
                if evaluator and finite and step % config.eval_every == 0:
                    tqdm.write(evaluator(writer, step))
                if model.plateau and step % data.steps_per_epoch == 0 and (lr := model.plateau.end_epoch()):
                    tqdm.write(f"epoch {epoch}: the mean generator loss has not improved by 1% for "
                               f"{model.plateau.patience + 1} epochs; learning rate lowered to {lr:.3g}")
                if nonfinite:  # no checkpoint inside a run of skipped steps: resume from before it
                    pass
                elif step % data.steps_per_epoch == 0:
                    path = end_epoch(epoch)
                    tqdm.write(f"epoch {epoch}/{config.total_epochs} done at step {step}: checkpoint {path}"
                               + (f", samples {run / 'samples' / f'epoch_{epoch:03d}.png'}"
                                  if sample_x is not None else ""))
                elif step % config.save_latest_freq == 0:
                    save()
                if stop.requested or step >= end:
                    break
    except _WORKER_LOST as e:
        if not multi_worker:
            raise
        raise RunError(f"lost contact with another worker at step {step} ({first_line(e, 200)}); start every worker "
                       f"again with the same command to resume from {checkpoints.latest or 'the start'}") from None
    finally:
        bar.close()
        writer.flush()
    if step % data.steps_per_epoch and step % config.save_latest_freq:  # mid-epoch: resume here next time
        save()
    rate = (step - start_step) / max(time.perf_counter() - start_time, 1e-9)
    if stop.requested:
        raise TrainingInterrupted(
            f"{signal.Signals(stop.signum).name}: stopped at step {step} ({rate:.2f} steps/s); checkpoint "
            f"{checkpoints.latest} saved. Run the same command again to resume.", stop.signum)
    if step < total_steps:
        log(f"Paused at step {step} of {total_steps} (--max_steps {config.max_steps}); run the command again "
            "with a larger --max_steps, or without it, to continue.")
    else:
        log(f"Done: {step} steps ({rate:.2f} steps/s). Run folder: {run}")
    return run
