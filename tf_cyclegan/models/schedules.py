"""The reference's learning-rate policies: linear, step and cosine as pure functions of the step; plateau,
which depends on the losses seen, with its state in variables that the run's checkpoint holds.

The reference steps its schedulers once per epoch; so do these: the rate is constant within an epoch.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def _epoch(step, steps_per_epoch):
    return tf.cast(tf.math.floordiv(tf.cast(step, tf.int64), steps_per_epoch), tf.float32)


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr for n_epochs, then a line towards 0 over n_epochs_decay epochs, changing once per epoch.

    Epoch e (0-based) trains at lr * (1 - max(0, e + epoch_count - n_epochs) / (n_epochs_decay + 1)): the
    reference's lambda_rule, so the last epoch runs at lr / (n_epochs_decay + 1) and the line meets 0 one
    epoch later; steps past the end stay at 0.
    """

    def __init__(self, lr: float, n_epochs: int, n_epochs_decay: int, steps_per_epoch: int,
                 epoch_count: int = 1):
        self.lr = float(lr)
        self.n_epochs = int(n_epochs)
        self.n_epochs_decay = int(n_epochs_decay)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epoch_count = int(epoch_count)

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        past = tf.maximum(tf.cast(epoch, tf.float32) + self.epoch_count - self.n_epochs, 0.0)
        factor = tf.maximum(1.0 - past / (self.n_epochs_decay + 1), 0.0)
        return self.lr * factor

    def get_config(self):
        return {"lr": self.lr, "n_epochs": self.n_epochs, "n_epochs_decay": self.n_epochs_decay,
                "steps_per_epoch": self.steps_per_epoch, "epoch_count": self.epoch_count}


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """--lr_policy step: PyTorch's StepLR(step_size=lr_decay_iters, gamma=0.1) (the reference counts
    lr_decay_iters in epochs)."""

    def __init__(self, lr: float, lr_decay_iters: int, steps_per_epoch: int, gamma: float = 0.1):
        self.lr, self.lr_decay_iters, self.steps_per_epoch, self.gamma = (
            float(lr), int(lr_decay_iters), int(steps_per_epoch), float(gamma))

    def __call__(self, step):
        return self.lr * self.gamma ** tf.floor(_epoch(step, self.steps_per_epoch) / self.lr_decay_iters)

    def get_config(self):
        return {"lr": self.lr, "lr_decay_iters": self.lr_decay_iters, "steps_per_epoch": self.steps_per_epoch,
                "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="tf_cyclegan")
class CosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """--lr_policy cosine: PyTorch's CosineAnnealingLR(T_max=n_epochs, eta_min=0), in closed form."""

    def __init__(self, lr: float, n_epochs: int, steps_per_epoch: int):
        self.lr, self.n_epochs, self.steps_per_epoch = float(lr), int(n_epochs), int(steps_per_epoch)

    def __call__(self, step):
        epoch = _epoch(step, self.steps_per_epoch)
        return self.lr * 0.5 * (1.0 + tf.cos(math.pi * epoch / self.n_epochs))

    def get_config(self):
        return {"lr": self.lr, "n_epochs": self.n_epochs, "steps_per_epoch": self.steps_per_epoch}


class PlateauDecay(tf.Module):
    """--lr_policy plateau: PyTorch's ReduceLROnPlateau(mode="min", factor=0.2, threshold=0.01, patience=5),
    the reference's settings, fed the mean generator loss of each epoch (the reference feeds it a constant
    0, so its rate falls every 6 epochs whatever the losses do).

    Everything it remembers (the scale, the best mean, the bad epochs, this epoch's running sum) is a
    tf.Variable, so a run resumed mid-epoch lowers the rate exactly when an unbroken run would.
    """

    def __init__(self, lr: float, factor: float = 0.2, threshold: float = 0.01, patience: int = 5,
                 eps: float = 1e-8, name: str = "plateau"):
        super().__init__(name=name)
        self.lr, self.factor, self.threshold, self.patience, self.eps = (
            float(lr), float(factor), float(threshold), int(patience), float(eps))
        variable = lambda value, dtype, name: tf.Variable(value, dtype=dtype, trainable=False, name=name)  # noqa: E731
        self.scale = variable(1.0, tf.float64, "scale")
        self.best = variable(math.inf, tf.float64, "best")
        self.bad_epochs = variable(0, tf.int64, "bad_epochs")
        self.loss_sum = variable(0.0, tf.float64, "loss_sum")
        self.loss_count = variable(0, tf.int64, "loss_count")

    def __call__(self, step):
        return tf.cast(self.lr * self.scale, tf.float32)

    def observe(self, loss: float):
        """Add one (finite) step's generator loss to this epoch's mean."""
        self.loss_sum.assign_add(float(loss))
        self.loss_count.assign_add(1)

    def end_epoch(self) -> float | None:
        """Take the epoch's mean as ReduceLROnPlateau.step(mean) does; the new rate if it fell, else None."""
        count = int(self.loss_count)
        if count == 0:  # every step of the epoch was skipped: nothing to judge
            return None
        mean = float(self.loss_sum) / count
        self.loss_sum.assign(0.0)
        self.loss_count.assign(0)
        if mean < float(self.best) * (1.0 - self.threshold):
            self.best.assign(mean)
            self.bad_epochs.assign(0)
        else:
            self.bad_epochs.assign_add(1)
        if int(self.bad_epochs) <= self.patience:
            return None
        self.bad_epochs.assign(0)
        old = self.lr * float(self.scale)
        if old - old * self.factor <= self.eps:  # PyTorch stops lowering a rate this small
            return None
        self.scale.assign(float(self.scale) * self.factor)
        return self.lr * float(self.scale)


def make_schedule(config, steps_per_epoch: int):
    """The schedule --lr_policy names, with the run's numbers."""
    if config.lr_policy == "linear":
        return LinearDecay(config.lr, config.n_epochs, config.n_epochs_decay, steps_per_epoch, config.epoch_count)
    if config.lr_policy == "step":
        return StepDecay(config.lr, config.lr_decay_iters, steps_per_epoch)
    if config.lr_policy == "cosine":
        return CosineDecay(config.lr, config.n_epochs, steps_per_epoch)
    if config.lr_policy == "plateau":
        return PlateauDecay(config.lr)
    raise ValueError(f"lr_policy must be linear, step, plateau or cosine, got {config.lr_policy!r}")
