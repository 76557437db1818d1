"""Linear interpolation in any number of dimensions (bilinear in 2-D) for explain's maps.

Grad-CAM's map has the resolution of the layer it looks at (5x5 for the seed-004
model's last pooling); it is stretched to the input's size to lay it over the
image. The arithmetic is the package's one resize, :func:`cnnlab.ops.resize.resize`
(half-pixel centres, edges clamped, as ``tf.image.resize``, OpenCV's ``cv2.resize``
and PyTorch's ``interpolate(..., align_corners=False)`` compute it), run in float64.
"""

from __future__ import annotations

import numpy as np

from ..ops.resize import resize


def resize_linear(array, size):
    """Resize ``array`` (any number of axes) to ``size`` (one length per axis) by
    N-linear interpolation with half-pixel centres. Returns float64."""
    out = np.asarray(array, dtype=np.float64)
    size = tuple(int(s) for s in size)
    if len(size) != out.ndim:
        raise ValueError(
            f"resize_linear: needs one size per axis of the array. "
            f"Received: array shape={out.shape}, size={size}"
        )
    return resize(out, size)[0]
