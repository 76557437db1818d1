"""Sliding windows without copying, shared by convolution and pooling.

An input ``(N, *spatial, C)`` is padded once, then viewed as windows
``(N, *out, *kernel, C)`` through strides alone (no data moves until a
caller copies the view). The backward passes walk the kernel offsets: for a
3x3 kernel that is 9 strided-slice additions, however large the batch.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

from ..backend import Array, as_strided, xp


def pad(x: Array, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Array:
    """Pad the spatial axes of ``x (N, *spatial, C)`` by ``pads = ((before, after), ...)``."""
    if not any(b or a for b, a in pads):
        return x
    shape = (
        (x.shape[0],)
        + tuple(s + b + a for s, (b, a) in zip(x.shape[1:-1], pads))
        + (x.shape[-1],)
    )
    out = xp.full(shape, value, dtype=x.dtype)
    out[interior(pads, x.shape[1:-1])] = x
    return out


def interior(
    pads: Sequence[tuple[int, int]], spatial: Sequence[int]
) -> tuple[slice, ...]:
    """The index that selects the unpadded part of a padded array."""
    return (
        (slice(None),)
        + tuple(slice(b, b + s) for (b, _), s in zip(pads, spatial))
        + (slice(None),)
    )


def window_view(
    x_padded: Array,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
) -> Array:
    """View ``x_padded (N, *P, C)`` as windows ``(N, *out, *kernel, C)``.

    Window ``o`` along an axis starts at ``o*stride``; its cells are ``dilation`` apart.
    """
    n_stride, *spatial_strides, c_stride = x_padded.strides
    shape = (x_padded.shape[0], *out, *kernel, x_padded.shape[-1])
    strides = (
        n_stride,
        *(st * s for st, s in zip(spatial_strides, strides)),
        *(st * d for st, d in zip(spatial_strides, dilation)),
        c_stride,
    )
    return as_strided(x_padded, shape, strides)


def kernel_offsets(kernel: Sequence[int]) -> list[tuple[int, ...]]:
    """Every offset inside a kernel, row-major: ``(0, 0), (0, 1), ...``."""
    return list(itertools.product(*(range(k) for k in kernel)))


def offset_slice(
    offset: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    out: Sequence[int],
) -> tuple[slice, ...]:
    """The cells that kernel offset ``offset`` touches, over every output
    position: along each axis ``offset*d, offset*d + s, ...`` (``out`` cells)."""
    return (
        (slice(None),)
        + tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s)
            for o, s, d, n in zip(offset, strides, dilation, out)
        )
        + (slice(None),)
    )


def window_count(kernel: Sequence[int]) -> int:
    return math.prod(kernel)
