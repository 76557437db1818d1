"""Loss classes with Keras's names, over the pure loss functions in ``cnnlab.ops``.

``loss(y_true, y_pred)`` returns the mean loss; ``loss.value_and_grad`` also
returns ``d loss / d y_pred``. ``fuses_with(activation)`` says when the model
may feed the pre-activation (logits) instead: softmax + cross-entropy and
sigmoid + binary cross-entropy, as Keras does during ``fit``.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..registry import lookup
from ..ops import losses as loss_ops


def match_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: labels ``(N,)`` against
    predictions ``(N, 1)`` (or the reverse) are made the same rank."""
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


class Loss:
    """Base class. Subclasses set ``name``, ``fn`` and the activation they fuse with."""

    name = "loss"
    fused_activation: str | None = None

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "auto", None):
            raise ValueError(f"{type(self).__name__}: only reduction='sum_over_batch_size' is supported. "
                             f"Received: reduction={reduction!r}")
        self.from_logits = from_logits
        if name:
            self.name = name

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        raise NotImplementedError

    def value_and_grad(self, y_true, y_pred, from_logits=None, sample_weight=None):
        """``(mean loss, d loss/d y_pred)``; ``from_logits`` overrides the setting (fused path).
        ``sample_weight``: Keras's weighted mean, ``sum(w * loss) / N``."""
        return self._compute(y_true, y_pred, self.from_logits if from_logits is None else from_logits,
                             sample_weight)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.value_and_grad(y_true, np.asarray(y_pred), sample_weight=sample_weight)[0]

    def fuses_with(self, activation_name):
        return not self.from_logits and activation_name == self.fused_activation

    def get_config(self):
        return {"name": self.name, "reduction": "sum_over_batch_size", "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    fused_activation = "softmax"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, name=None, **kwargs):
        super().__init__(from_logits, name, **kwargs)
        if label_smoothing or axis != -1:
            raise ValueError("CategoricalCrossentropy: label_smoothing and axis are not supported yet. "
                             f"Received: label_smoothing={label_smoothing}, axis={axis}")

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        y_true = np.asarray(y_true)
        if y_true.ndim == 1 or (y_true.ndim == 2 and y_true.shape[-1] == 1 and y_pred.shape[-1] > 1):
            raise ShapeError(
                f"categorical_crossentropy expects one-hot labels of shape (N, {y_pred.shape[-1]}) but the labels "
                f"have shape {y_true.shape}, which looks like integer class labels. Use "
                f"loss='sparse_categorical_crossentropy', or convert with keras.utils.to_categorical(y, "
                f"{y_pred.shape[-1]}). Received: y_true shape={y_true.shape}, y_pred shape={y_pred.shape}")
        return loss_ops.categorical_crossentropy(y_true, y_pred, from_logits, sample_weight)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    fused_activation = "softmax"

    def __init__(self, from_logits=False, ignore_class=None, name=None, **kwargs):
        super().__init__(from_logits, name, **kwargs)
        if ignore_class is not None:
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class is not supported yet. "
                             f"Received: ignore_class={ignore_class}")

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        return loss_ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits, sample_weight)


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    fused_activation = "sigmoid"

    def __init__(self, from_logits=False, label_smoothing=0.0, name=None, **kwargs):
        super().__init__(from_logits, name, **kwargs)
        if label_smoothing:
            raise ValueError(f"BinaryCrossentropy: label_smoothing is not supported yet. "
                             f"Received: label_smoothing={label_smoothing}")

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        y_true = match_rank(y_true, y_pred)
        if y_true.size and (np.min(y_true) < 0 or np.max(y_true) > 1):
            raise ShapeError(f"binary_crossentropy expects labels in [0, 1] (one sigmoid unit per label). "
                             f"For more than two classes use a softmax output with sparse_categorical_crossentropy. "
                             f"Received: labels in [{np.min(y_true)}, {np.max(y_true)}]")
        return loss_ops.binary_crossentropy(y_true, y_pred, from_logits, sample_weight)


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def __init__(self, name=None, **kwargs):
        super().__init__(False, name, **kwargs)

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        return loss_ops.mean_squared_error(match_rank(y_true, y_pred), y_pred, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": "sum_over_batch_size"}


class MeanAbsoluteError(MeanSquaredError):
    name = "mean_absolute_error"

    def _compute(self, y_true, y_pred, from_logits, sample_weight=None):
        return loss_ops.mean_absolute_error(match_rank(y_true, y_pred), y_pred, sample_weight)


_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}
#: Every name Keras accepts (losses/__init__.py ``ALL_OBJECTS_DICT``): class names, function names and
#: Keras's aliases, exactly (``"MSE"`` is an alias, ``"Mse"`` is not).
NAMES = {**_BY_NAME, **_BY_CLASS, "MSE": MeanSquaredError, "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy,
         "BCE": BinaryCrossentropy}


def get(identifier):
    """A loss from a Keras name, a class name, a config dict or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        cls = lookup("loss", identifier.get("class_name"), _BY_CLASS, "class_name")
        config = {k: v for k, v in identifier.get("config", {}).items() if k != "reduction"}
        return cls(**config)
    return lookup("loss", identifier, NAMES, "loss")()


# Keras's function spellings: keras.losses.sparse_categorical_crossentropy(y_true, y_pred) per-sample is not
# provided; the classes above return the batch mean.
