"""Feature standardization with fixed statistics (Keras's ``Normalization`` layer), and the
running mean and variance that its ``adapt`` gathers batch by batch.

With a per-feature ``mean`` and ``variance`` (shaped to broadcast against ``x``)::

    y = (x - mean) / max(sqrt(variance), epsilon)        (invert=False)
    y = mean + x * max(sqrt(variance), epsilon)          (invert=True)

``epsilon`` is Keras's ``backend.epsilon()`` (1e-7): a zero variance divides by it instead of by zero.
The statistics are constants, so the backward is a per-feature scale.
"""

from __future__ import annotations

from ..backend import xp
from .losses import EPSILON  # Keras's backend.epsilon(), the same 1e-7


def standardize_forward(x, mean, variance, invert=False):
    """``x (any shape)``, ``mean, variance`` (broadcastable to ``x``) -> ``(y, scale)``;
    ``y`` has ``x``'s shape and dtype, ``scale`` is what ``backward`` multiplies by."""
    std = xp.maximum(xp.sqrt(variance.astype(x.dtype)), x.dtype.type(EPSILON))
    mean = mean.astype(x.dtype)
    if invert:
        return mean + x * std, std
    return (x - mean) / std, 1 / std


def standardize_backward(dy, scale):
    """``dy (y's shape)`` -> ``dx``: the statistics are constants, so ``dx = dy * scale``."""
    return dy * scale


def merge_moments(
    total_mean, total_var, total_count, batch_mean, batch_var, batch_count
):
    """Fold one batch's mean and variance (over ``batch_count`` values per feature) into the running
    ones over ``total_count`` values, as Keras's ``Normalization.adapt`` does for a batched
    dataset: the new mean is the count-weighted mean, and the new variance adds each part's squared
    offset from it (the lack-of-fit sum of squares), so the result is the variance of all values
    seen, dividing by their number. Returns ``(mean, var, count)``."""
    count = total_count + batch_count
    batch_weight = float(batch_count) / count
    existing_weight = 1.0 - batch_weight
    mean = total_mean * existing_weight + batch_mean * batch_weight
    var = (total_var + (total_mean - mean) ** 2) * existing_weight + (
        batch_var + (batch_mean - mean) ** 2
    ) * batch_weight
    return mean, var, count
