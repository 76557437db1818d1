"""Batch normalization along one axis of an input of any rank, forward and backward.

Every channel ``c`` (an index along ``axis``) is normalized over all the other
axes (batch and spatial), then scaled and shifted::

    x_hat = (x - mean_c) / sqrt(var_c + epsilon)
    y     = gamma_c * x_hat + beta_c

In training mode ``mean_c`` and ``var_c`` are the batch's own statistics
(the variance divides by the count ``m``, not ``m - 1``, as Keras), and the
gradient flows through them too; in inference mode they are the moving
averages, constants, and the op is a per-channel affine map.

The moving averages follow Keras's convention (PyTorch's ``momentum`` means
the opposite weight)::

    moving = moving * momentum + batch * (1 - momentum)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..backend import Array, xp
from ..errors import ShapeError


@dataclass
class BatchNormCache:
    """What the backward pass needs from the forward pass."""

    x_hat: Array  # the normalized input, x's shape
    inv_std: Array  # 1 / sqrt(var + epsilon), broadcastable to x
    gamma: Array | None  # (C,) or None (scale=False)
    axes: tuple  # the reduction axes (all but ``axis``)
    training: bool  # batch statistics (gradient through them) or moving ones
    batch_mean: Array | None = (
        None  # (C,), training mode only: for the moving-average update
    )
    batch_var: Array | None = None
    total: Callable | None = (
        None  # training on a part of a split batch: adds sums over all parts
    )
    count: int = 0  # the values per channel in the whole batch (training mode)


def channel_axis(ndim: int, axis: int, where: str = "batch_norm") -> int:
    """``axis`` (negative counts from the end) as an index in ``[1, ndim)``; the batch axis is refused."""
    if not -ndim <= axis < ndim:
        raise ShapeError(
            f"{where}: axis {axis} is out of bounds for an input of rank {ndim}. Received: axis={axis}"
        )
    axis %= ndim
    if axis == 0:
        raise ShapeError(
            f"{where}: axis 0 is the batch axis; batch normalization normalizes over the batch, "
            f"so `axis` must name a feature axis (usually -1, the channels). Received: axis={axis}"
        )
    return axis


def _broadcast(v: Array, ndim: int, axis: int) -> Array:
    shape = [1] * ndim
    shape[axis] = -1
    return v.reshape(shape)


def channel_sum(a: Array, axis: int) -> Array:
    """``a`` summed over every axis but ``axis`` -> ``(C,)``. Channels last (the usual layout):
    one matrix-vector product, which BLAS does about 8x faster than NumPy's reduction over
    the leading axes of a map with few channels."""
    if axis == a.ndim - 1 and a.flags.c_contiguous:
        rows = a.reshape(-1, a.shape[-1])
        return xp.ones(rows.shape[0], dtype=a.dtype) @ rows
    return a.sum(axis=tuple(i for i in range(a.ndim) if i != axis))


def channel_dot(a: Array, b: Array, axis: int) -> Array:
    """``(a * b)`` summed over every axis but ``axis`` -> ``(C,)``, without the product map."""
    letters = "abcdefghijklmnopqrstuvwxyz"[: a.ndim]
    return xp.einsum(f"{letters},{letters}->{letters[axis]}", a, b)


def batch_norm_forward(
    x: Array,
    gamma: Array | None,
    beta: Array | None,
    moving_mean: Array,
    moving_variance: Array,
    axis: int = -1,
    epsilon: float = 1e-3,
    training: bool = False,
    total: Callable | None = None,
) -> tuple[Array, BatchNormCache]:
    """``x (N, ..., C at axis, ...)``, ``gamma, beta, moving_mean, moving_variance (C,)`` -> ``(y, cache)``.

    ``gamma``/``beta`` may be None (``scale=False``/``center=False``). In training
    mode the cache carries the batch mean and variance (``(C,)``) for
    :func:`moving_average`; ``y`` has ``x``'s shape and dtype.

    ``total``: when ``x`` is one part of a batch split across threads, a function that
    adds a list of per-part sums over all parts (``cnnlab.part_sums``); the statistics
    are then the whole batch's, computed from each part's sums (the backward uses it too).
    """
    axis = channel_axis(x.ndim, axis)
    c = x.shape[axis]
    for name, v in (
        ("gamma", gamma),
        ("beta", beta),
        ("moving_mean", moving_mean),
        ("moving_variance", moving_variance),
    ):
        if v is not None and tuple(v.shape) != (c,):
            raise ShapeError(
                f"batch_norm: {name} must have shape ({c},) for {c} channels along axis {axis}. "
                f"Received: {name} shape={tuple(v.shape)}, input shape={tuple(x.shape)}"
            )
    axes = tuple(i for i in range(x.ndim) if i != axis)
    eps = x.dtype.type(epsilon)
    count = x.size // c
    if training:
        part_sum = channel_sum(x, axis)
        if total is not None:
            part_sum, count = total([part_sum, count])
        batch_mean = part_sum / x.dtype.type(count)
        x_hat = x - _broadcast(
            batch_mean, x.ndim, axis
        )  # centred, normalized in place below
        squares = channel_dot(x_hat, x_hat, axis)
        if total is not None:
            (squares,) = total([squares])
        batch_var = squares / x.dtype.type(count)  # divides by m, as Keras
        inv_std = _broadcast(1 / xp.sqrt(batch_var + eps), x.ndim, axis)
    else:
        inv_std = 1 / xp.sqrt(
            _broadcast(moving_variance, x.ndim, axis).astype(x.dtype) + eps
        )
        x_hat = x - _broadcast(moving_mean, x.ndim, axis).astype(x.dtype)
        batch_mean = batch_var = None
    x_hat *= inv_std
    y = x_hat if gamma is None else x_hat * _broadcast(gamma, x.ndim, axis)
    if beta is not None:
        if y is x_hat:
            y = y + _broadcast(beta, x.ndim, axis)
        else:
            y += _broadcast(beta, x.ndim, axis)
    cache = BatchNormCache(
        x_hat,
        inv_std,
        gamma,
        axes,
        bool(training),
        batch_mean,
        batch_var,
        total if training else None,
        count,
    )
    return y, cache


def batch_norm_backward(
    dy: Array, cache: BatchNormCache, need_dx: bool = True
) -> tuple[Array | None, Array | None, Array | None]:
    """``dy (x's shape)`` -> ``(dx or None, dgamma (C,) or None, dbeta (C,))``.

    With ``g = dy * gamma`` and means over the reduction axes, training mode gives
    ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))`` (the two extra terms
    are the paths through the batch mean and variance); inference mode gives
    ``dx = g * inv_std``. ``dbeta`` is returned whatever ``center`` is; the layer
    keeps the gradients of the weights it has.
    """
    axes = cache.axes
    x_hat = cache.x_hat
    axis = next(i for i in range(dy.ndim) if i not in axes)
    dgamma = channel_dot(dy, x_hat, axis)
    dbeta = channel_sum(dy, axis)
    if not need_dx:
        return None, dgamma, dbeta
    if not cache.training:
        g = dy if cache.gamma is None else dy * _broadcast(cache.gamma, dy.ndim, axis)
        return g * cache.inv_std, dgamma, dbeta
    m = cache.count
    # The means below are over the whole batch: a part of a split batch adds the parts' sums
    # (its own dgamma and dbeta stay its share of the weight gradients, summed later).
    sum_dgamma, sum_dbeta = (
        (dgamma, dbeta) if cache.total is None else cache.total([dgamma, dbeta])
    )
    # dx = inv_std * gamma * (dy - sum(dy)/m - x_hat * sum(dy * x_hat)/m): per-channel
    # factors times the two full maps, in place (sum(dy) is dbeta, sum(dy * x_hat) dgamma).
    scale = inv_std = cache.inv_std.reshape(-1)
    if cache.gamma is not None:
        scale = inv_std * cache.gamma
    dx = dy * _broadcast(scale, dy.ndim, axis)
    dx -= _broadcast(scale * sum_dbeta / m, dy.ndim, axis)
    dx -= x_hat * _broadcast(scale * sum_dgamma / m, dy.ndim, axis)
    return dx, dgamma, dbeta


def moving_average(moving: Array, batch: Array, momentum: float) -> Array:
    """Keras's update ``moving * momentum + batch * (1 - momentum)`` (a new array)."""
    momentum = moving.dtype.type(momentum)
    return moving * momentum + batch.astype(moving.dtype) * (1 - momentum)
