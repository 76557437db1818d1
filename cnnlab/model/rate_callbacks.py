"""Callbacks that change the learning rate between epochs, as Keras 3 writes them:
``ReduceLROnPlateau`` and ``LearningRateScheduler``.

Both put ``learning_rate`` into the epoch's logs (so into ``history`` and the progress bar):
the rate used *during* that epoch, read before any reduction at its end. Keras reads the rate
from a float32 variable, so the logged value is the float32 number (0.001 appears as
0.0010000000474974513), and so does cnnlab.
"""

from __future__ import annotations

import warnings

import numpy as np

from .callbacks import Callback, _Monitor


def _current_rate(optimizer):
    return float(np.float32(optimizer.learning_rate))


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    Keras's bookkeeping, epoch by epoch (keras/src/callbacks/reduce_lr_on_plateau.py):

    * in cooldown (``cooldown_counter > 0``): the counter drops by one and ``wait`` is reset;
    * an improvement (``current < best - min_delta`` in mode min, ``current > best + min_delta`` in
      mode max; the first value always is one) becomes ``best`` and resets ``wait``;
    * otherwise, out of cooldown, ``wait`` grows; at ``wait >= patience`` the rate becomes
      ``max(lr * factor, min_lr)`` if it is still above ``min_lr``, and then the cooldown starts
      (``cooldown_counter = cooldown``) and ``wait`` is reset.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        **kwargs,
    ):
        super().__init__(monitor, mode, min_delta)
        if kwargs:
            raise ValueError(
                f"ReduceLROnPlateau: argument(s) not recognized: {sorted(kwargs)}. Received: {kwargs}"
            )
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor, self.min_lr, self.patience = factor, min_lr, patience
        self.verbose, self.cooldown = verbose, cooldown
        self._reset()

    def _reset(self):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _reduce(self, epoch):
        optimizer = self.model.optimizer
        old = _current_rate(optimizer)
        if old <= np.float32(self.min_lr):
            return False
        new = max(old * self.factor, self.min_lr)
        optimizer.learning_rate = new
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}."
            )
        return True

    def on_epoch_end(self, epoch, logs=None):
        self.direction()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _current_rate(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improved(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """At the start of every epoch, ``lr = schedule(epoch, lr)`` (0-based epoch; ``schedule(epoch)`` also
    accepted, as Keras falls back to it on a ``TypeError``). The result must be a float."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            rate = self.schedule(epoch, _current_rate(optimizer))
        except TypeError:  # Keras's old one-argument form
            rate = self.schedule(epoch)
        if not isinstance(rate, (float, np.float32, np.float64)):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {rate}"
            )
        optimizer.learning_rate = float(rate)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _current_rate(self.model.optimizer)
