"""Resizing arrays along any axes (images, volumes, Grad-CAM maps), forward and backward.

This is the one resize of the package, computed as TensorFlow's ``tf.image.resize``
computes it (Keras's ``image_dataset_from_directory``, ``Resizing`` and
``ops.image.resize`` all call it):

* **half-pixel centres**: output cell ``j`` of an axis of length ``n_in -> n_out``
  samples the input at ``src = (j + 0.5) * (n_in / n_out) - 0.5``;
* ``"bilinear"`` (linear along each axis): the two cells around ``src``, edges
  clamped (``lo = max(floor(src), 0)``, ``hi = min(ceil(src), n_in - 1)``),
  weight ``t = src - floor(src)``, value ``a + (b - a) * t``;
* ``"nearest"``: the cell ``min(floor((j + 0.5) * n_in / n_out), n_in - 1)``;
* **no antialiasing**: shrinking an image looks at two cells per axis only. This
  is *not* Pillow's ``Image.resize``, which widens its filter to the shrink factor.

Axes are interpolated one after the other, last axis first. Done that way, the
bilinear result is bit for bit TensorFlow's in float32: its kernel computes
``top = tl + (tr - tl)·x``, ``bottom = bl + (br - bl)·x``, ``top + (bottom - top)·y``,
which is exactly "along the width, then along the height". Coordinates are
computed in float32 (as TensorFlow does) unless the data are float64.

Shapes: ``x`` any shape; ``size`` one length per resized axis; ``axes`` which
ones (default: all). Images ``(N, H, W, C)`` use ``axes=(1, 2)``:
:func:`resize_images` does that. The backward sends each output gradient back to
the cells it was made of, with the same weights (the transpose of the forward).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from numpy.typing import ArrayLike

from ..backend import Array, xp
from ..errors import ShapeError

#: What :func:`resize` computes; Keras also names bicubic, area, lanczos3/5,
#: gaussian and mitchellcubic, which cnnlab refuses with a clear error.
INTERPOLATIONS = ("bilinear", "nearest")


@dataclass
class ResizeCache:
    in_shape: tuple
    axes: tuple
    plans: tuple  # per resized axis: (lo, hi, t) for bilinear, (index,) for nearest
    method: str


def check_interpolation(interpolation: str, where: str = "resize") -> str:
    """The interpolation's name in lower case, or a clear error."""
    name = str(interpolation).lower()
    if name not in INTERPOLATIONS:
        raise ShapeError(
            f"{where}: interpolation must be one of {', '.join(INTERPOLATIONS)} (cnnlab computes "
            f"these as tf.image.resize does; bicubic, area, lanczos and gaussian are not "
            f"implemented). Received: interpolation={interpolation!r}"
        )
    return name


def _coordinate_dtype(x: Array) -> Any:
    return xp.float64 if x.dtype == xp.float64 else xp.float32


def _axis_plan(n_in: int, n_out: int, method: str, dtype: Any) -> tuple[Array, ...]:
    """Which input cells (and weights) make each of the ``n_out`` output cells."""
    scale = dtype(n_in) / dtype(n_out)
    centres = (xp.arange(n_out, dtype=dtype) + dtype(0.5)) * scale
    if method == "nearest":
        return (xp.clip(xp.floor(centres).astype(xp.int64), 0, n_in - 1),)
    src = centres - dtype(0.5)
    floor = xp.floor(src)
    lo = xp.maximum(floor, 0).astype(xp.int64)
    hi = xp.minimum(xp.ceil(src), n_in - 1).astype(xp.int64)
    return lo, hi, (src - floor).astype(dtype)


def _along(t: Array, axis: int, ndim: int) -> Array:
    shape = [1] * ndim
    shape[axis] = t.shape[0]
    return t.reshape(shape)


def resize(
    x: ArrayLike,
    size: Sequence[int],
    axes: Sequence[int] | None = None,
    interpolation: str = "bilinear",
) -> tuple[Array, ResizeCache]:
    """Resize ``x`` along ``axes`` to ``size``. Returns ``(out, cache)``.

    ``x``: any array (integers are computed in float32, as TensorFlow casts them);
    ``size``: one positive length per axis in ``axes`` (default: every axis).
    ``out`` has ``x``'s shape with those axes replaced, dtype float32 (float64 stays
    float64); ``"nearest"`` only picks cells, so it keeps ``x``'s dtype (``uint8`` stays
    ``uint8``), as ``tf.image.resize`` does.
    """
    method = check_interpolation(interpolation)
    x = xp.asarray(x)
    dtype = _coordinate_dtype(x)
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    size = tuple(int(s) for s in size)
    if len(size) != len(axes) or any(s < 1 for s in size):
        raise ShapeError(
            f"resize: needs one positive size per resized axis. "
            f"Received: x shape={x.shape}, axes={axes}, size={size}"
        )
    if any(x.shape[a] < 1 for a in axes):
        raise ShapeError(
            f"resize: cannot resize an empty axis. Received: x shape={x.shape}, axes={axes}"
        )
    out = x if method == "nearest" else x.astype(dtype, copy=False)
    plans: list[tuple[Array, ...] | None] = [None] * len(axes)
    for k in reversed(
        range(len(axes))
    ):  # last axis first: TensorFlow's order of operations
        axis, n_out = axes[k], size[k]
        plan = _axis_plan(out.shape[axis], n_out, method, dtype)
        plans[k] = plan
        if method == "nearest":
            out = xp.take(out, plan[0], axis=axis)
        else:
            lo, hi, t = plan
            a = xp.take(out, lo, axis=axis)
            out = a + (xp.take(out, hi, axis=axis) - a) * _along(t, axis, out.ndim)
    return out, ResizeCache(tuple(x.shape), axes, tuple(plans), method)


def resize_backward(grad_out: Array, cache: ResizeCache) -> Array:
    """``d out -> d x`` for :func:`resize`: each output gradient goes back to the
    cells it was interpolated from, with the forward's weights."""
    g = xp.asarray(grad_out)
    for k in range(
        len(cache.axes)
    ):  # undo the forward's axes in reverse (first axis first)
        axis = cache.axes[k]
        n_in = cache.in_shape[axis]
        moved = xp.moveaxis(g, axis, 0)
        grad = xp.zeros((n_in,) + moved.shape[1:], dtype=g.dtype)
        if cache.method == "nearest":
            xp.add.at(grad, cache.plans[k][0], moved)
        else:
            lo, hi, t = cache.plans[k]
            t = t.astype(g.dtype).reshape((-1,) + (1,) * (moved.ndim - 1))
            xp.add.at(grad, lo, moved * (1 - t))
            xp.add.at(grad, hi, moved * t)
        g = xp.moveaxis(grad, 0, axis)
    return g


def resize_images(
    images: ArrayLike, size: Sequence[int], interpolation: str = "bilinear"
) -> Array:
    """``tf.image.resize`` for channels-last images: ``(H, W, C)`` or ``(N, H, W, C)``
    to ``size = (height, width)``; float32 out (``"nearest"`` keeps the dtype). Forward only
    (see :func:`resize`)."""
    images = xp.asarray(images)
    if images.ndim not in (3, 4):
        raise ShapeError(
            f"resize_images: expects (height, width, channels) or (batch, height, width, channels). "
            f"Received: shape={images.shape}"
        )
    first = images.ndim - 3
    return resize(images, size, axes=(first, first + 1), interpolation=interpolation)[0]
