"""Loss functions with their gradients, reduced as Keras does.

Every function returns ``(loss, grad)``: the mean loss over the batch (a
Python float) and ``d loss / d y_pred`` with ``y_pred``'s shape and dtype.

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

from numpy.typing import ArrayLike

from ..backend import Array, xp
from ..errors import ShapeError
from .activations import sigmoid, softmax

#: A loss's per-sample values and their gradient with respect to ``y_pred``.
ValuesAndGrad = tuple[Array, Array]

EPSILON = 1e-7


def _check_same_shape(y_true: Array, y_pred: Array, name: str, hint: str = "") -> None:
    if y_true.shape != y_pred.shape:
        raise ShapeError(
            f"{name}: labels and predictions must have the same shape. {hint}"
            f"Received: y_true shape={tuple(y_true.shape)}, y_pred shape={tuple(y_pred.shape)}"
        )


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def _mean(values_and_grads: ValuesAndGrad) -> tuple[float, Array]:
    """The batch mean of per-sample values and its gradient."""
    values, dvalues = values_and_grads
    return float(values.mean()), (dvalues / values.size).astype(
        dvalues.dtype, copy=False
    )


def categorical_crossentropy(
    y_true: Array, y_pred: Array, from_logits: bool = False
) -> tuple[float, Array]:
    """``-sum(y * log p)`` per sample, mean over samples.

    ``y_true (N, K)`` one-hot (or soft) labels; ``y_pred (N, K)`` probabilities
    (or logits with ``from_logits=True``).
    """
    return _mean(categorical_crossentropy_values(y_true, y_pred, from_logits))


def sparse_labels(
    y_true: ArrayLike, num_classes: int, name: str = "sparse_categorical_crossentropy"
) -> Array:
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
            raise ShapeError(
                f"{name}: labels must be whole class numbers 0..{num_classes - 1}. "
                f"Received: non-integer labels such as {y[y != xp.round(y)][:3].tolist()}"
            )
    elif y.dtype.kind not in "iub":
        raise ShapeError(
            f"{name}: labels must be integers. Received: y_true dtype={y.dtype}"
        )
    y = y.astype(xp.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.max()) if y.max() >= num_classes else int(y.min())
        raise ShapeError(
            f"{name}: label {bad} is out of range for a model with {num_classes} outputs "
            f"(classes 0..{num_classes - 1}). Give the last layer as many units as there are classes. "
            f"Received: labels in [{int(y.min())}, {int(y.max())}]"
        )
    return y


def sparse_categorical_crossentropy(
    y_true: Array, y_pred: Array, from_logits: bool = False
) -> tuple[float, Array]:
    """Like :func:`categorical_crossentropy` but ``y_true (N,)`` holds class numbers."""
    if y_pred.ndim != 2:
        raise ShapeError(
            f"sparse_categorical_crossentropy: predictions must be (N, classes). "
            f"Received: y_pred shape={tuple(y_pred.shape)}"
        )
    labels = sparse_labels(y_true, y_pred.shape[-1])
    if labels.shape[0] != y_pred.shape[0]:
        raise ShapeError(
            f"sparse_categorical_crossentropy: {labels.shape[0]} labels for {y_pred.shape[0]} predictions. "
            f"Received: y_true shape={tuple(xp.shape(y_true))}, y_pred shape={tuple(y_pred.shape)}"
        )
    one_hot = xp.zeros(y_pred.shape, dtype=y_pred.dtype)
    one_hot[xp.arange(labels.shape[0]), labels] = 1
    return categorical_crossentropy(one_hot, y_pred, from_logits)


def binary_crossentropy(
    y_true: Array, y_pred: Array, from_logits: bool = False
) -> tuple[float, Array]:
    """``-(y log p + (1-y) log(1-p))``, mean over the last axis, then over samples.

    ``y_true`` and ``y_pred`` have the same shape, e.g. ``(N, 1)``; labels in [0, 1].
    """
    return _mean(binary_crossentropy_values(y_true, y_pred, from_logits))


def mean_squared_error(y_true: Array, y_pred: Array) -> tuple[float, Array]:
    """L2: ``mean((y - p)^2)`` over the last axis, then over samples."""
    return _mean(mean_squared_error_values(y_true, y_pred))


def mean_absolute_error(y_true: Array, y_pred: Array) -> tuple[float, Array]:
    """L1: ``mean(|y - p|)`` over the last axis, then over samples."""
    return _mean(mean_absolute_error_values(y_true, y_pred))


# ---- per-sample values with their gradients (Keras's function forms) --------------------------------------
#
# Each ``*_values(y_true, y_pred, ...)`` returns ``(values, dvalues)``: Keras's per-sample loss, reduced over the
# last axis only (``y_pred (N, ..., K) -> values (N, ...)``), and ``dvalues``, with ``y_pred``'s shape, the
# gradient of each value with respect to its own predictions. A reduction (mean over the batch, a sum,
# sample weights) is then ``loss = sum(w * values) / d`` with gradient ``w * dvalues / d``.


def _f(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    y_pred = xp.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(xp.float32)
    return xp.asarray(y_true).astype(y_pred.dtype, copy=False), y_pred


def softmax_backward(p: Array, dp: Array) -> Array:
    """``dz`` for ``p = softmax(z)`` given ``dp`` (last axis)."""
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


def categorical_crossentropy_values(
    y_true: Array, y_pred: Array, from_logits: bool = False
) -> ValuesAndGrad:
    """``-sum(y log q)`` over the last axis; ``q`` is ``y_pred`` renormalised and clipped to [1e-7, 1 - 1e-7]
    (or ``softmax(y_pred)`` with ``from_logits``)."""
    _check_same_shape(
        y_true,
        y_pred,
        "categorical_crossentropy",
        "One-hot labels need shape (N, classes); for integer labels use "
        "sparse_categorical_crossentropy or keras.utils.to_categorical(y). ",
    )
    y_true, y_pred = _f(y_true, y_pred)
    if from_logits:
        values = -(y_true * _log_softmax(y_pred)).sum(axis=-1)
        return values, softmax(y_pred) * y_true.sum(axis=-1, keepdims=True) - y_true
    total = y_pred.sum(axis=-1, keepdims=True)
    q = y_pred / total
    qc = xp.clip(q, EPSILON, 1 - EPSILON)
    values = -(y_true * xp.log(qc)).sum(axis=-1)
    # Chain rule through the clip (zero where clipped) and the renormalisation q = p / sum(p).
    g = xp.where((q >= EPSILON) & (q <= 1 - EPSILON), -y_true / qc, 0)
    return values, ((g - (g * q).sum(axis=-1, keepdims=True)) / total).astype(
        y_pred.dtype, copy=False
    )


def binary_crossentropy_values(
    y_true: Array, y_pred: Array, from_logits: bool = False
) -> ValuesAndGrad:
    """``-(y log p + (1-y) log(1-p))``, ``p`` clipped to [1e-7, 1 - 1e-7], mean over the last axis."""
    _check_same_shape(y_true, y_pred, "binary_crossentropy")
    y_true, y_pred = _f(y_true, y_pred)
    k = y_pred.shape[-1]
    if from_logits:
        z = y_pred
        per = xp.maximum(z, 0) - z * y_true + xp.log1p(xp.exp(-xp.abs(z)))
        return per.mean(axis=-1), ((sigmoid(z) - y_true) / k).astype(
            y_pred.dtype, copy=False
        )
    p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
    per = -(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p))
    inside = (y_pred >= EPSILON) & (y_pred <= 1 - EPSILON)
    return per.mean(axis=-1), (
        xp.where(inside, (p - y_true) / (p * (1 - p)), 0) / k
    ).astype(y_pred.dtype, copy=False)


def _elementwise(y_true: Array, y_pred: Array, name: str) -> tuple[Array, Array]:
    _check_same_shape(y_true, y_pred, name)
    return _f(y_true, y_pred)


def mean_squared_error_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``mean((p - y)^2)`` over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "mean_squared_error")
    d = y_pred - y_true
    return (d * d).mean(axis=-1), 2 * d / d.shape[-1]


def mean_absolute_error_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``mean(|p - y|)`` over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "mean_absolute_error")
    d = y_pred - y_true
    return xp.abs(d).mean(axis=-1), xp.sign(d) / d.shape[-1]


def mean_absolute_percentage_error_values(
    y_true: Array, y_pred: Array
) -> ValuesAndGrad:
    """``100 * mean(|y - p| / max(|y|, 1e-7))`` over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "mean_absolute_percentage_error")
    scale = xp.maximum(xp.abs(y_true), y_pred.dtype.type(EPSILON))
    d = y_pred - y_true
    return 100 * (xp.abs(d) / scale).mean(axis=-1), 100 * xp.sign(d) / scale / d.shape[
        -1
    ]


def mean_squared_logarithmic_error_values(
    y_true: Array, y_pred: Array
) -> ValuesAndGrad:
    """``mean((log(max(p, 1e-7) + 1) - log(max(y, 1e-7) + 1))^2)`` over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = y_pred.dtype.type(EPSILON)
    pc = xp.maximum(y_pred, eps)
    d = xp.log(pc + 1) - xp.log(xp.maximum(y_true, eps) + 1)
    return (d * d).mean(axis=-1), xp.where(y_pred > eps, 2 * d / (pc + 1), 0) / d.shape[
        -1
    ]


def huber_values(y_true: Array, y_pred: Array, delta: float = 1.0) -> ValuesAndGrad:
    """``0.5 e^2`` where ``|e| <= delta``, else ``delta |e| - 0.5 delta^2`` (``e = p - y``), mean over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "huber")
    delta = y_pred.dtype.type(delta)
    e = y_pred - y_true
    small = xp.abs(e) <= delta
    per = xp.where(small, 0.5 * e * e, delta * xp.abs(e) - 0.5 * delta * delta)
    return per.mean(axis=-1), xp.where(small, e, delta * xp.sign(e)) / e.shape[-1]


def log_cosh_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``log(cosh(p - y))``, written ``x + softplus(-2x) - log 2`` (no overflow), mean over the last axis.
    Its derivative is ``tanh(x)``."""
    y_true, y_pred = _elementwise(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    softplus = xp.maximum(-2 * x, 0) + xp.log1p(xp.exp(-xp.abs(2 * x)))
    per = x + softplus - y_pred.dtype.type(xp.log(2.0))
    return per.mean(axis=-1), xp.tanh(x) / x.shape[-1]


def kl_divergence_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``sum(y log(y / p))`` over the last axis, both clipped to [1e-7, 1]."""
    y_true, y_pred = _elementwise(y_true, y_pred, "kl_divergence")
    yc, pc = xp.clip(y_true, EPSILON, 1), xp.clip(y_pred, EPSILON, 1)
    inside = (y_pred >= EPSILON) & (y_pred <= 1)
    return (yc * xp.log(yc / pc)).sum(axis=-1), xp.where(inside, -yc / pc, 0).astype(
        y_pred.dtype, copy=False
    )


def poisson_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``mean(p - y log(p + 1e-7))`` over the last axis."""
    y_true, y_pred = _elementwise(y_true, y_pred, "poisson")
    eps = y_pred.dtype.type(EPSILON)
    return (y_pred - y_true * xp.log(y_pred + eps)).mean(axis=-1), (
        1 - y_true / (y_pred + eps)
    ) / y_pred.shape[-1]


def hinge_labels(y_true: Array) -> Array:
    """Keras's ``convert_binary_labels_to_hinge``: labels that are all 0 or 1 become -1 or 1; others stay."""
    return 2 * y_true - 1 if xp.all((y_true == 0) | (y_true == 1)) else y_true


def hinge_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``mean(max(1 - y p, 0))`` over the last axis, labels -1/1 (0/1 converted)."""
    y_true, y_pred = _elementwise(y_true, y_pred, "hinge")
    t = hinge_labels(y_true)
    margin = 1 - t * y_pred
    return xp.maximum(margin, 0).mean(axis=-1), xp.where(
        margin > 0, -t, 0
    ) / y_pred.shape[-1]


def squared_hinge_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``mean(max(1 - y p, 0)^2)`` over the last axis, labels -1/1 (0/1 converted)."""
    y_true, y_pred = _elementwise(y_true, y_pred, "squared_hinge")
    t = hinge_labels(y_true)
    m = xp.maximum(1 - t * y_pred, 0)
    return (m * m).mean(axis=-1), -2 * t * m / y_pred.shape[-1]


def categorical_hinge_values(y_true: Array, y_pred: Array) -> ValuesAndGrad:
    """``max(max((1 - y) p) - sum(y p) + 1, 0)``: the best wrong score against the true one."""
    y_true, y_pred = _elementwise(y_true, y_pred, "categorical_hinge")
    wrong = (1 - y_true) * y_pred
    top = wrong.argmax(axis=-1)[..., None]
    values = xp.maximum(
        xp.take_along_axis(wrong, top, -1)[..., 0] - (y_true * y_pred).sum(axis=-1) + 1,
        0,
    )
    d_neg = xp.zeros_like(y_pred)
    xp.put_along_axis(d_neg, top, xp.take_along_axis(1 - y_true, top, -1), -1)
    return values, xp.where((values > 0)[..., None], d_neg - y_true, 0).astype(
        y_pred.dtype, copy=False
    )


def categorical_focal_crossentropy_values(
    y_true: Array,
    y_pred: Array,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
) -> ValuesAndGrad:
    """``sum(alpha (1 - q)^gamma (-y log q))`` over the last axis, ``q`` as in categorical cross-entropy."""
    _check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    y_true, y_pred = _f(y_true, y_pred)
    p = softmax(y_pred) if from_logits else y_pred
    total = p.sum(axis=-1, keepdims=True)
    q = p / total
    qc = xp.clip(q, EPSILON, 1 - EPSILON)
    log_q = xp.log(qc)
    modulating = (1 - qc) ** gamma
    values = (alpha * modulating * (-y_true * log_q)).sum(axis=-1)
    # d/dq of alpha (1-q)^g (-y log q), zero where clipped; then through q = p / sum(p) (and the softmax).
    g = alpha * (
        gamma * (1 - qc) ** (gamma - 1) * y_true * log_q - modulating * y_true / qc
    )
    g = xp.where((q >= EPSILON) & (q <= 1 - EPSILON), g, 0)
    dp = (g - (g * q).sum(axis=-1, keepdims=True)) / total
    grad = softmax_backward(p, dp) if from_logits else dp
    return values, grad.astype(y_pred.dtype, copy=False)


def binary_focal_crossentropy_values(
    y_true: Array,
    y_pred: Array,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
) -> ValuesAndGrad:
    """``mean(w (1 - p_t)^gamma bce)`` over the last axis: ``p_t = y p + (1-y)(1-p)``, ``bce`` with ``p`` clipped
    to [1e-7, 1 - 1e-7], ``w = y alpha + (1-y)(1-alpha)`` with ``apply_class_balancing`` (else 1); with
    ``from_logits``, ``p = sigmoid(y_pred)`` first (as Keras does)."""
    _check_same_shape(y_true, y_pred, "binary_focal_crossentropy")
    y_true, y_pred = _f(y_true, y_pred)
    p = sigmoid(y_pred) if from_logits else y_pred
    pc = xp.clip(p, EPSILON, 1 - EPSILON)
    bce = -(y_true * xp.log(pc) + (1 - y_true) * xp.log(1 - pc))
    d_bce = xp.where(
        (p >= EPSILON) & (p <= 1 - EPSILON), (pc - y_true) / (pc * (1 - pc)), 0
    )
    p_t = y_true * p + (1 - y_true) * (1 - p)
    focal = (1 - p_t) ** gamma
    d_focal = -gamma * (1 - p_t) ** (gamma - 1) * (2 * y_true - 1)
    weight = y_true * alpha + (1 - y_true) * (1 - alpha) if apply_class_balancing else 1
    k = y_pred.shape[-1]
    dp = weight * (d_focal * bce + focal * d_bce) / k
    grad = dp * p * (1 - p) if from_logits else dp
    return (weight * focal * bce).mean(axis=-1), grad.astype(y_pred.dtype, copy=False)


def sparse_to_one_hot(
    y_true: Array, y_pred: Array, name: str = "sparse_categorical_crossentropy"
) -> Array:
    """Integer labels shaped like ``y_pred`` without its class axis (or with a class axis of 1), int or float,
    checked, as one-hot rows of ``y_pred``'s dtype."""
    y = xp.asarray(y_true)
    if y.ndim == y_pred.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != y_pred.shape[:-1]:
        raise ShapeError(
            f"{name}: expects integer class labels of shape {tuple(y_pred.shape[:-1])} for predictions of shape "
            f"{tuple(y_pred.shape)}. Labels of shape {tuple(xp.shape(y_true))} look one-hot: use "
            f"categorical_crossentropy, or pass y.argmax(-1). Received: y_true shape={tuple(xp.shape(y_true))}"
        )
    labels = sparse_labels(y.reshape(-1), y_pred.shape[-1], name).reshape(y.shape)
    one_hot = xp.zeros(
        y_pred.shape, dtype=y_pred.dtype if y_pred.dtype.kind == "f" else xp.float32
    )
    xp.put_along_axis(one_hot, labels[..., None], 1, -1)
    return one_hot
