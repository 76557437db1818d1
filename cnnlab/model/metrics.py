"""Metrics with Keras 3's names: stateful objects with ``update_state(y_true, y_pred, sample_weight=None)``,
``result()`` and ``reset_state()``.

* ``Mean``: the weighted mean of values (each sample's values averaged first): ``sum(w v) / sum(w)``.
* Mean-of-a-function metrics (``MeanMetricWrapper``): a per-sample value averaged over the
  epoch: the accuracies, top-k accuracy, and the losses' function forms as metrics
  (``"mae"``, ``"mse"``, ``"binary_crossentropy"``...).
* Confusion-count metrics (``Precision``, ``Recall``, ``AUC``, ``F1Score``, ``MeanIoU``) live in
  ``metrics_confusion``.

``'accuracy'`` means categorical, sparse categorical or binary accuracy,
decided from the shapes of labels and outputs as Keras 3 decides it.
"""

from __future__ import annotations

import numpy as np

from ..errors import CnnlabError
from ..registry import lookup
from . import losses as losses_mod
from .losses import match_rank


def weights_per_sample(sample_weight, ndim):
    """Sample weights ``(N,)`` (or ``(N, 1)``) shaped to broadcast against an array of rank ``ndim``."""
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim > 1 and w.shape[-1] == 1 and w.ndim > ndim - 1:
        w = w.reshape(w.shape[:-1])
    return w.reshape(w.shape + (1,) * max(ndim - w.ndim, 0))


class Metric:
    """Base class: ``update_state`` accumulates, ``result`` reads, ``reset_state`` starts over;
    ``metric(y_true, y_pred)`` updates and returns the result, as in Keras."""

    name = "metric"
    #: "up" or "down": which way is better (``mode="auto"`` of the monitoring callbacks reads it).
    _direction: str | None = None
    #: Whether ``fit``/``evaluate`` give it the sample weights (``compile(weighted_metrics=...)``); an
    #: ``update_state(..., sample_weight=w)`` call by hand always weighs.
    weighted = False

    def __init__(self, name=None, dtype=None):
        if dtype not in (None, "float32"):
            raise CnnlabError(
                f"{type(self).__name__}: cnnlab computes metrics in float32/float64. "
                f"Received: dtype={dtype!r}"
            )
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": "float32"}

    @classmethod
    def from_config(cls, config):
        config = {k: v for k, v in config.items() if k != "dtype"}
        return cls(**config)


class Mean(Metric):
    """The running mean of ``values``: each sample's values averaged over its other axes, then
    ``sum(w * v) / sum(w)`` (``w = 1`` without weights)."""

    name = "mean"

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, values, sample_weight=None):
        v = np.asarray(values, dtype=np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == v.ndim + 1 and w.shape[-1] == 1:
                w = w[..., 0]
            elif v.ndim == w.ndim + 1 and v.shape[-1] == 1:
                v = v[..., 0]
            if v.ndim > w.ndim:  # values averaged down to the weights' rank
                v = v.mean(axis=tuple(range(w.ndim, v.ndim)))
            w = np.broadcast_to(w, v.shape)
            self.total += float(np.sum(v * w))
            self.count += float(np.sum(w))
            return
        self.total += float(
            np.sum(v.reshape(len(v), -1).mean(axis=1)) if v.ndim > 1 else np.sum(v)
        )
        self.count += int(len(v)) if v.ndim else 1

    def result(self):
        return self.total / self.count if self.count else 0.0


class MeanMetricWrapper(Mean):
    """The mean over samples of a per-sample function ``values(y_true, y_pred)``."""

    def values(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self.values(y_true, np.asarray(y_pred)), sample_weight)


class CategoricalAccuracy(MeanMetricWrapper):
    name = "categorical_accuracy"
    _direction = "up"

    def values(self, y_true, y_pred):
        return np.asarray(y_true).argmax(-1) == y_pred.argmax(-1)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    name = "sparse_categorical_accuracy"
    _direction = "up"

    def values(self, y_true, y_pred):
        y = np.asarray(y_true).reshape(len(y_pred), -1)[:, 0]
        return y.astype(np.int64) == y_pred.argmax(-1)


class BinaryAccuracy(MeanMetricWrapper):
    name = "binary_accuracy"
    _direction = "up"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        y_true = match_rank(y_true, y_pred)
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)


def in_top_k(labels, y_pred, k):
    """Whether each row's label is among its ``k`` largest predictions (a tie with the k-th counts, as
    ``in_top_k`` does)."""
    y_pred = np.asarray(y_pred, dtype=np.float32).reshape(-1, np.shape(y_pred)[-1])
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    target = y_pred[np.arange(len(labels)), labels]
    return (y_pred > target[:, None]).sum(axis=-1) < k


class TopKCategoricalAccuracy(MeanMetricWrapper):
    name = "top_k_categorical_accuracy"
    _direction = "up"

    def __init__(self, k=5, name=None, dtype=None):
        self.k = k
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        return in_top_k(y_true.argmax(-1), y_pred, self.k).reshape(y_true.shape[:-1])

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    name = "sparse_top_k_categorical_accuracy"
    _direction = "up"

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):
        if from_sorted_ids:
            raise CnnlabError(
                "SparseTopKCategoricalAccuracy: from_sorted_ids is not supported; give the scores. "
                "Received: from_sorted_ids=True"
            )
        self.k = k
        super().__init__(name, dtype)

    def values(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        return in_top_k(y_true, y_pred, self.k).reshape(y_true.shape)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "from_sorted_ids": False}


class _LossMetric(MeanMetricWrapper):
    """A loss's function form as a metric (its mean over the samples seen)."""

    _direction = "down"
    function = None

    def values(self, y_true, y_pred):
        return type(self).function(y_true, y_pred)


def _loss_metric(class_name, metric_name, function):
    return type(
        class_name,
        (_LossMetric,),
        {
            "name": metric_name,
            "function": staticmethod(function),
            "__doc__": f"Keras's ``{class_name}`` metric: the mean of "
            f"``{function.__name__}`` per sample.",
        },
    )


MeanAbsoluteError = _loss_metric(
    "MeanAbsoluteError", "mean_absolute_error", losses_mod.mean_absolute_error
)
MeanSquaredError = _loss_metric(
    "MeanSquaredError", "mean_squared_error", losses_mod.mean_squared_error
)
MeanAbsolutePercentageError = _loss_metric(
    "MeanAbsolutePercentageError",
    "mean_absolute_percentage_error",
    losses_mod.mean_absolute_percentage_error,
)
MeanSquaredLogarithmicError = _loss_metric(
    "MeanSquaredLogarithmicError",
    "mean_squared_logarithmic_error",
    losses_mod.mean_squared_logarithmic_error,
)
LogCoshError = _loss_metric("LogCoshError", "logcosh", losses_mod.log_cosh)
KLDivergence = _loss_metric("KLDivergence", "kl_divergence", losses_mod.kl_divergence)
Poisson = _loss_metric("Poisson", "poisson", losses_mod.poisson)
Hinge = _loss_metric("Hinge", "hinge", losses_mod.hinge)
SquaredHinge = _loss_metric("SquaredHinge", "squared_hinge", losses_mod.squared_hinge)
CategoricalHinge = _loss_metric(
    "CategoricalHinge", "categorical_hinge", losses_mod.categorical_hinge
)
BinaryCrossentropy = _loss_metric(
    "BinaryCrossentropy", "binary_crossentropy", losses_mod.binary_crossentropy
)
CategoricalCrossentropy = _loss_metric(
    "CategoricalCrossentropy",
    "categorical_crossentropy",
    losses_mod.categorical_crossentropy,
)
SparseCategoricalCrossentropy = _loss_metric(
    "SparseCategoricalCrossentropy",
    "sparse_categorical_crossentropy",
    losses_mod.sparse_categorical_crossentropy,
)


class RootMeanSquaredError(Mean):
    name = "root_mean_squared_error"
    _direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(
            losses_mod.mean_squared_error(y_true, y_pred), sample_weight
        )

    def result(self):
        return float(np.sqrt(super().result()))


from .metrics_confusion import AUC, F1Score, FBetaScore, MeanIoU, Precision, Recall  # noqa: E402

_CLASSES = (
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    BinaryAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    LogCoshError,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    RootMeanSquaredError,
    Precision,
    Recall,
    AUC,
    F1Score,
    FBetaScore,
    MeanIoU,
    Mean,
)


def _snake(name):
    """Keras's ``to_snake_case`` (``AUC`` -> ``auc``, ``TopKCategoricalAccuracy`` -> ``top_k_categorical_accuracy``,
    ``MeanIoU`` -> ``mean_io_u``)."""
    import re

    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


_BY_NAME = {_snake(cls.__name__): cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "mae": MeanAbsoluteError,
        "mse": MeanSquaredError,
        "mape": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "bce": BinaryCrossentropy,
    }
)
#: Every name Keras accepts (metrics/__init__.py ``ALL_OBJECTS_DICT``), exactly: snake-case names, class
#: names and Keras's upper-case aliases.
NAMES = {
    **_BY_NAME,
    **{cls.__name__: cls for cls in _CLASSES},
    "MSE": MeanSquaredError,
    "MAE": MeanAbsoluteError,
    "MAPE": MeanAbsolutePercentageError,
    "MSLE": MeanSquaredLogarithmicError,
    "BCE": BinaryCrossentropy,
}


def get(identifier, y_true_shape=None, y_pred_shape=None):
    """A metric from a name or instance. ``'accuracy'`` is resolved as Keras 3
    does, from the shapes: one output unit -> binary; integer labels (one axis
    fewer, or a last axis of 1 against several units) -> sparse; else categorical.
    Any other name is Keras's (``"precision"``, ``"auc"``, ``"top_k_categorical_accuracy"``, ``"mae"``...),
    and the metric is named by the string given, as Keras names it in the logs."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            if y_pred_shape is not None and y_pred_shape[-1] == 1:
                cls = BinaryAccuracy
            elif (
                y_true_shape is not None
                and y_pred_shape is not None
                and (len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1)
            ):
                cls = SparseCategoricalAccuracy
            else:
                cls = CategoricalAccuracy
            return cls(name=identifier)
    cls = lookup(
        "metric", identifier, {"accuracy": None, "acc": None, **NAMES}, "metrics"
    )
    try:
        return cls(name=identifier)
    except TypeError as e:
        raise CnnlabError(
            f"Metric {identifier!r} needs arguments ({e}); pass an instance, e.g. "
            f"keras.metrics.{cls.__name__}(...). Received: metrics=[{identifier!r}]"
        ) from None
