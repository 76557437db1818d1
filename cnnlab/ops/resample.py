"""Padding, cropping and upsampling of the spatial axes, forward and backward.

Layout ``(N, *spatial, C)``; each function works for any number of spatial axes.

* zero padding and cropping are each other's backward;
* nearest-neighbour upsampling by whole factors repeats cells (its backward sums the
  gradient of each block of copies);
* resizing to any size (bilinear UpSampling2D, Resizing, CenterCrop) is the package's one
  resize, :mod:`cnnlab.ops.resize` (TensorFlow's half-pixel rule, no antialiasing);
  :func:`spatial_resize` applies it to the spatial axes.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..backend import Array, xp
from ..errors import ShapeError
from .resize import ResizeCache, resize
from .shapes import Pads
from .windows import interior, pad


def zero_pad_forward(
    x: Array, pads: Pads
) -> tuple[Array, tuple[Pads, tuple[int, ...]]]:
    """``x (N, *S, C)``, ``pads = ((before, after), ...)`` -> ``(y (N, *(S + before + after), C), cache)``."""
    _check_pairs(x, pads, "zero_pad")
    return pad(x, pads), (tuple(pads), tuple(x.shape[1:-1]))


def zero_pad_backward(dy: Array, cache: tuple[Pads, tuple[int, ...]]) -> Array:
    """The gradient of the padded cells is dropped: ``dx = dy[interior]``."""
    pads, spatial = cache
    return dy[interior(pads, spatial)]


def crop_forward(
    x: Array, crops: Pads, where: str = "crop"
) -> tuple[Array, tuple[Pads, tuple[int, ...]]]:
    """``x (N, *S, C)`` -> ``(y (N, *(S - before - after), C), cache)``; refuses a crop that leaves nothing."""
    _check_pairs(x, crops, where)
    spatial = x.shape[1:-1]
    for axis, (size, (b, a)) in enumerate(zip(spatial, crops)):
        if b + a >= size:
            raise ShapeError(
                f"{where}: cropping {b} + {a} cells from spatial axis {axis} of size {size} leaves "
                f"nothing. Crop less, or crop a larger input. "
                f"Received: input shape={tuple(x.shape)}, cropping={tuple(crops)}"
            )
    kept = tuple(s - b - a for s, (b, a) in zip(spatial, crops))
    return x[interior(crops, kept)], (tuple(crops), tuple(x.shape))


def crop_backward(dy: Array, cache: tuple[Pads, tuple[int, ...]]) -> Array:
    """The cropped cells get zero gradient."""
    crops, x_shape = cache
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    dx[interior(crops, dy.shape[1:-1])] = dy
    return dx


def _check_pairs(x: Array, pairs: Sequence[Any], where: str) -> None:
    if x.ndim != len(pairs) + 2:
        raise ShapeError(
            f"{where}: expects input of rank {len(pairs) + 2} (batch, {len(pairs)} spatial axes, "
            f"channels). Received: input shape={tuple(x.shape)}"
        )


def repeat_forward(
    x: Array, factors: Sequence[int]
) -> tuple[Array, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Nearest-neighbour upsampling by whole factors: ``(N, *S, C) -> (N, *(S*f), C)``."""
    y = x
    for axis, f in enumerate(factors, start=1):
        if f != 1:
            y = xp.repeat(y, f, axis=axis)
    return y, (tuple(factors), tuple(x.shape))


def repeat_backward(dy: Array, cache: tuple[tuple[int, ...], tuple[int, ...]]) -> Array:
    """Each input cell's gradient is the sum over its block of copies."""
    factors, x_shape = cache
    split = [x_shape[0]]
    for s, f in zip(x_shape[1:-1], factors):
        split += [s, f]
    split.append(x_shape[-1])
    axes = tuple(2 + 2 * i for i in range(len(factors)))
    return dy.reshape(split).sum(axis=axes)


def spatial_resize(
    x: Array, size: Sequence[int], interpolation: str = "bilinear"
) -> tuple[Array, ResizeCache]:
    """``x (N, *S, C)`` -> ``(y (N, *size, C), cache)`` with :func:`cnnlab.ops.resize.resize`."""
    if x.ndim != len(size) + 2:
        raise ShapeError(
            f"resize: needs one size per spatial axis. Received: input shape={tuple(x.shape)}, "
            f"size={tuple(size)}"
        )
    return resize(
        x, size, axes=tuple(range(1, x.ndim - 1)), interpolation=interpolation
    )


def pad_constant_forward(
    x: Array, pads: Pads, value: float
) -> tuple[Array, tuple[Pads, tuple[int, ...]]]:
    """Pad with ``value`` (Resizing's ``fill_value``); backward is :func:`zero_pad_backward`."""
    _check_pairs(x, pads, "pad")
    return pad(x, pads, value), (tuple(pads), tuple(x.shape[1:-1]))
