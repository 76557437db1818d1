"""The augmentation layers' pixel operations other than warps, forward and backward.

All act on a batch ``x (N, H, W, C)`` with one random draw per image (drawn by the
layer, passed in here), so that the ops stay pure and the layers seeded.
"""

from __future__ import annotations

from typing import Sequence

from numpy.typing import ArrayLike

from ..backend import Array, xp


def flip_forward(x: Array, flips: ArrayLike, axes: Sequence[int]) -> Array:
    """Reverse the images where ``flips (N,)`` is True along each of ``axes`` (1: rows, 2: columns).
    The flip is its own inverse, so the backward pass is this function applied to ``dy``."""
    return xp.where(
        xp.asarray(flips).reshape(-1, 1, 1, 1), xp.flip(x, axis=tuple(axes)), x
    )


def contrast_forward(
    x: Array, factors: Array, value_range: Sequence[float]
) -> tuple[Array, tuple[Array, Array]]:
    """``clip((x - mean) * factor + mean, *value_range)``, ``mean`` per image and channel over
    height and width, one ``factor`` per image (``(N,)``). Returns ``(y, cache)``."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    f = xp.asarray(factors, dtype=x.dtype).reshape(-1, 1, 1, 1)
    z = (x - mean) * f + mean
    lo, hi = value_range
    y = xp.clip(z, lo, hi)
    return y, ((z > lo) & (z < hi), f)


def contrast_backward(dy: Array, cache: tuple[Array, Array]) -> Array:
    """Through the clip (zero where it bit), then ``dx = f*g + (1 - f)*mean(g)`` (the mean's path)."""
    kept, f = cache
    g = dy * kept
    return g * f + (1 - f) * g.mean(axis=(1, 2), keepdims=True)


def brightness_forward(
    x: Array, deltas: Array, value_range: Sequence[float]
) -> tuple[Array, Array]:
    """``clip(x + delta, *value_range)``, one ``delta (N,)`` per image. Returns ``(y, kept)``."""
    z = x + xp.asarray(deltas, dtype=x.dtype).reshape(-1, 1, 1, 1)
    lo, hi = value_range
    return xp.clip(z, lo, hi), (z > lo) & (z < hi)


def brightness_backward(dy: Array, kept: Array) -> Array:
    return dy * kept


def crop_forward(
    x: Array, top: int, left: int, height: int, width: int
) -> tuple[Array, tuple[tuple[int, ...], int, int]]:
    """The window ``x[:, top:top+height, left:left+width]`` (the same window for the whole batch, as Keras)."""
    return x[:, top : top + height, left : left + width], (tuple(x.shape), top, left)


def crop_backward(dy: Array, cache: tuple[tuple[int, ...], int, int]) -> Array:
    x_shape, top, left = cache
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    dx[:, top : top + dy.shape[1], left : left + dy.shape[2]] = dy
    return dx
