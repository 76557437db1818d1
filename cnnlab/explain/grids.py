"""Arrays of small images laid out as one picture, in NumPy (no plotting here).

Filters and feature maps come as many small images (32 filters of 3x3, 64 maps
of 11x11). :func:`tile` lays them out in a grid with NaN gaps between them, so a
plot draws the whole grid as one image; :func:`scale_each` puts every tile on
its own scale first, so a weak channel stays visible next to a strong one.
"""

from __future__ import annotations

import math

import numpy as np


def as_2d(image):
    """A 1-D strip ``(n,)`` becomes one row ``(1, n)``; a 3-D volume ``(d, h, w)``
    its depth slices side by side (NaN columns between them); 2-D stays."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 1:
        return a[None, :]
    if a.ndim == 2:
        return a
    if a.ndim == 3:
        gap = np.full((a.shape[1], 1), np.nan)
        parts = []
        for i, s in enumerate(a):
            if i:
                parts.append(gap)
            parts.append(s)
        return np.concatenate(parts, axis=1)
    raise ValueError(f"as_2d: expects 1, 2 or 3 axes. Received: shape={a.shape}")


def scale_each(images, symmetric=False):
    """Scale each image on its own: to [0, 1] (min to max), or with ``symmetric`` to
    [-1, 1] by its largest absolute value (0 stays 0: for signed weights). A
    constant image becomes 0."""
    out = []
    for img in images:
        a = np.asarray(img, dtype=np.float64)
        if symmetric:
            m = np.nanmax(np.abs(a)) if a.size else 0.0
            out.append(a / m if m > 0 else np.zeros_like(a))
        else:
            lo, hi = (np.nanmin(a), np.nanmax(a)) if a.size else (0.0, 0.0)
            out.append((a - lo) / (hi - lo) if hi > lo else np.zeros_like(a))
    return out


def grid_columns(n, tile_shape):
    """Columns that make the whole grid roughly square."""
    h, w = tile_shape
    return max(1, min(n, math.ceil(math.sqrt(n * h / max(w, 1)))))


def tile(images, ncols=None, gap=1):
    """Lay 2-D images of one shape out in a grid, ``gap`` NaN cells between them.
    Returns ``(grid, ncols)``."""
    images = [as_2d(i) for i in images]
    if not images:
        return np.full((1, 1), np.nan), 1
    h, w = images[0].shape
    ncols = ncols or grid_columns(len(images), (h, w))
    nrows = math.ceil(len(images) / ncols)
    grid = np.full(
        (nrows * h + (nrows - 1) * gap, ncols * w + (ncols - 1) * gap), np.nan
    )
    for n, img in enumerate(images):
        r, c = divmod(n, ncols)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = img
    return grid, ncols
