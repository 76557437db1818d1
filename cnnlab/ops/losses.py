"""Loss functions with their gradients, reduced as Keras does.

Every function returns ``(loss, grad)``: the mean loss over the batch (a
Python float) and ``d loss / d y_pred`` with ``y_pred``'s shape and dtype.
With ``sample_weight`` (one weight per sample, ``(N,)`` or ``(N, 1)``) the loss is
Keras 3's weighted ``sum_over_batch_size``: ``sum(w * loss) / N``, divided by the
number of samples, **not** by ``sum(w)``; each sample's gradient is scaled by its weight.

Keras's conventions:

* the loss is the mean over samples; binary CE, MSE and MAE first average
  over the last axis;
* cross-entropy on probabilities renormalises each row to sum 1 and clips it
  to ``[1e-7, 1 - 1e-7]`` (so ``log 0`` never happens);
* ``from_logits=True`` takes raw scores and folds the softmax/sigmoid into the
  loss. Its gradient is the famous ``softmax(z) - y`` (seed 002's
  cross-entropy on ``[0.3, 0.7]`` for class 0 is ``-ln 0.3 = 1.204``).
"""
from __future__ import annotations

from ..backend import xp
from ..errors import ShapeError
from .activations import sigmoid, softmax

EPSILON = 1e-7


def _check_same_shape(y_true, y_pred, name, hint=""):
    if y_true.shape != y_pred.shape:
        raise ShapeError(
            f"{name}: labels and predictions must have the same shape. {hint}"
            f"Received: y_true shape={tuple(y_true.shape)}, y_pred shape={tuple(y_pred.shape)}"
        )


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _reduce(values, grad, sample_weight, last_axis_mean=False):
    """The batch loss from ``values`` (per sample; with ``last_axis_mean``, per entry,
    averaged over the last axis first) and the gradient, weighted by ``sample_weight``
    as Keras weighs them (see the module docstring)."""
    if sample_weight is None:
        return float(values.mean()), grad       # one mean over everything: the unweighted sums as before
    if last_axis_mean:
        values = values.mean(axis=-1)
    w = xp.asarray(sample_weight, dtype=values.dtype)
    if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    try:
        w = xp.broadcast_to(w, values.shape)
    except ValueError:
        raise ShapeError(f"sample_weight must have one weight per sample. Received: sample_weight shape="
                         f"{tuple(xp.shape(sample_weight))}, loss shape={tuple(values.shape)}") from None
    return float((values * w).mean()), grad * w[..., None]


def categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None):
    """``-sum(y * log p)`` per sample, mean over samples.

    ``y_true (N, K)`` one-hot (or soft) labels; ``y_pred (N, K)`` probabilities
    (or logits with ``from_logits=True``).
    """
    _check_same_shape(y_true, y_pred, "categorical_crossentropy",
                      "One-hot labels need shape (N, classes); for integer labels use "
                      "sparse_categorical_crossentropy or keras.utils.to_categorical(y). ")
    n = y_pred.shape[0]
    y_true = y_true.astype(y_pred.dtype, copy=False)
    if from_logits:
        per_sample = -(y_true * _log_softmax(y_pred)).sum(axis=-1)
        grad = (softmax(y_pred) * y_true.sum(axis=-1, keepdims=True) - y_true) / n
        loss, grad = _reduce(per_sample, grad, sample_weight)
        return loss, grad.astype(y_pred.dtype, copy=False)
    total = y_pred.sum(axis=-1, keepdims=True)
    q = y_pred / total
    qc = xp.clip(q, EPSILON, 1 - EPSILON)
    per_sample = -(y_true * xp.log(qc)).sum(axis=-1)
    # Chain rule through the clip (zero where clipped) and the renormalisation q = p / sum(p).
    g = xp.where((q >= EPSILON) & (q <= 1 - EPSILON), -y_true / qc, 0)
    grad = (g - (g * q).sum(axis=-1, keepdims=True)) / total / n
    loss, grad = _reduce(per_sample, grad, sample_weight)
    return loss, grad.astype(y_pred.dtype, copy=False)


def sparse_labels(y_true, num_classes, name="sparse_categorical_crossentropy"):
    """Integer class labels ``(N,)`` (or ``(N, 1)``) checked against ``num_classes``."""
    y = xp.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] == num_classes:
        raise ShapeError(
            f"{name}: expects integer class labels of shape (N,). Labels of shape {tuple(y.shape)} look one-hot: "
            f"use categorical_crossentropy, or pass y.argmax(-1). Received: y_true shape={tuple(y.shape)}"
        )
    if y.ndim != 1:
        # Keras too refuses labels whose shape is not the outputs' shape without the class axis.
        raise ShapeError(
            f"{name}: expects integer class labels of shape (N,) or (N, 1) for outputs of shape (N, {num_classes}). "
            f"Flatten them first, e.g. y.reshape(len(y)). Received: y_true shape={tuple(y.shape)}"
        )
    if y.dtype.kind == "f":
        if not xp.all(xp.isfinite(y)) or not xp.all(y == xp.round(y)):
            raise ShapeError(f"{name}: labels must be whole class numbers 0..{num_classes - 1}. "
                             f"Received: non-integer labels such as {y[y != xp.round(y)][:3].tolist()}")
    elif y.dtype.kind not in "iub":
        raise ShapeError(f"{name}: labels must be integers. Received: y_true dtype={y.dtype}")
    y = y.astype(xp.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.max()) if y.max() >= num_classes else int(y.min())
        raise ShapeError(
            f"{name}: label {bad} is out of range for a model with {num_classes} outputs (classes 0..{num_classes - 1}). "
            f"Give the last layer as many units as there are classes. Received: labels in [{int(y.min())}, {int(y.max())}]"
        )
    return y


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None):
    """Like :func:`categorical_crossentropy` but ``y_true (N,)`` holds class numbers."""
    if y_pred.ndim != 2:
        raise ShapeError(f"sparse_categorical_crossentropy: predictions must be (N, classes). "
                         f"Received: y_pred shape={tuple(y_pred.shape)}")
    labels = sparse_labels(y_true, y_pred.shape[-1])
    if labels.shape[0] != y_pred.shape[0]:
        raise ShapeError(f"sparse_categorical_crossentropy: {labels.shape[0]} labels for {y_pred.shape[0]} predictions. "
                         f"Received: y_true shape={tuple(xp.shape(y_true))}, y_pred shape={tuple(y_pred.shape)}")
    one_hot = xp.zeros(y_pred.shape, dtype=y_pred.dtype)
    one_hot[xp.arange(labels.shape[0]), labels] = 1
    return categorical_crossentropy(one_hot, y_pred, from_logits, sample_weight)


def binary_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None):
    """``-(y log p + (1-y) log(1-p))``, mean over the last axis, then over samples.

    ``y_true`` and ``y_pred`` have the same shape, e.g. ``(N, 1)``; labels in [0, 1].
    """
    _check_same_shape(y_true, y_pred, "binary_crossentropy")
    y_true = y_true.astype(y_pred.dtype, copy=False)
    count = y_pred.size
    if from_logits:
        z = y_pred
        loss = xp.maximum(z, 0) - z * y_true + xp.log1p(xp.exp(-xp.abs(z)))
        grad = (sigmoid(z) - y_true) / count
    else:
        p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
        loss = -(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p))
        inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
        grad = xp.where(inside, (p - y_true) / (p * (1 - p)), 0) / count
    loss, grad = _reduce(loss, grad, sample_weight, last_axis_mean=True)
    return loss, grad.astype(y_pred.dtype, copy=False)


def mean_squared_error(y_true, y_pred, sample_weight=None):
    """L2: ``mean((y - p)^2)`` over the last axis, then over samples."""
    _check_same_shape(y_true, y_pred, "mean_squared_error")
    diff = y_pred - y_true.astype(y_pred.dtype, copy=False)
    loss, grad = _reduce(diff * diff, 2 * diff / diff.size, sample_weight, last_axis_mean=True)
    return loss, grad.astype(y_pred.dtype, copy=False)


def mean_absolute_error(y_true, y_pred, sample_weight=None):
    """L1: ``mean(|y - p|)`` over the last axis, then over samples."""
    _check_same_shape(y_true, y_pred, "mean_absolute_error")
    diff = y_pred - y_true.astype(y_pred.dtype, copy=False)
    loss, grad = _reduce(xp.abs(diff), xp.sign(diff) / diff.size, sample_weight, last_axis_mean=True)
    return loss, grad.astype(y_pred.dtype, copy=False)
