"""Metrics: running means over an epoch, with Keras's names.

``'accuracy'`` means categorical, sparse categorical or binary accuracy,
decided from the shapes of labels and outputs as Keras 3 decides it.
"""
from __future__ import annotations

import numpy as np

from ..registry import lookup
from .losses import match_rank


class Metric:
    """A running mean of a per-sample value, weighted by the number of samples, or,
    with ``sample_weight``, Keras's weighted mean ``sum(w * value) / sum(w)``."""

    name = "metric"
    #: Whether ``fit``/``evaluate`` give it the sample weights (``compile(weighted_metrics=...)``); an
    #: ``update_state(..., sample_weight=w)`` call by hand always weighs.
    weighted = False

    def __init__(self, name=None):
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def values(self, y_true, y_pred):
        """One value per sample."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        v = self.values(y_true, np.asarray(y_pred))
        if sample_weight is None:
            self.total += float(np.sum(v, dtype=np.float64))
            self.count += int(v.size)
            return
        w = np.asarray(sample_weight, dtype=np.float64).reshape(len(v), *([1] * (v.ndim - 1)))
        w = np.broadcast_to(w, v.shape)
        self.total += float(np.sum(v * w, dtype=np.float64))
        self.count += float(np.sum(w))

    def result(self):
        return self.total / self.count if self.count else 0.0


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.asarray(y_true).argmax(-1) == y_pred.argmax(-1)


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        y = np.asarray(y_true).reshape(len(y_pred), -1)[:, 0]
        return y.astype(np.int64) == y_pred.argmax(-1)


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y_true = match_rank(y_true, y_pred)
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.abs(y_pred - match_rank(y_true, y_pred)).reshape(len(y_pred), -1).mean(axis=-1)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        d = y_pred - match_rank(y_true, y_pred)
        return (d * d).reshape(len(y_pred), -1).mean(axis=-1)


_BY_NAME = {
    "categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy, "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}
#: Every name Keras accepts (metrics/__init__.py ``ALL_OBJECTS_DICT``), exactly: snake-case names, class
#: names and Keras's upper-case aliases.
NAMES = {**_BY_NAME, **{cls.__name__: cls for cls in _BY_NAME.values()}, "MSE": MeanSquaredError,
         "MAE": MeanAbsoluteError}


def get(identifier, y_true_shape=None, y_pred_shape=None):
    """A metric from a name or instance. ``'accuracy'`` is resolved as Keras 3
    does, from the shapes: one output unit -> binary; integer labels (one axis
    fewer, or a last axis of 1 against several units) -> sparse; else categorical."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            if y_pred_shape is not None and y_pred_shape[-1] == 1:
                cls = BinaryAccuracy
            elif y_true_shape is not None and y_pred_shape is not None and (
                    len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1):
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            return cls(name=identifier)
    return lookup("metric", identifier, {"accuracy": None, "acc": None, **NAMES}, "metrics")(name=identifier)
