"""Pooling in any number of spatial dimensions, forward and backward.

A pooling window slides like a convolution's but has no weights: max pooling
keeps the largest value of each window, average pooling the mean. Layout
``(N, *spatial, C)``; each channel is pooled on its own.

Both walk the kernel offsets (4 strided slices for a 2x2 window) instead of
the output positions, so there is no Python loop over pixels.

Rules that match Keras/TensorFlow:

* ``strides=None`` means the pool size.
* ``"same"`` padding: padded cells never win a max (they hold -inf) and are
  not counted in an average (it divides by the real cells only).
* Ties in max pooling: the gradient goes to the **first** maximum of the
  window in row-major order, one winner per window, as TensorFlow and
  PyTorch do. (Sending it to every tied cell makes conv gradients wrong on
  MNIST, whose saturated patches tie often.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from ..backend import Array, xp
from ..errors import ShapeError
from . import shapes
from .shapes import IntOrTuple, Pads
from .windows import interior, kernel_offsets, offset_slice, pad


@dataclass
class PoolCache:
    x_shape: tuple
    pool: tuple
    strides: tuple
    pads: tuple
    out: tuple
    extra: Any = None  # max: index of the winning offset; average: cell counts


def pool_geometry(
    x_shape: Sequence[int],
    pool_size: Sequence[int],
    strides: IntOrTuple | None = None,
    padding: str = "valid",
    where: str = "pooling",
) -> tuple[tuple[int, ...], tuple[int, ...], Pads, tuple[int, ...]]:
    """Check shapes and return ``(pool, strides, pads, out_spatial)``."""
    if isinstance(pool_size, int):
        raise ShapeError(
            f"{where}: pool_size must be a tuple here (layers expand ints). Received: pool_size={pool_size!r}"
        )
    nd = len(pool_size)
    if len(x_shape) != nd + 2:
        raise ShapeError(
            f"{where}: {nd}-D pooling expects input of rank {nd + 2} (batch, {nd} spatial axes, channels); "
            f"got rank {len(x_shape)}. Received: input shape={tuple(x_shape)}"
        )
    pool = shapes.normalize_tuple(pool_size, nd, "pool_size")
    strides = (
        pool if strides is None else shapes.normalize_tuple(strides, nd, "strides")
    )
    if not (isinstance(padding, str) and padding.lower() in ("valid", "same")):
        raise ShapeError(
            f'{where}: padding must be "valid" or "same". Received: padding={padding!r}'
        )
    ones = (1,) * nd
    pads = shapes.resolve_padding(x_shape[1:-1], pool, strides, ones, padding)
    out = shapes.output_shape(x_shape[1:-1], pool, strides, ones, pads, where)
    return pool, strides, pads, out


def max_pool_forward(
    x: Array,
    pool_size: Sequence[int],
    strides: IntOrTuple | None = None,
    padding: str = "valid",
) -> tuple[Array, PoolCache]:
    """Max pooling. ``x (N, *S, C)`` -> ``(y (N, *out, C), cache)``.

    The cache records where each window's first maximum is, so that the
    backward pass routes the gradient there.
    """
    pool, strides, pads, out = pool_geometry(
        x.shape, pool_size, strides, padding, "max_pool"
    )
    x_padded = pad(x, pads, value=-xp.inf)
    winners: Any  # tiled: (axis, size, winner) per axis; sliding: the winning offset per window
    if strides == pool:
        y, winners = _tiled_max(x_padded, pool, out)
    else:
        y, winners = _sliding_max(x_padded, pool, strides, out)
    return y, PoolCache(tuple(x.shape), pool, strides, pads, out, winners)


def max_pool_values(
    x: Array,
    pool_size: Sequence[int],
    strides: IntOrTuple | None = None,
    padding: str = "valid",
) -> Array:
    """Max pooling's ``y (N, *out, C)`` alone, for inference: :func:`max_pool_forward`
    without finding where each maximum is (no backward will ask)."""
    pool, strides, pads, out = pool_geometry(
        x.shape, pool_size, strides, padding, "max_pool"
    )
    x_padded = pad(x, pads, value=-xp.inf)
    ones = (1,) * len(pool)
    offsets = kernel_offsets(pool)
    y = x_padded[offset_slice(offsets[0], strides, ones, out)].copy()
    for offset in offsets[1:]:
        xp.maximum(y, x_padded[offset_slice(offset, strides, ones, out)], out=y)
    return y


def max_pool_backward(dy: Array, cache: PoolCache) -> Array:
    """``dy (N, *out, C)`` -> ``dx (N, *S, C)``: each window's gradient goes to its first maximum."""
    if cache.strides == cache.pool:
        return _tiled_max_backward(dy, cache)
    return _sliding_max_backward(dy, cache)


def _sliding_max(
    x_padded: Array, pool: Sequence[int], strides: Sequence[int], out: Sequence[int]
) -> tuple[Array, Array]:
    """Any windows: walk the kernel offsets in row-major order, keeping the best
    value and the offset it came from (strictly greater wins, so ties keep the first)."""
    ones = (1,) * len(pool)
    offsets = kernel_offsets(pool)
    y = x_padded[offset_slice(offsets[0], strides, ones, out)].copy()
    winner = xp.zeros(y.shape, dtype=xp.uint8 if len(offsets) < 256 else xp.int32)
    for j, offset in enumerate(offsets[1:], start=1):
        cells = x_padded[offset_slice(offset, strides, ones, out)]
        xp.copyto(winner, j, where=cells > y)
        xp.maximum(y, cells, out=y)
    return y, winner


def _sliding_max_backward(dy: Array, cache: PoolCache) -> Array:
    ones = (1,) * len(cache.pool)
    dx = xp.zeros(_padded_shape(cache), dtype=dy.dtype)
    disjoint = all(s >= p for s, p in zip(cache.strides, cache.pool))
    for j, offset in enumerate(kernel_offsets(cache.pool)):
        cells = dx[offset_slice(offset, cache.strides, ones, cache.out)]
        if disjoint:  # windows do not overlap: write straight into place
            xp.multiply(dy, cache.extra == j, out=cells)
        else:
            cells += dy * (cache.extra == j)
    return dx[interior(cache.pads, cache.x_shape[1:-1])]


def _along(a: Array, axis: int, k: int, step: int, count: int) -> Array:
    """Cells ``k, k + step, ...`` (``count`` of them) of ``a`` along ``axis``."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(k, k + (count - 1) * step + 1, step)
    return a[tuple(index)]


def _tiled_max(
    x_padded: Array, pool: Sequence[int], out: Sequence[int]
) -> tuple[Array, list[tuple[int, int, Array]]]:
    """Windows that tile the input (stride = pool size): reduce one axis at a
    time, the last spatial axis first. Each reduction keeps, per cell, which of
    the ``p`` candidates won; taking ties to the lower index on every axis, last
    axis first, picks the window's first maximum in row-major order."""
    tiled = (
        (slice(None),)
        + tuple(slice(0, o * p) for o, p in zip(out, pool))
        + (slice(None),)
    )
    current, winners = (
        x_padded[tiled],
        [],
    )  # cells past the last whole window are never read
    for axis in range(len(pool), 0, -1):
        p, o = pool[axis - 1], out[axis - 1]
        best = _along(current, axis, 0, p, o)
        winner = None
        for k in range(1, p):
            cells = _along(current, axis, k, p, o)
            better = cells > best
            if winner is None:
                winner = better if p == 2 else better.astype(xp.uint8)
            else:
                xp.copyto(winner, k, where=better)
            best = (
                xp.maximum(best, cells) if k == 1 else xp.maximum(best, cells, out=best)
            )
        if winner is None:  # pool size 1 along this axis
            best, winner = best.copy(), xp.zeros(best.shape, dtype=bool)
        winners.append((axis, p, winner))
        current = best
    return current, winners


def _tiled_max_backward(dy: Array, cache: PoolCache) -> Array:
    grad = dy
    for axis, p, winner in reversed(cache.extra):  # first spatial axis first
        shape = list(grad.shape)
        shape[axis] *= p
        spread = xp.empty(shape, dtype=dy.dtype)
        o = grad.shape[axis]
        if p == 2:
            taken = _along(spread, axis, 1, 2, o)
            xp.multiply(grad, winner, out=taken)
            xp.subtract(grad, taken, out=_along(spread, axis, 0, 2, o))
        else:
            for k in range(p):
                xp.multiply(grad, winner == k, out=_along(spread, axis, k, p, o))
        grad = spread
    padded = _padded_shape(cache)
    if grad.shape == padded and not any(b or a for b, a in cache.pads):
        return grad  # the windows cover the input exactly
    dx = xp.zeros(padded, dtype=dy.dtype)
    dx[
        (slice(None),) + tuple(slice(0, s) for s in grad.shape[1:-1]) + (slice(None),)
    ] = grad
    return dx[interior(cache.pads, cache.x_shape[1:-1])]


def avg_pool_forward(
    x: Array,
    pool_size: Sequence[int],
    strides: IntOrTuple | None = None,
    padding: str = "valid",
) -> tuple[Array, PoolCache]:
    """Average pooling. ``x (N, *S, C)`` -> ``(y (N, *out, C), cache)``.

    With ``"same"`` padding, border windows divide by the number of real cells.
    """
    pool, strides, pads, out = pool_geometry(
        x.shape, pool_size, strides, padding, "avg_pool"
    )
    ones = (1,) * len(pool)
    xp_ = pad(x, pads)
    y = xp.zeros((x.shape[0], *out, x.shape[-1]), dtype=x.dtype)
    for offset in kernel_offsets(pool):
        y += xp_[offset_slice(offset, strides, ones, out)]
    counts = _real_cell_counts(x.shape, pool, strides, pads, out, x.dtype)
    y /= counts
    return y, PoolCache(tuple(x.shape), pool, strides, pads, out, counts)


def avg_pool_backward(dy: Array, cache: PoolCache) -> Array:
    """``dy (N, *out, C)`` -> ``dx (N, *S, C)``: each window's gradient is spread evenly over its real cells."""
    ones = (1,) * len(cache.pool)
    share = dy / cache.extra
    dx = xp.zeros(_padded_shape(cache), dtype=dy.dtype)
    for offset in kernel_offsets(cache.pool):
        dx[offset_slice(offset, cache.strides, ones, cache.out)] += share
    return dx[interior(cache.pads, cache.x_shape[1:-1])]


def _real_cell_counts(
    x_shape: Sequence[int],
    pool: Sequence[int],
    strides: Sequence[int],
    pads: Pads,
    out: Sequence[int],
    dtype: Any,
) -> int | Array:
    """How many unpadded cells each window covers: ``prod(pool)`` without padding,
    an array ``(1, *out, 1)`` with it."""
    if not any(b or a for b, a in pads):
        return math.prod(pool)  # a Python int keeps the array's dtype
    ones = (1,) * len(pool)
    mask = pad(xp.ones((1, *x_shape[1:-1], 1), dtype=dtype), pads)
    counts = xp.zeros((1, *out, 1), dtype=dtype)
    for offset in kernel_offsets(pool):
        counts += mask[offset_slice(offset, strides, ones, out)]
    return counts


def _padded_shape(cache: PoolCache) -> tuple[int, ...]:
    return (
        (cache.x_shape[0],)
        + tuple(s + b + a for s, (b, a) in zip(cache.x_shape[1:-1], cache.pads))
        + (cache.x_shape[-1],)
    )


def global_max_pool_forward(x: Array) -> tuple[Array, tuple[tuple[int, ...], Array]]:
    """``x (N, *S, C)`` -> ``(y (N, C), cache)``: the largest value of each channel."""
    _check_spatial(x, "global_max_pool")
    flat = x.reshape(x.shape[0], -1, x.shape[-1])
    winner = xp.argmax(flat, axis=1)  # argmax returns the first maximum
    y = xp.take_along_axis(flat, winner[:, None, :], axis=1)[:, 0, :]
    return y, (tuple(x.shape), winner)


def global_max_pool_backward(dy: Array, cache: tuple[tuple[int, ...], Array]) -> Array:
    """``dy (N, C)`` -> ``dx (N, *S, C)``, all of it to the first maximum."""
    x_shape, winner = cache
    dx = xp.zeros((x_shape[0], math.prod(x_shape[1:-1]), x_shape[-1]), dtype=dy.dtype)
    xp.put_along_axis(dx, winner[:, None, :], dy[:, None, :], axis=1)
    return dx.reshape(x_shape)


def global_avg_pool_forward(x: Array) -> tuple[Array, tuple[int, ...]]:
    """``x (N, *S, C)`` -> ``(y (N, C), cache)``: the mean of each channel."""
    _check_spatial(x, "global_avg_pool")
    axes = tuple(range(1, x.ndim - 1))
    return x.mean(axis=axes), tuple(x.shape)


def global_avg_pool_backward(dy: Array, x_shape: Sequence[int]) -> Array:
    """``dy (N, C)`` -> ``dx (N, *S, C)``, spread evenly."""
    cells = math.prod(x_shape[1:-1])
    shape = (x_shape[0],) + (1,) * (len(x_shape) - 2) + (x_shape[-1],)
    return xp.broadcast_to((dy / cells).reshape(shape), x_shape).copy()


def _check_spatial(x: Array, where: str) -> None:
    if x.ndim < 3:
        raise ShapeError(
            f"{where}: expects (batch, *spatial, channels) with at least one spatial axis. "
            f"Received: input shape={tuple(x.shape)}"
        )
