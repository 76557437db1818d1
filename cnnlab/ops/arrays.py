"""Ops that move values without computing new ones: reshape, transpose, indexing,
concatenate, stack, broadcast, tile, repeat, pad, flip. Forward beside backward.

Each backward sends every gradient value back to the input entry it came from:
reshape and transpose undo themselves, indexing scatters into zeros (adding where
an index repeats), repeat and broadcast sum.
"""

from __future__ import annotations

from typing import Any, Sequence

from numpy.typing import ArrayLike

from ..backend import Array, xp
from ..errors import ShapeError
from .merge import unbroadcast


def inverse_permutation(order: Sequence[int]) -> list[int]:
    """The permutation that undoes ``order``: ``transpose(transpose(x, order), inverse) == x``."""
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return inverse


def reshape_forward(x: Array, shape: Sequence[int]) -> tuple[Array, tuple[int, ...]]:
    """``x`` with a new ``shape`` (one entry may be -1), same values in row-major order."""
    try:
        y = xp.reshape(x, shape)
    except ValueError:
        raise ShapeError(
            f"reshape: cannot reshape an array of shape {tuple(x.shape)} ({x.size} values) to "
            f"{tuple(shape) if not isinstance(shape, int) else (shape,)}. "
            f"Received: x shape={tuple(x.shape)}, new_shape={shape}"
        ) from None
    return y, x.shape


def reshape_backward(dy: Array, x_shape: Sequence[int]) -> tuple[Array, ...]:
    return (dy.reshape(x_shape),)


def transpose_forward(
    x: Array, axes: Sequence[int] | None = None
) -> tuple[Array, list[int]]:
    """Axes permuted by ``axes`` (None: reversed)."""
    order = list(range(x.ndim))[::-1] if axes is None else [a % x.ndim for a in axes]
    return xp.transpose(x, order), order


def transpose_backward(dy: Array, order: Sequence[int]) -> tuple[Array, ...]:
    return (xp.transpose(dy, inverse_permutation(order)),)


def getitem_forward(x: Array, key: Any) -> tuple[Array, tuple[tuple[int, ...], Any]]:
    """``x[key]``: slices, integers, ``None``, ``...``, integer or boolean arrays."""
    return x[key], (x.shape, key)


def getitem_backward(
    dy: Array, cache: tuple[tuple[int, ...], Any]
) -> tuple[Array, ...]:
    """Scatter ``dy`` into zeros of ``x``'s shape; ``np.add.at`` adds where fancy indices repeat."""
    shape, key = cache
    dx = xp.zeros(shape, dtype=dy.dtype)
    xp.add.at(dx, key, dy)
    return (dx,)


def stack_forward(*xs: Array, axis: int = 0) -> tuple[Array, tuple[int, int]]:
    """``xs`` (same shape) joined along a new ``axis``."""
    return xp.stack(xs, axis=axis), (axis, len(xs))


def stack_backward(dy: Array, cache: tuple[int, int]) -> tuple[Array, ...]:
    axis, count = cache
    return tuple(xp.take(dy, i, axis=axis) for i in range(count))


def broadcast_to_forward(
    x: Array, shape: Sequence[int]
) -> tuple[Array, tuple[int, ...]]:
    return xp.broadcast_to(x, shape), x.shape


def broadcast_to_backward(dy: Array, x_shape: Sequence[int]) -> tuple[Array, ...]:
    return (unbroadcast(dy, x_shape).reshape(x_shape),)


def tile_forward(
    x: Array, repeats: int | Sequence[int]
) -> tuple[Array, tuple[tuple[int, ...], tuple[int, ...]]]:
    """``x`` repeated as whole blocks ``repeats`` times along each axis (``np.tile``)."""
    y = xp.tile(x, repeats)
    return y, (x.shape, y.shape)


def tile_backward(
    dy: Array, cache: tuple[tuple[int, ...], tuple[int, ...]]
) -> tuple[Array, ...]:
    """Sum the copies: view ``dy`` as (copies, original) pairs of axes and add over the copies."""
    x_shape, y_shape = cache
    shape = (1,) * (len(y_shape) - len(x_shape)) + tuple(x_shape)
    pairs = []
    for size, total in zip(shape, y_shape):
        pairs += [total // size, size]
    g = dy.reshape(pairs).sum(axis=tuple(range(0, len(pairs), 2)))
    return (g.reshape(x_shape),)


def repeat_forward(
    x: Array, repeats: int | Sequence[int], axis: int | None = None
) -> tuple[Array, tuple[tuple[int, ...], int | Sequence[int], int | None]]:
    """Each entry repeated ``repeats`` times along ``axis`` (``np.repeat``; None flattens first)."""
    return xp.repeat(x, repeats, axis=axis), (x.shape, repeats, axis)


def repeat_backward(
    dy: Array, cache: tuple[tuple[int, ...], int | Sequence[int], int | None]
) -> tuple[Array, ...]:
    """Each input entry collects the gradients of its copies (none if repeated 0 times)."""
    x_shape, repeats, axis = cache
    along = 0 if axis is None else axis % len(x_shape)
    length = int(xp.prod(x_shape)) if axis is None else x_shape[along]
    source = xp.repeat(
        xp.arange(length), xp.broadcast_to(xp.asarray(repeats), (length,))
    )
    moved = xp.moveaxis(dy, along, 0)
    g = xp.zeros((length, *moved.shape[1:]), dtype=dy.dtype)
    xp.add.at(g, source, moved)
    return (xp.moveaxis(g, 0, along).reshape(x_shape),)


def pad_forward(
    x: Array, pad_width: ArrayLike, constant_values: float = 0
) -> tuple[Array, tuple[tuple[int, ...], Array]]:
    """``x`` padded with ``constant_values``; ``pad_width`` as NumPy's ``((before, after), ...)``."""
    widths = xp.broadcast_to(xp.asarray(pad_width, dtype=int), (x.ndim, 2))
    y = xp.pad(x, widths, mode="constant", constant_values=constant_values)
    return y, (x.shape, widths)


def pad_backward(dy: Array, cache: tuple[tuple[int, ...], Array]) -> tuple[Array, ...]:
    shape, widths = cache
    return (
        dy[
            tuple(
                slice(int(before), int(before) + size)
                for size, (before, _) in zip(shape, widths)
            )
        ],
    )


def flip_forward(
    x: Array, axis: int | tuple[int, ...] | None = None
) -> tuple[Array, int | tuple[int, ...] | None]:
    return xp.flip(x, axis=axis), axis


def flip_backward(dy: Array, axis: int | tuple[int, ...] | None) -> tuple[Array, ...]:
    return (xp.flip(dy, axis=axis),)
