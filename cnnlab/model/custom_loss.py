"""``compile(loss=fn)``: a loss function of the user's, ``fn(y_true, y_pred)``, written with ``keras.ops``.

As Keras's ``LossFunctionWrapper``: labels are cast to the predictions' dtype and
brought to the same rank, ``fn`` returns a value per sample (or any shape), and
the loss is their mean (``sum_over_batch_size``). The gradient with respect to
``y_pred`` comes from the tape (``cnnlab.ops.tape``): ``fn`` runs on a recorded
``y_pred`` and the backwards of the ops it called are replayed from
``d mean / d value = 1 / count``.
"""

from __future__ import annotations

import numpy as np

from ..ops import tape
from .losses import Loss, match_rank


class LossFunction(Loss):
    """A plain function used as a loss; named after it, as Keras names it."""

    def __init__(self, fn, name=None):
        super().__init__(name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    @staticmethod
    def _prepare(y_true, y_pred):
        """Labels in the predictions' dtype and rank, as Keras's wrapper brings them."""
        y_pred = np.asarray(y_pred)
        y_true = match_rank(y_true, y_pred)
        if y_true.dtype.kind in "biuf":
            y_true = y_true.astype(y_pred.dtype, copy=False)
        return y_true, y_pred

    def value_and_grad(self, y_true, y_pred, from_logits=None, sample_weight=None):
        y_true, y_pred = self._prepare(y_true, y_pred)
        record = tape.Tape(
            f"Loss function '{self.name}'", training=True, place="the loss function"
        )
        with record:
            prediction = record.watch(y_pred)
            values = self.fn(y_true, prediction)
        per_sample = np.asarray(tape.value(values))
        if per_sample.dtype.kind not in "fc":
            raise ValueError(
                f"Loss function '{self.name}' must return numbers (a value per sample). "
                f"Received: dtype={per_sample.dtype}"
            )
        weights = _weights_for(per_sample, sample_weight)
        seed = (weights / max(per_sample.size, 1)).astype(y_pred.dtype)
        grad, _ = tape.replay(record, prediction, values, seed, [])
        return float(
            (weights * per_sample).sum() / max(per_sample.size, 1)
        ), grad.astype(y_pred.dtype, copy=False)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The (weighted) mean loss alone (no backward)."""
        values = np.asarray(tape.value(self.fn(*self._prepare(y_true, y_pred))))
        return float(
            (_weights_for(values, sample_weight) * values).sum() / max(values.size, 1)
        )

    def get_config(self):
        return {"name": self.name, "reduction": "sum_over_batch_size"}


def _weights_for(values, sample_weight):
    """Keras's weighting: ``sum(w * loss) / count``; ``w`` per sample, broadcast over the other axes."""
    if sample_weight is None:
        return np.ones(values.shape, dtype=values.dtype)
    w = np.asarray(sample_weight, dtype=values.dtype)
    w = w.reshape(w.shape + (1,) * max(values.ndim - w.ndim, 0))
    return np.broadcast_to(w, values.shape)
