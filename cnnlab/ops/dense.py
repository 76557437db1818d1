"""Fully connected (affine) layer, flatten and reshape.

Seed 002 writes the affine layer as ``Y = WX + B``; in Keras's layout the
batch comes first and the kernel is ``(in, out)``, so ``y = x @ W + b``:
every output neuron has its own bias.
"""

from __future__ import annotations

from typing import Sequence

from ..backend import Array, xp
from ..errors import ShapeError

#: What :func:`dense_backward` needs: ``(x, kernel, has_bias)``.
DenseCache = tuple[Array, Array, bool]


def dense_forward(
    x: Array, kernel: Array, bias: Array | None = None
) -> tuple[Array, DenseCache]:
    """``x (N, ..., in)``, ``kernel (in, out)``, ``bias (out,)`` -> ``(y (N, ..., out), cache)``.

    Like Keras, a higher-rank input is transformed along its last axis.
    """
    if x.shape[-1] != kernel.shape[0]:
        raise ShapeError(
            f"dense: the input's last axis has {x.shape[-1]} features but the kernel expects {kernel.shape[0]}. "
            f"Received: input shape={tuple(x.shape)}, kernel shape={tuple(kernel.shape)}"
        )
    y = x @ kernel
    if bias is not None:
        y += bias
    return y, (x, kernel, bias is not None)


def dense_backward(
    dy: Array, cache: DenseCache, need_dx: bool = True
) -> tuple[Array | None, Array, Array | None]:
    """``dy (N, ..., out)`` -> ``(dx (N, ..., in) or None, dkernel (in, out), dbias (out,) or None)``."""
    x, kernel, has_bias = cache
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dkernel = x2.T @ dy2
    dbias = dy2.sum(axis=0) if has_bias else None
    dx = (dy @ kernel.T) if need_dx else None
    return dx, dkernel, dbias


def flatten_forward(x: Array) -> tuple[Array, tuple[int, ...]]:
    """``x (N, *rest)`` -> ``(N, prod(rest))``, row-major over ``rest``, as Keras does.

    (Seed 002 flattens column by column; Keras and cnnlab read each row of
    (H, W, C) in turn, which is what makes Dense weights portable.)
    """
    return x.reshape(x.shape[0], -1), tuple(x.shape)


def flatten_backward(dy: Array, x_shape: Sequence[int]) -> Array:
    return dy.reshape(x_shape)


def reshape_forward(
    x: Array, target_shape: Sequence[int]
) -> tuple[Array, tuple[int, ...]]:
    """``x (N, *rest)`` -> ``(N, *target_shape)``; one entry of ``target_shape`` may be -1."""
    try:
        return x.reshape((x.shape[0], *target_shape)), tuple(x.shape)
    except ValueError:
        raise ShapeError(
            f"reshape: cannot reshape {tuple(x.shape[1:])} ({int(xp.prod(x.shape[1:]))} values per sample) "
            f"to {tuple(target_shape)}. The number of values must stay the same. "
            f"Received: input shape={tuple(x.shape)}, target_shape={tuple(target_shape)}"
        ) from None


def reshape_backward(dy: Array, x_shape: Sequence[int]) -> Array:
    return dy.reshape(x_shape)
