"""Projective warp of a batch of images (Keras's ``affine_transform``), forward and backward.

Each image ``n`` has a transform ``[a0, a1, a2, b0, b1, b2, c0, c1]`` that maps an
*output* pixel ``(x, y)`` (column, row) to the *input* point it samples::

    k    = c0*x + c1*y + 1
    x_in = (a0*x + a1*y + a2) / k
    y_in = (b0*x + b1*y + b2) / k

Rotation, zoom and translation (the augmentation layers) and resizing are such
maps. The value at ``(x_in, y_in)`` is read by ``bilinear`` interpolation (the
four neighbours, weighted by distance) or ``nearest`` (the closest pixel, ties to
the even one, as Keras's ``map_coordinates`` rounds). Neighbours outside the
image are read as ``fill_mode`` says, for an input row ``a b c d``::

    reflect   d c b a | a b c d | d c b a     (Keras's default for the layers)
    wrap      a b c d | a b c d | a b c d
    nearest   a a a a | a b c d | d d d d
    constant  k k k k | a b c d | k k k k     (k = fill_value)

For a fixed transform the output is linear in the input: every output pixel is a
weighted sum of input pixels (plus ``fill_value`` terms). The backward pass sends
each output gradient back to those pixels with the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from numpy.typing import ArrayLike

from ..backend import Array, xp
from ..errors import ShapeError

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


@dataclass
class WarpCache:
    """What the backward pass needs: per neighbour, the flat input index and its weight."""

    taps: list  # [(flat_index (M,), weight (M,)), ...], M = N*H_out*W_out
    x_shape: tuple
    out_shape: tuple


def source_index(i: Array, size: int, fill_mode: str) -> tuple[Array, Array | None]:
    """Integer indices ``i`` (any, possibly outside ``[0, size)``) -> ``(index, inside)``
    following ``fill_mode``; ``inside`` is False only where ``constant`` reads ``fill_value``."""
    if fill_mode == "reflect":  # period 2*size, the second half mirrored
        j = i % (2 * size)
        return xp.where(j >= size, 2 * size - 1 - j, j), None
    if fill_mode == "wrap":
        return i % size, None
    if fill_mode == "nearest":
        return xp.clip(i, 0, size - 1), None
    inside = (i >= 0) & (i < size)
    return xp.clip(i, 0, size - 1), inside


def sample_points(transforms: Array, out_hw: Sequence[int]) -> tuple[Array, Array]:
    """``transforms (N, 8)`` -> input coordinates ``(rows, cols)``, each ``(N, H_out, W_out)`` (float64)."""
    t = xp.asarray(transforms, dtype=xp.float64)
    ys, xs = xp.meshgrid(
        xp.arange(out_hw[0], dtype=xp.float64),
        xp.arange(out_hw[1], dtype=xp.float64),
        indexing="ij",
    )
    a0, a1, a2, b0, b1, b2, c0, c1 = (t[:, i, None, None] for i in range(8))
    k = c0 * xs + c1 * ys + 1.0
    return (b0 * xs + b1 * ys + b2) / k, (a0 * xs + a1 * ys + a2) / k


def warp_forward(
    x: Array,
    transforms: Array,
    output_size: Sequence[int] | None = None,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
) -> tuple[Array, WarpCache]:
    """``x (N, H, W, C)``, ``transforms (N, 8)`` -> ``(y (N, H_out, W_out, C), cache)``.

    ``output_size`` is ``(H_out, W_out)``, by default ``(H, W)``.
    """
    if x.ndim != 4:
        raise ShapeError(
            f"warp: expects a batch of images (batch, height, width, channels). "
            f"Received: input shape={tuple(x.shape)}"
        )
    transforms = xp.asarray(transforms)
    if transforms.shape != (x.shape[0], 8):
        raise ShapeError(
            f"warp: needs one transform of 8 numbers per image, shape ({x.shape[0]}, 8). "
            f"Received: transforms shape={tuple(transforms.shape)}"
        )
    if interpolation not in INTERPOLATIONS:
        raise ShapeError(
            f"warp: `interpolation` must be one of {INTERPOLATIONS}. Received: interpolation={interpolation!r}"
        )
    if fill_mode not in FILL_MODES:
        raise ShapeError(
            f"warp: `fill_mode` must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}"
        )
    n, h, w, c = x.shape
    out_hw = (h, w) if output_size is None else tuple(int(s) for s in output_size)
    rows, cols = sample_points(transforms, out_hw)
    if interpolation == "nearest":
        corners = [(xp.rint(rows), xp.rint(cols), xp.ones_like(rows))]
    else:
        r0, c0 = xp.floor(rows), xp.floor(cols)
        wr, wc = rows - r0, cols - c0
        corners = [
            (r0, c0, (1 - wr) * (1 - wc)),
            (r0, c0 + 1, (1 - wr) * wc),
            (r0 + 1, c0, wr * (1 - wc)),
            (r0 + 1, c0 + 1, wr * wc),
        ]
    base = (xp.arange(n) * (h * w)).reshape(n, 1, 1)
    flat_x = x.reshape(-1, c)
    y = xp.zeros((n * out_hw[0] * out_hw[1], c), dtype=x.dtype)
    outside = xp.zeros(n * out_hw[0] * out_hw[1], dtype=xp.float64)
    taps = []
    for r, col, weight in corners:
        ri, r_in = source_index(r.astype(xp.int64), h, fill_mode)
        ci, c_in = source_index(col.astype(xp.int64), w, fill_mode)
        weight = weight.reshape(-1)
        if r_in is not None:  # constant: the weight of outside taps goes to fill_value
            inside = (r_in & c_in).reshape(-1)
            outside += xp.where(inside, 0.0, weight)
            weight = xp.where(inside, weight, 0.0)
        flat = (base + ri * w + ci).reshape(-1)
        weight = weight.astype(x.dtype)
        y += flat_x[flat] * weight[:, None]
        taps.append((flat, weight))
    if fill_mode == "constant" and fill_value:
        y += (outside * fill_value).astype(x.dtype)[:, None]
    return y.reshape(n, *out_hw, c), WarpCache(taps, tuple(x.shape), (n, *out_hw, c))


def warp_backward(dy: Array, cache: WarpCache) -> Array:
    """``dy (N, H_out, W_out, C)`` -> ``dx (N, H, W, C)``: each tap's weight times ``dy``, added
    back at the pixel it read (``np.add.at``: several outputs may read one pixel)."""
    c = cache.x_shape[-1]
    dy2 = dy.reshape(-1, c)
    dx = xp.zeros(
        (cache.x_shape[0] * cache.x_shape[1] * cache.x_shape[2], c), dtype=dy.dtype
    )
    for flat, weight in cache.taps:
        xp.add.at(dx, flat, dy2 * weight[:, None].astype(dy.dtype))
    return dx.reshape(cache.x_shape)


def rotation_transforms(angles: ArrayLike, height: int, width: int) -> Array:
    """Keras's rotation about the image centre ``((W-1)/2, (H-1)/2)`` by ``angles`` (radians, (N,))."""
    angles = xp.asarray(angles, dtype=xp.float64)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = xp.cos(angles), xp.sin(angles)
    a0, a1, b0, b1 = cos, -sin, sin, cos
    zeros = xp.zeros_like(angles)
    return xp.stack(
        [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, zeros, zeros],
        axis=1,
    )


def zoom_transforms(
    height_zoom: ArrayLike, width_zoom: ArrayLike, height: int, width: int
) -> Array:
    """Keras's zoom about the centre: a factor above 1 samples a larger area (zooms out)."""
    zh, zw = (
        xp.asarray(height_zoom, dtype=xp.float64),
        xp.asarray(width_zoom, dtype=xp.float64),
    )
    zeros = xp.zeros_like(zh)
    return xp.stack(
        [
            zw,
            zeros,
            (width - 1) / 2 * (1 - zw),
            zeros,
            zh,
            (height - 1) / 2 * (1 - zh),
            zeros,
            zeros,
        ],
        axis=1,
    )


def translation_transforms(dy_pixels: ArrayLike, dx_pixels: ArrayLike) -> Array:
    """Shift the content by ``(dy, dx)`` pixels (down and right for positive values)."""
    ty, tx = (
        xp.asarray(dy_pixels, dtype=xp.float64),
        xp.asarray(dx_pixels, dtype=xp.float64),
    )
    ones, zeros = xp.ones_like(ty), xp.zeros_like(ty)
    return xp.stack([ones, zeros, -tx, zeros, ones, -ty, zeros, zeros], axis=1)
