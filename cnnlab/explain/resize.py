"""Linear interpolation in any number of dimensions (bilinear in 2-D), in NumPy.

Grad-CAM's map has the resolution of the layer it looks at (5x5 for the seed-004
model's last pooling); it is stretched to the input's size to lay it over the
image. This is the usual "half-pixel centres" rule (OpenCV's ``cv2.resize``,
PyTorch's ``interpolate(..., align_corners=False)``, TensorFlow's ``resize``):
output cell ``j`` looks at input coordinate ``(j + 0.5) * in / out - 0.5``
(clamped at 0), between the two nearest cells, weighted by distance. Axes are
interpolated one after the other, which is exactly N-linear interpolation.
"""
from __future__ import annotations

import numpy as np


def _axis_weights(n_in, n_out):
    """``(i0, i1, w1)``: each output cell mixes cells ``i0`` and ``i1`` as ``(1 - w1)*a[i0] + w1*a[i1]``."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, src - i0


def resize_linear(array, size):
    """Resize ``array`` (any number of axes) to ``size`` (one length per axis) by
    N-linear interpolation with half-pixel centres. Returns float64."""
    out = np.asarray(array, dtype=np.float64)
    size = tuple(int(s) for s in size)
    if len(size) != out.ndim:
        raise ValueError(f"resize_linear: needs one size per axis of the array. "
                         f"Received: array shape={out.shape}, size={size}")
    for axis, n_out in enumerate(size):
        n_in = out.shape[axis]
        if n_in == n_out:
            continue
        i0, i1, w1 = _axis_weights(n_in, n_out)
        shape = [1] * out.ndim
        shape[axis] = n_out
        w1 = w1.reshape(shape)
        out = np.take(out, i0, axis=axis) * (1 - w1) + np.take(out, i1, axis=axis) * w1
    return out
