"""Reductions over axes (sum, mean, max, min, prod, var, std, logsumexp), forward beside backward.

``axis`` is None (every axis), an int or a tuple, as in NumPy and Keras;
``keepdims`` keeps the reduced axes with length 1. Each backward first puts the
reduced axes back (:func:`_keep_axes`) so that ``dy`` broadcasts against ``x``.

* ``max``/``min`` split the gradient evenly among tied values (TensorFlow and
  PyTorch's ``amax`` both do).
* ``prod`` computes each entry's "product of all the others" directly, so an
  input holding zeros still gets its exact gradient (``y / x`` would divide by 0).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..backend import Array, xp
from .arrays import inverse_permutation

#: An ``axis`` argument: None (every axis), one axis or several.
Axis = int | Sequence[int] | None
#: What a reduction's backward needs (shapes, axes and the arrays it reads), as its forward returns it.
Cache = tuple[Any, ...]


def _axes(ndim: int, axis: Axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def _keep_axes(g: Array, ndim: int, axes: tuple[int, ...], keepdims: bool) -> Array:
    """``g`` reduced over ``axes`` -> the same values with those axes kept as length 1."""
    return g if keepdims else xp.expand_dims(g, axes)


def _count(shape: Sequence[int], axes: Sequence[int]) -> int:
    return math.prod(shape[a] for a in axes)


def sum_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    """``x (...)`` -> ``sum over axis``."""
    axes = _axes(x.ndim, axis)
    return x.sum(axis=axes, keepdims=keepdims), (x.shape, axes, keepdims)


def sum_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    shape, axes, keepdims = cache
    return (xp.broadcast_to(_keep_axes(dy, len(shape), axes, keepdims), shape),)


def mean_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    axes = _axes(x.ndim, axis)
    return x.mean(axis=axes, keepdims=keepdims), (x.shape, axes, keepdims)


def mean_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    shape, axes, keepdims = cache
    g = _keep_axes(dy, len(shape), axes, keepdims) / dy.dtype.type(_count(shape, axes))
    return (xp.broadcast_to(g, shape),)


def max_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    axes = _axes(x.ndim, axis)
    y = x.max(axis=axes, keepdims=keepdims)
    return y, (x, y, axes, keepdims)


def min_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    axes = _axes(x.ndim, axis)
    y = x.min(axis=axes, keepdims=keepdims)
    return y, (x, y, axes, keepdims)


def extreme_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    """Backward of max and min: the gradient goes to the winners, split evenly among ties."""
    x, y, axes, keepdims = cache
    winners = x == _keep_axes(y, x.ndim, axes, keepdims)
    ties = winners.sum(axis=axes, keepdims=True).astype(dy.dtype)
    return (
        xp.where(
            winners, _keep_axes(dy, x.ndim, axes, keepdims) / ties, dy.dtype.type(0)
        ),
    )


max_backward = min_backward = extreme_backward


def prod_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    axes = _axes(x.ndim, axis)
    return x.prod(axis=axes, keepdims=keepdims), (x, axes, keepdims)


def prod_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    """``dx_i = dy * prod_{j != i} x_j``, from products of the entries before and after ``i``."""
    x, axes, keepdims = cache
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = xp.transpose(x, kept + list(axes))
    flat = moved.reshape(*moved.shape[: len(kept)], -1)
    ones = xp.ones(flat.shape[:-1] + (1,), dtype=x.dtype)
    before = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(
        xp.cumprod(
            xp.flip(xp.concatenate([flat[..., 1:], ones], axis=-1), -1), axis=-1
        ),
        -1,
    )
    others = (before * after).reshape(moved.shape)
    others = xp.transpose(others, inverse_permutation(kept + list(axes)))
    return (others * _keep_axes(dy, x.ndim, axes, keepdims),)


def var_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    """Population variance (divides by n, as Keras's ``ops.var``)."""
    axes = _axes(x.ndim, axis)
    centred = x - x.mean(axis=axes, keepdims=True)
    y = (centred * centred).mean(axis=axes, keepdims=keepdims)
    return y, (centred, axes, keepdims)


def var_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    centred, axes, keepdims = cache
    n = dy.dtype.type(_count(centred.shape, axes))
    return (_keep_axes(dy, centred.ndim, axes, keepdims) * (centred + centred) / n,)


def std_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    y, (centred, axes, keepdims) = var_forward(x, axis, keepdims)
    y = xp.sqrt(y)
    return y, (centred, y, axes, keepdims)


def std_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    centred, y, axes, keepdims = cache
    n = dy.dtype.type(_count(centred.shape, axes))
    return (_keep_axes(dy / y, centred.ndim, axes, keepdims) * centred / n,)


def logsumexp_forward(
    x: Array, axis: Axis = None, keepdims: bool = False
) -> tuple[Array, Cache]:
    """``log(sum(exp(x)))``, shifted by the max so it never overflows."""
    axes = _axes(x.ndim, axis)
    top = x.max(axis=axes, keepdims=True)
    y_kept = top + xp.log(xp.exp(x - top).sum(axis=axes, keepdims=True))
    y = y_kept if keepdims else xp.squeeze(y_kept, axis=axes)
    return y, (x, y_kept, axes, keepdims)


def logsumexp_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    """The gradient of logsumexp is the softmax over the reduced axes."""
    x, y_kept, axes, keepdims = cache
    return (_keep_axes(dy, x.ndim, axes, keepdims) * xp.exp(x - y_kept),)


def cumsum_forward(x: Array, axis: int | None = None) -> tuple[Array, Cache]:
    """Running sum along ``axis`` (None: over the flattened array)."""
    if axis is None:
        return xp.cumsum(x.reshape(-1)), (x.shape, None)
    return xp.cumsum(x, axis=axis), (x.shape, axis)


def cumsum_backward(dy: Array, cache: Cache) -> tuple[Array, ...]:
    """Each entry feeds every later running sum: the running sum of ``dy`` from the end."""
    shape, axis = cache
    along = 0 if axis is None else axis
    g = xp.flip(xp.cumsum(xp.flip(dy, along), axis=along), along)
    return (g.reshape(shape),)
