"""When training has diverged, and a callback that stops there keeping the last good weights.

A loss that turns NaN or infinite has diverged. So has one that explodes past
:data:`DIVERGENCE_FACTOR` times the first batch's loss (at least 1): with a fused
softmax + cross-entropy the loss of a run gone wild can stay finite (SGD at learning
rate 1e6 reaches 4e5 on the MNIST sample, and 6e27 on deeper models) while the model
predicts one class for everything. ``cnnlab train`` and ``cnnlab tune`` both use this rule.
"""

from __future__ import annotations

import math

from .callbacks import TerminateOnNaN

#: A loss this many times above the first batch's (at least 1) counts as diverged.
DIVERGENCE_FACTOR = 1000.0


def divergence(loss, first_loss, where):
    """Why ``loss`` means training diverged (a sentence), or ``None`` when it has not.
    ``first_loss``: the first finite batch loss of the run (``None`` before there is one)."""
    if not math.isfinite(loss):
        return f"the training loss became {loss} {where}"
    if first_loss is not None and loss > DIVERGENCE_FACTOR * max(first_loss, 1.0):
        return f"the training loss exploded to {loss:.3g} {where} (from {first_loss:.3g} at the first batch)"
    return None


class StopOnDivergence(TerminateOnNaN):
    """:class:`TerminateOnNaN` that also stops on an exploding loss (:func:`divergence`) and on a
    non-finite validation loss, puts back the weights (and optimizer state) from before the batch
    that went bad, and says why in ``diverged`` (``None`` while training is sound)."""

    def __init__(self):
        super().__init__()
        self.diverged, self.first_loss, self.epoch = None, None, 0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.diverged, self.first_loss = None, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged:
            return
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = float(loss)
        self.diverged = divergence(
            loss, self.first_loss, f"in epoch {self.epoch + 1}, batch {batch + 1}"
        )
        if self.diverged:
            if getattr(self, "_latest", None) is not None:
                self._restore()
                self._latest = None
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        val_loss = (logs or {}).get("val_loss")
        if not self.diverged and val_loss is not None and not math.isfinite(val_loss):
            self.diverged = (
                f"the validation loss became {val_loss} after epoch {epoch + 1}"
            )
            self.model.stop_training = True
