"""Losses with Keras 3's names, arguments and reductions, over the per-sample loss functions in ``cnnlab.ops``.

Two forms, as in Keras:

* functions, ``keras.losses.mean_squared_error(y_true, y_pred)``: one value per sample, the
  last axis reduced (``mse`` on ``(N, 2, 3)`` gives ``(N, 2)``);
* classes, ``keras.losses.MeanSquaredError(reduction=...)``: ``loss(y_true, y_pred, sample_weight)``
  reduces those values: ``"sum_over_batch_size"`` (the default; also ``"mean"``) divides
  ``sum(w * values)`` by the number of values (not by ``sum(w)``), ``"sum"`` does not divide,
  ``"mean_with_sample_weight"`` divides by ``sum(w)``, ``None``/``"none"`` returns the values.

``loss.value_and_grad(y_true, y_pred)`` also returns ``d loss / d y_pred`` for training.
``fuses_with(activation)`` says when the model may feed the pre-activation (logits) instead:
softmax + cross-entropy and sigmoid + binary cross-entropy, as Keras does during ``fit``.
Label smoothing: ``y (1 - ls) + ls / K`` (binary: ``y (1 - ls) + ls / 2``).
"""

from __future__ import annotations

import numpy as np

from ..errors import CnnlabError, ShapeError
from ..ops import losses as loss_ops
from ..registry import lookup

REDUCTIONS = (
    "sum_over_batch_size",
    "sum",
    None,
    "none",
    "mean",
    "mean_with_sample_weight",
)


def match_rank(y_true, y_pred):
    """Keras's ``squeeze_or_expand_to_same_rank``: labels ``(N,)`` against
    predictions ``(N, 1)`` (or the reverse) are made the same rank."""
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return y_true


def _pred(y_pred):
    y_pred = np.asarray(y_pred)
    return y_pred if y_pred.dtype.kind == "f" else y_pred.astype(np.float32)


def _check_axis(axis, name):
    if isinstance(axis, bool) or axis != -1:
        raise CnnlabError(
            f"{name}: cnnlab reduces the last axis only (axis=-1); move the class axis last. "
            f"Received: axis={axis!r}"
        )


def smooth_categorical(y_true, label_smoothing):
    """``y (1 - ls) + ls / K``, K the number of classes (the last axis)."""
    y_true = np.asarray(y_true, dtype=np.float32)
    return (
        y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]
        if label_smoothing
        else y_true
    )


def smooth_binary(y_true, label_smoothing):
    """``y (1 - ls) + ls / 2``."""
    y_true = np.asarray(y_true, dtype=np.float32)
    return (
        y_true * (1 - label_smoothing) + 0.5 * label_smoothing
        if label_smoothing
        else y_true
    )


def check_binary_labels(y_true, name="binary_crossentropy"):
    if y_true.size and (np.min(y_true) < 0 or np.max(y_true) > 1):
        raise ShapeError(
            f"{name} expects labels in [0, 1] (one sigmoid unit per label). "
            f"For more than two classes use a softmax output with sparse_categorical_crossentropy. "
            f"Received: labels in [{np.min(y_true)}, {np.max(y_true)}]"
        )


# ---- the rules: (values, d values / d y_pred) per loss -----------------------------------------------------
# Each takes the loss's settings as keyword arguments; the function forms and the classes share them.


def _cce(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim - 1 or (
        y_true.shape[-1:] == (1,) and y_pred.shape[-1] > 1
    ):
        raise ShapeError(
            f"categorical_crossentropy expects one-hot labels of shape (N, {y_pred.shape[-1]}) but the labels "
            f"have shape {y_true.shape}, which looks like integer class labels. Use "
            f"loss='sparse_categorical_crossentropy', or convert with keras.utils.to_categorical(y, "
            f"{y_pred.shape[-1]}). Received: y_true shape={y_true.shape}, y_pred shape={y_pred.shape}"
        )
    return loss_ops.categorical_crossentropy_values(
        smooth_categorical(y_true, label_smoothing), y_pred, from_logits
    )


def _scce(y_true, y_pred, from_logits=False):
    return loss_ops.categorical_crossentropy_values(
        loss_ops.sparse_to_one_hot(y_true, y_pred), y_pred, from_logits
    )


def _bce(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    y_true = match_rank(y_true, y_pred)
    check_binary_labels(y_true)
    return loss_ops.binary_crossentropy_values(
        smooth_binary(y_true, label_smoothing), y_pred, from_logits
    )


def _cfce(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0
):
    return loss_ops.categorical_focal_crossentropy_values(
        smooth_categorical(y_true, label_smoothing), y_pred, alpha, gamma, from_logits
    )


def _bfce(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
):
    y_true = match_rank(y_true, y_pred)
    return loss_ops.binary_focal_crossentropy_values(
        smooth_binary(y_true, label_smoothing),
        y_pred,
        apply_class_balancing,
        alpha,
        gamma,
        from_logits,
    )


def _ranked(op):
    """An element-wise loss, labels ``(N,)`` against ``(N, 1)`` made the same rank first."""

    def rule(y_true, y_pred, **kwargs):
        return op(match_rank(y_true, y_pred), y_pred, **kwargs)

    return rule


_RULES = {
    "categorical_crossentropy": _cce,
    "sparse_categorical_crossentropy": _scce,
    "binary_crossentropy": _bce,
    "categorical_focal_crossentropy": _cfce,
    "binary_focal_crossentropy": _bfce,
    "mean_squared_error": _ranked(loss_ops.mean_squared_error_values),
    "mean_absolute_error": _ranked(loss_ops.mean_absolute_error_values),
    "mean_absolute_percentage_error": _ranked(
        loss_ops.mean_absolute_percentage_error_values
    ),
    "mean_squared_logarithmic_error": _ranked(
        loss_ops.mean_squared_logarithmic_error_values
    ),
    "huber": _ranked(loss_ops.huber_values),
    "log_cosh": _ranked(loss_ops.log_cosh_values),
    "kl_divergence": loss_ops.kl_divergence_values,
    "poisson": loss_ops.poisson_values,
    "hinge": _ranked(loss_ops.hinge_values),
    "squared_hinge": _ranked(loss_ops.squared_hinge_values),
    "categorical_hinge": loss_ops.categorical_hinge_values,
}


# ---- the function forms ------------------------------------------------------------------------------------


def categorical_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
):
    _check_axis(axis, "categorical_crossentropy")
    return _cce(
        y_true, _pred(y_pred), from_logits=from_logits, label_smoothing=label_smoothing
    )[0]


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits=False, ignore_class=None, axis=-1
):
    _check_axis(axis, "sparse_categorical_crossentropy")
    if ignore_class is not None:
        raise CnnlabError(
            f"sparse_categorical_crossentropy: ignore_class is not supported. "
            f"Received: ignore_class={ignore_class}"
        )
    return _scce(y_true, _pred(y_pred), from_logits=from_logits)[0]


def binary_crossentropy(
    y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1
):
    _check_axis(axis, "binary_crossentropy")
    return _bce(
        y_true, _pred(y_pred), from_logits=from_logits, label_smoothing=label_smoothing
    )[0]


def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    _check_axis(axis, "categorical_focal_crossentropy")
    return _cfce(
        y_true,
        _pred(y_pred),
        alpha=alpha,
        gamma=gamma,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
    )[0]


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    _check_axis(axis, "binary_focal_crossentropy")
    return _bfce(
        y_true,
        _pred(y_pred),
        apply_class_balancing=apply_class_balancing,
        alpha=alpha,
        gamma=gamma,
        from_logits=from_logits,
        label_smoothing=label_smoothing,
    )[0]


def _function(name):
    def fn(y_true, y_pred):
        return _RULES[name](y_true, _pred(y_pred))[0]

    fn.__name__ = name
    fn.__doc__ = f"Keras's ``{name}``: one value per sample (the last axis reduced)."
    return fn


mean_squared_error = _function("mean_squared_error")
mean_absolute_error = _function("mean_absolute_error")
mean_absolute_percentage_error = _function("mean_absolute_percentage_error")
mean_squared_logarithmic_error = _function("mean_squared_logarithmic_error")
log_cosh = _function("log_cosh")
kl_divergence = _function("kl_divergence")
poisson = _function("poisson")
hinge = _function("hinge")
squared_hinge = _function("squared_hinge")
categorical_hinge = _function("categorical_hinge")


def huber(y_true, y_pred, delta=1.0):
    return _RULES["huber"](y_true, _pred(y_pred), delta=delta)[0]


# ---- the classes --------------------------------------------------------------------------------------------


class Loss:
    """Base class: ``rule`` names the per-sample loss, ``settings`` its keyword arguments."""

    name = "loss"
    rule: str | None = None
    fused_activation: str | None = None

    def __init__(
        self, name=None, reduction="sum_over_batch_size", dtype=None, **settings
    ):
        if reduction == "auto":
            reduction = (
                "sum_over_batch_size"  # (Keras 2's spelling, still found in old files)
            )
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"Invalid value for argument `reduction`. Expected one of {set(REDUCTIONS)}. "
                f"Received: reduction={reduction}"
            )
        if dtype not in (None, "float32"):
            raise CnnlabError(
                f"{type(self).__name__}: cnnlab computes losses in float32. Received: dtype={dtype!r}"
            )
        if "axis" in settings:
            _check_axis(settings.pop("axis"), type(self).__name__)
        self.reduction, self.settings = reduction, settings
        for key, value in settings.items():
            setattr(self, key, value)
        if name:
            self.name = name

    def values_and_grads(self, y_true, y_pred, from_logits=None):
        """Per-sample values and their gradients; ``from_logits`` overrides the setting (fused path)."""
        settings = dict(self.settings)
        if from_logits is not None:
            settings["from_logits"] = from_logits
        return _RULES[self.rule](y_true, y_pred, **settings)

    def value_and_grad(self, y_true, y_pred, from_logits=None, sample_weight=None):
        """``(reduced loss, d loss/d y_pred)``."""
        if self.reduction in (None, "none"):
            raise CnnlabError(
                f"{type(self).__name__}(reduction={self.reduction!r}) gives one loss per sample; "
                f"training needs one number. Use the default reduction 'sum_over_batch_size'."
            )
        values, grads = self.values_and_grads(y_true, y_pred, from_logits)
        total, grads = reduce_with_grad(values, grads, sample_weight, self.reduction)
        return float(total), grads

    def __call__(self, y_true, y_pred, sample_weight=None):
        values, _ = self.values_and_grads(y_true, _pred(y_pred))
        if self.reduction in (None, "none"):
            return (
                values * _weights_like(sample_weight, values)
                if sample_weight is not None
                else values
            )
        return float(reduce_with_grad(values, None, sample_weight, self.reduction)[0])

    def fuses_with(self, activation_name):
        return (
            not self.settings.get("from_logits", False)
            and activation_name == self.fused_activation
        )

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, **self.settings}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _weights_like(sample_weight, values):
    """Keras's ``squeeze_or_expand_to_same_rank`` of the weights against the values, then broadcast."""
    w = np.asarray(sample_weight, dtype=np.float32)
    if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    elif w.ndim == values.ndim - 1:
        w = w[..., None]
    while w.ndim < values.ndim:
        w = w[..., None]
    return np.broadcast_to(w, values.shape)


def reduce_with_grad(
    values, grads, sample_weight=None, reduction="sum_over_batch_size"
):
    """Keras's ``reduce_weighted_values``: ``(loss, d loss / d y_pred)`` from per-sample values."""
    if sample_weight is not None:
        w = _weights_like(sample_weight, values)
        values = values * w
        if grads is not None:
            grads = grads * w[..., None].astype(grads.dtype, copy=False)
    total = values.sum(dtype=np.float64)
    divisor = 1.0
    if reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight"):
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = float(w.sum(dtype=np.float64))
        else:
            divisor = float(values.size)
        divisor = (
            divisor if divisor else np.inf
        )  # Keras's divide_no_nan: an empty batch gives 0
    if grads is not None:
        grads = (grads / grads.dtype.type(divisor)).astype(grads.dtype, copy=False)
    return float(total / divisor), grads


class CategoricalCrossentropy(Loss):
    name, rule, fused_activation = (
        "categorical_crossentropy",
        "categorical_crossentropy",
        "softmax",
    )

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            name,
            reduction,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )

    def get_config(self):
        return {**super().get_config(), "axis": -1}


class SparseCategoricalCrossentropy(Loss):
    name, rule, fused_activation = (
        "sparse_categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "softmax",
    )

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name=None,
        dtype=None,
    ):
        if ignore_class is not None:
            raise ValueError(
                f"SparseCategoricalCrossentropy: ignore_class is not supported yet. "
                f"Received: ignore_class={ignore_class}"
            )
        super().__init__(name, reduction, dtype, from_logits=from_logits, axis=axis)

    def get_config(self):
        return {**super().get_config(), "ignore_class": None}


class BinaryCrossentropy(Loss):
    name, rule, fused_activation = (
        "binary_crossentropy",
        "binary_crossentropy",
        "sigmoid",
    )

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            name,
            reduction,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )

    def get_config(self):
        return {**super().get_config(), "axis": -1}


class CategoricalFocalCrossentropy(Loss):
    name = rule = "categorical_focal_crossentropy"

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            name,
            reduction,
            dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class BinaryFocalCrossentropy(Loss):
    name = rule = "binary_focal_crossentropy"

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(
            name,
            reduction,
            dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class _Plain(Loss):
    """A loss without settings of its own."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name, reduction, dtype)


class MeanSquaredError(_Plain):
    name = rule = "mean_squared_error"


class MeanAbsoluteError(_Plain):
    name = rule = "mean_absolute_error"


class MeanAbsolutePercentageError(_Plain):
    name = rule = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_Plain):
    name = rule = "mean_squared_logarithmic_error"


class LogCosh(_Plain):
    name = rule = "log_cosh"


class KLDivergence(_Plain):
    name = rule = "kl_divergence"


class Poisson(_Plain):
    name = rule = "poisson"


class Hinge(_Plain):
    name = rule = "hinge"


class SquaredHinge(_Plain):
    name = rule = "squared_hinge"


class CategoricalHinge(_Plain):
    name = rule = "categorical_hinge"


class Huber(Loss):
    name, rule = "huber_loss", "huber"

    def __init__(
        self, delta=1.0, reduction="sum_over_batch_size", name=None, dtype=None
    ):
        super().__init__(name, reduction, dtype, delta=delta)


_CLASSES = (
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    BinaryCrossentropy,
    CategoricalFocalCrossentropy,
    BinaryFocalCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    LogCosh,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    Huber,
)
_BY_CLASS = {cls.__name__: cls for cls in _CLASSES}
#: Strings ``compile(loss=...)`` accepts, as Keras resolves them (function names and their short aliases).
_BY_NAME = {cls.rule: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "mse": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "huber_loss": Huber,
        "logcosh": LogCosh,
        "kld": KLDivergence,
        "kullback_leibler_divergence": KLDivergence,
    }
)

#: The function forms by name (``keras.losses.get("mse")`` in Keras returns the function).
FUNCTIONS = {
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "categorical_focal_crossentropy": categorical_focal_crossentropy,
    "binary_focal_crossentropy": binary_focal_crossentropy,
    "mean_squared_error": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": mean_squared_logarithmic_error,
    "huber": huber,
    "log_cosh": log_cosh,
    "kl_divergence": kl_divergence,
    "poisson": poisson,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "categorical_hinge": categorical_hinge,
}


#: Every name Keras accepts (losses/__init__.py ``ALL_OBJECTS_DICT``): class names, function names and
#: Keras's aliases, exactly (``"MSE"`` is an alias, ``"Mse"`` is not).
NAMES = {
    **_BY_NAME,
    **_BY_CLASS,
    "MSE": MeanSquaredError,
    "MAE": MeanAbsoluteError,
    "MAPE": MeanAbsolutePercentageError,
    "MSLE": MeanSquaredLogarithmicError,
    "KLD": KLDivergence,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
}


def get(identifier):
    """A loss from a Keras name, a class name, a config dict, an instance, or one of the function forms."""
    if isinstance(identifier, Loss):
        return identifier
    for (
        name,
        fn,
    ) in (
        FUNCTIONS.items()
    ):  # Keras's own function forms: their class (the fused fast path)
        if identifier is fn:
            return _BY_NAME[name]()
    if callable(identifier) and not isinstance(
        identifier, type
    ):  # fn(y_true, y_pred) of the user's
        from .custom_loss import LossFunction

        return LossFunction(identifier)
    if isinstance(identifier, dict):
        cls = lookup("loss", identifier.get("class_name"), _BY_CLASS, "class_name")
        return cls.from_config(dict(identifier.get("config", {})))
    return lookup("loss", identifier, NAMES, "loss")()
