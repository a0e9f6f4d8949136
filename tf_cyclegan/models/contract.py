"""What a translation model is to the loop, and the plumbing that every model's train step shares.

A model's step is written per replica: it computes the paper's losses on its share of the batch, their
gradients, and the changes it would make. The shared step (TranslationModel._train_step) runs it on every
replica, applies the changes only when every loss and gradient on every replica is finite, counts the step
either way and returns the logs. Everything that decides what the next step does (weights, optimizer
moments, step counter, RNG, learning-rate state, the model's own state such as image pools) is in one
tf.train.Checkpoint, so a run that is stopped and started again ends with the weights of one that never
stopped.
"""

from __future__ import annotations

import abc

import keras
import numpy as np
import tensorflow as tf

from tf_cyclegan.core import directions
from tf_cyclegan.core.config import MIXED_PRECISION, Config
from tf_cyclegan.models.networks import build_generator, dtype_policy, generator_options
from tf_cyclegan.models.schedules import PlateauDecay, make_schedule


class TranslationModel(abc.ABC):
    """The contract with the loop. A subclass sets the class attributes and implements the abstract methods;
    `networks` and `generators` name its Keras models. A class that misses one fails when it is defined,
    not when a run first calls it (pass `abstract=True` in the class statement for a partial base).

    Constructed with the run's config, the epoch length (for the learning-rate schedule), the training image
    shape (height, width; default crop_size square), whether image sizes vary from step to step (then the
    largest is image_shape and the batch is one image), and a tf.distribute strategy (None: one device).
    """

    LOSS_NAMES: tuple[str, ...] = ()  # every loss train_step logs
    GENERATOR_LOSSES: tuple[str, ...] = ()  # their part that --lr_policy plateau watches
    GENERATOR_SOURCES: dict[str, str] = {}  # {generator name: the domain it translates from, "X" or "Y"}
    PAIRED: bool = False  # trains on pairs (x, its y) rather than on two unpaired collections

    def __init_subclass__(cls, abstract: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        missing = sorted(name for name in dir(cls) if getattr(getattr(cls, name, None), "__isabstractmethod__", False))
        if not cls.GENERATOR_SOURCES or not cls.LOSS_NAMES:
            missing += [name for name in ("GENERATOR_SOURCES", "LOSS_NAMES") if not getattr(cls, name)]
        if not set(cls.GENERATOR_LOSSES) <= set(cls.LOSS_NAMES):
            missing.append("GENERATOR_LOSSES among LOSS_NAMES")
        if missing:
            raise TypeError(f"{cls.__name__} does not fulfil the TranslationModel contract: it lacks "
                            f"{', '.join(missing)} (tf_cyclegan.models.contract)")

    def __init__(self, config: Config, steps_per_epoch: int, image_shape: tuple[int, int] | None = None,
                 variable_size: bool = False, strategy: tf.distribute.Strategy | None = None):
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.replicas = self.strategy.num_replicas_in_sync
        self.loss_scaling = config.mixed_precision == "fp16"
        # One call of a network on several equal-sized images computes what separate calls do when its norms
        # are per image (not batch norm), and is faster; --low_memory gives that up for a lower peak.
        self.batch_passes = config.norm != "batch" and not variable_size and not config.low_memory
        # Batch norm over several replicas takes the global batch's statistics, as one device would.
        self.synchronized = self.replicas > 1
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():  # everything with state, so that it is mirrored on the replicas
            with dtype_policy(MIXED_PRECISION[config.mixed_precision]):
                self._build_networks(config)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.schedule = make_schedule(config, steps_per_epoch)
            self.plateau = self.schedule if isinstance(self.schedule, PlateauDecay) else None
            self._build_state(config, (*(image_shape or (config.crop_size, config.crop_size)), 3), variable_size)
            self.rng = tf.random.Generator.from_seed(config.seed)  # in the scope: a stream per replica
        self.saved_config = tf.Variable(config.to_json(), trainable=False, name="config")
        self.checkpoint = tf.train.Checkpoint(**self._checkpointed())
        any_size = [tf.TensorSpec([1, None, None, 3], tf.float32)] * 2
        # XLA compiles one program per input shape, so images of varying sizes run without it.
        self.train_step = tf.function(self._train_step, input_signature=any_size if variable_size else None,
                                      jit_compile=bool(config.jit_compile and not variable_size) or None)

    # -- what a model provides --------------------------------------------------------------------
    @abc.abstractmethod
    def _build_networks(self, config: Config):
        """Create the networks (in the run's dtype policy)."""

    @abc.abstractmethod
    def _build_state(self, config: Config, image_shape: tuple[int, int, int], variable_size: bool):
        """Create self.optimizers ({checkpoint key: optimizer}, see adam) and any other state of the step."""

    @abc.abstractmethod
    def _state(self) -> dict:
        """{checkpoint key: trackable} of the model's own state: networks, optimizers, ..."""

    @abc.abstractmethod
    def _replica_step(self, *batch):
        """(losses, nonfinite, update) for one replica's share of the batch, changing nothing: `update` is
        what _apply(*update) applies when every replica's step was finite."""

    @abc.abstractmethod
    def _apply(self, *update):
        """Apply a step's update (the optimizers' apply_gradients)."""

    @property
    @abc.abstractmethod
    def networks(self) -> dict[str, keras.Model]:
        """Every network the step trains, by name."""

    @abc.abstractmethod
    def sample_grid(self, *batch) -> np.ndarray:
        """The uint8 picture of what the generators do to fixed test images, saved at each epoch's end."""

    # -- shared ---------------------------------------------------------------------------------------
    @classmethod
    def sources(cls, config: Config) -> dict[str, str]:
        """{generator name: source domain} of a run of this model: GENERATOR_SOURCES, unless the run's config
        decides (a distilled student has as many generators as its teacher)."""
        return cls.GENERATOR_SOURCES

    @classmethod
    def paired(cls, values: dict) -> bool:
        """Whether a run of this model trains on pairs, from its config's values (a run's config.json, or an
        export's training_config): PAIRED, unless they decide (a student learns on its teacher's data)."""
        return cls.PAIRED

    @property
    def generators(self) -> dict[str, keras.Model]:
        """The networks that export writes, by name."""
        return {name: self.networks[name] for name in self.sources(self.config)}

    def translators(self) -> dict[str, keras.Model]:
        """The generators by direction (a2b, b2a), for --eval_every."""
        return directions.by_direction(self.generators, self.sources(self.config), self.config.direction)

    @classmethod
    def build_generators(cls, config: Config) -> dict[str, keras.Model]:
        """Fresh generators of a run's config, to restore from its checkpoints without the rest (export)."""
        return {name: build_generator(**generator_options(config), name=name) for name in cls.sources(config)}

    @property
    def step_count(self) -> int:
        """The step counter as a Python int (a MirroredVariable, unlike a plain one, has no __int__)."""
        return int(self.step.numpy())

    def _checkpointed(self) -> dict:
        common = dict(rng=self.rng, step=self.step, epoch=self.epoch, config=self.saved_config)
        # Keras keeps each Dropout's random stream in a seed generator that the networks' checkpoints lack;
        # without it a resumed run would draw other dropout masks.
        seeds = [layer.seed_generator.state for net in self.networks.values() for layer in net.layers
                 if isinstance(layer, keras.layers.Dropout)]
        return {**self._state(), **common, **({"lr_plateau": self.plateau} if self.plateau else {}),
                **({"dropout_seeds": seeds} if seeds else {})}

    def restore(self, prefix: str):
        """Load a checkpoint, every object of this model matched."""
        saved = self.restorable(prefix)
        if saved.keys() == self._checkpointed().keys():
            return self.checkpoint.restore(prefix).assert_existing_objects_matched()
        tf.train.Checkpoint(**saved).restore(prefix).expect_partial().assert_existing_objects_matched()

    def restorable(self, prefix: str, leave_out=()) -> dict:
        """The checkpointed objects that the checkpoint at prefix holds, less `leave_out`: a checkpoint
        written before dropout streams were checkpointed (version 0.2) has none, and its run resumes with
        fresh ones."""
        keys = {name.split("/")[0] for name in tf.train.load_checkpoint(prefix).get_variable_to_shape_map()}
        return {k: v for k, v in self._checkpointed().items()
                if k not in leave_out and (k != "dropout_seeds" or k in keys)}

    def before_save(self):
        """Called on every worker before each checkpoint (the place to gather per-replica state)."""

    def adam(self) -> keras.optimizers.Optimizer:
        """Adam at the run's learning rate, with PyTorch's epsilon (1e-8, not Keras' 1e-7) as the reference.
        The rate follows our step counter, which also counts skipped (non-finite) steps, not the optimizer's
        update counter. With fp16, a LossScaleOptimizer: float16 gradients underflow, so each loss is scaled
        up (halved on overflow, when the step is skipped; doubled after 2000 good steps) and the gradients
        back down; its state is checkpointed with the optimizer."""
        c = self.config
        optimizer = keras.optimizers.Adam(lambda: self.schedule(self.step), beta_1=c.beta1, epsilon=1e-8)
        return keras.optimizers.LossScaleOptimizer(optimizer) if self.loss_scaling else optimizer

    def _passes(self, net, *images):
        """net(images[0]), net(images[1]), ...: in one call on the concatenated batch where that computes the
        same (see batch_passes): two images in one call cost much less than two calls, but the call holds
        more memory at the step's peak, which is what --low_memory saves (docs/performance.md)."""
        if len(images) == 1 or not self.batch_passes:
            return [net(x, training=True) for x in images]
        return tf.split(net(tf.concat(images, axis=0), training=True), len(images), axis=0)

    def _scaled(self, loss, optimizer):
        """A replica's loss as its optimizer should differentiate it, on the tape: the optimizers sum the
        replicas' gradients, so each replica's loss counts 1/replicas (the update is that of the mean loss
        over the global batch); loss scaling (fp16) multiplies, and without it scale_loss returns the loss."""
        if self.replicas > 1:
            loss = loss / self.replicas
        return optimizer.scale_loss(loss)

    def _nonfinite(self, losses: dict, gradients) -> tf.Tensor:
        """1.0 when a loss or gradient is not finite, else 0.0. With loss scaling, non-finite (scaled)
        gradients are the loss scale's overflow, which its optimizer handles; the losses are still checked."""
        checked = [*losses.values()] + ([] if self.loss_scaling else [g for grads in gradients for g in grads])
        return 1.0 - tf.cast(tf.reduce_all([tf.reduce_all(tf.math.is_finite(t)) for t in checked]), tf.float32)

    def _train_step(self, *batch):
        """One step on the global batch: a non-finite loss or gradient on any replica changes nothing
        (weights, optimizer moments, the model's state); the step is counted either way and the loop decides
        whether to go on. The decision is taken here, across replicas, because an update (which sums
        gradients over replicas) cannot be made conditional inside one replica's function."""
        lr = self.schedule(self.step)
        # Batch norm moves its running statistics in the forward pass; a skipped step puts them back.
        statistics = [v for net in self.networks.values() for v in net.non_trainable_variables]
        before = [tf.identity(v) for v in statistics]
        losses, nonfinite, update = self.strategy.run(self._replica_step, args=batch)
        finite = tf.equal(self.strategy.reduce(tf.distribute.ReduceOp.SUM, nonfinite, axis=None), 0.0)

        def apply():
            self.strategy.run(self._apply, args=update)
            return tf.constant(True)

        def reject():
            for variable, value in zip(statistics, before):
                variable.assign(value)
            return tf.constant(False)

        finite = tf.cond(finite, apply, reject)
        self.step.assign_add(1)
        logs = {name: self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in losses.items()}
        # Every optimizer scales its own loss; the first one's scale is logged.
        scales = {"loss_scale": next(iter(self.optimizers.values())).dynamic_scale} if self.loss_scaling else {}
        return {**logs, "lr": lr, **scales, "finite": finite}
