"""The reference's 'linear' learning-rate policy as a pure function of the step."""

from __future__ import annotations

import keras
import tensorflow as tf


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
