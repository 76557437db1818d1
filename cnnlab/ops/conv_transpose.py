"""Transposed convolution in any number of spatial dimensions, forward and backward.

A transposed convolution runs a convolution's input gradient forwards: each
input cell sends ``x[cell] @ kernel[offset]`` to output cell
``cell*stride + offset*dilation``, for every kernel offset, and the
contributions add up. This "full" result has ``(n - 1)*s + k`` cells per axis
(``k`` dilated); Keras then keeps ``transpose_output_size`` cells of it,
starting at ``transpose_crop_before`` (``ops.shapes``), padding with zeros at the
end when ``output_padding`` asks for more cells than the full result has.

The backward pass is an ordinary convolution: ``dx = conv(dy, kernel)`` with
the stride, over ``dy`` placed back into the full grid, and ``dkernel`` comes from
the same im2col matrix. So ``ops.conv`` does the work in both directions.

Layouts (Keras's): input ``(N, *S, C_in)``, kernel ``(*k, filters, C_in)``,
bias ``(filters,)``, output ``(N, *out, filters)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..backend import Array, xp
from ..errors import ShapeError
from . import shapes
from .conv import conv_forward
from .shapes import IntOrTuple, Pads
from .windows import kernel_offsets, offset_slice


@dataclass
class ConvTransposeCache:
    x2: Array  # (N*prod(S), C_in): the input as a matrix, for dkernel
    kernel: Array  # (*k, filters, C_in)
    x_shape: tuple
    strides: tuple
    dilation: tuple
    pads: tuple  # ((cut before, cut after), ...) of the full result; negative after = zeros added
    has_bias: bool


def conv_transpose_geometry(
    x_shape: Sequence[int],
    kernel_shape: Sequence[int],
    strides: IntOrTuple = 1,
    padding: str = "valid",
    output_padding: IntOrTuple | None = None,
    dilation_rate: IntOrTuple = 1,
    where: str = "conv_transpose",
) -> tuple[
    tuple[int, ...], tuple[int, ...], tuple[int | None, ...], tuple[int, ...], Pads
]:
    """Check shapes; return ``(strides, dilation, output_padding, out_spatial, pads)``.

    ``output_padding`` is None or one int per axis, each ``< stride`` (Keras refuses
    more); ``pads[i] = (before, after)`` is what is cut from the full result."""
    nd = len(kernel_shape) - 2
    if nd < 1 or len(x_shape) != nd + 2:
        raise ShapeError(
            f"{where}: a {nd}-D transposed convolution expects input of rank {nd + 2} "
            f"(batch, {nd} spatial axes, channels) and a kernel (*kernel_size, filters, C_in). "
            f"Received: input shape={tuple(x_shape)}, kernel shape={tuple(kernel_shape)}"
        )
    if x_shape[-1] != kernel_shape[-1]:
        raise ShapeError(
            f"{where}: the input has {x_shape[-1]} channels but the kernel expects "
            f"{kernel_shape[-1]} (its last axis). "
            f"Received: input shape={tuple(x_shape)}, kernel shape={tuple(kernel_shape)}"
        )
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ShapeError(
            f'{where}: `padding` must be "valid" or "same". Received: padding={padding!r}'
        )
    padding = padding.lower()
    strides = shapes.normalize_tuple(strides, nd, "strides")
    dilation = shapes.normalize_tuple(dilation_rate, nd, "dilation_rate")
    ops_ = normalize_output_padding(output_padding, strides, where)
    kernel = tuple(kernel_shape[:-2])
    out, pads = [], []
    for n, k, s, d, op in zip(x_shape[1:-1], kernel, strides, dilation, ops_):
        length = shapes.transpose_output_size(n, k, s, d, padding, op)
        before = shapes.transpose_crop_before(k, s, d, padding, op)
        full = (n - 1) * s + shapes.effective_kernel(k, d)
        out.append(length)
        pads.append((before, full - before - length))
    return strides, dilation, ops_, tuple(out), tuple(pads)


def normalize_output_padding(
    output_padding: IntOrTuple | None,
    strides: Sequence[int],
    where: str = "conv_transpose",
) -> tuple[int | None, ...]:
    """``None`` stays None on every axis; ints must be ``0 <= op < stride``."""
    nd = len(strides)
    if output_padding is None:
        return (None,) * nd
    values = (
        (output_padding,) * nd
        if isinstance(output_padding, int)
        else tuple(output_padding)
    )
    if len(values) != nd or any(
        not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values
    ):
        raise ShapeError(
            f"{where}: `output_padding` must be None or {nd} non-negative integer(s). "
            f"Received: output_padding={output_padding!r}"
        )
    for axis, (op, s) in enumerate(zip(values, strides)):
        if op >= s:
            raise ShapeError(
                f"{where}: `output_padding` must be strictly less than `strides` for all "
                f"dimensions. At dimension {axis}, `output_padding` is {op} but `strides` is {s}. "
                f"Received: output_padding={output_padding!r}, strides={tuple(strides)}"
            )
    return values


def conv_transpose_forward(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    strides: IntOrTuple = 1,
    padding: str = "valid",
    output_padding: IntOrTuple | None = None,
    dilation_rate: IntOrTuple = 1,
) -> tuple[Array, ConvTransposeCache]:
    """``x (N, *S, C_in)``, ``kernel (*k, filters, C_in)``, ``bias (filters,)`` ->
    ``(y (N, *out, filters), cache)``, ``out`` as :func:`shapes.transpose_output_size`.

    One matrix product gives every offset's contribution, ``x @ kernel[offset].T``;
    then one strided-slice addition per kernel offset scatters them (col2im).
    """
    strides, dilation, _, out, pads = conv_transpose_geometry(
        x.shape, kernel.shape, strides, padding, output_padding, dilation_rate
    )
    k = tuple(kernel.shape[:-2])
    n, c_in, filters = x.shape[0], x.shape[-1], kernel.shape[-2]
    spatial = tuple(x.shape[1:-1])
    offsets = kernel_offsets(k)
    x2 = x.reshape(-1, c_in)
    # (C_in, P*filters): column block i is kernel[offset i].T
    contributions = x2 @ kernel.reshape(len(offsets), filters, c_in).transpose(
        2, 0, 1
    ).reshape(c_in, -1)
    contributions = contributions.reshape(n, *spatial, len(offsets), filters)
    # The full grid, grown at the end where output_padding asks for cells past it.
    grid = tuple(
        (s - 1) * st + shapes.effective_kernel(kk, d) + max(-after, 0)
        for s, st, kk, d, (_, after) in zip(spatial, strides, k, dilation, pads)
    )
    full = xp.zeros((n, *grid, filters), dtype=x.dtype)
    for i, offset in enumerate(offsets):
        full[offset_slice(offset, strides, dilation, spatial)] += contributions[
            ..., i, :
        ]
    y = full[
        (slice(None),)
        + tuple(slice(b, b + o) for (b, _), o in zip(pads, out))
        + (slice(None),)
    ]
    y = xp.ascontiguousarray(y)
    if bias is not None:
        y += bias
    return y, ConvTransposeCache(
        x2, kernel, tuple(x.shape), strides, dilation, pads, bias is not None
    )


def conv_transpose_backward(
    dy: Array, cache: ConvTransposeCache, need_dx: bool = True
) -> tuple[Array | None, Array, Array | None]:
    """``dy (N, *out, filters)`` -> ``(dx (N, *S, C_in) or None, dkernel (*k, filters, C_in), dbias or None)``.

    ``dy`` goes back into the full grid (the cut cells become zero padding, the
    cells that ``output_padding`` added past it are dropped) and a strided
    convolution with the same kernel reads it: that is ``dx``. Its im2col
    matrix against ``x`` gives ``dkernel``.
    """
    kernel = cache.kernel
    filters = kernel.shape[-2]
    dbias = dy.reshape(-1, filters).sum(axis=0) if cache.has_bias else None
    keep = (
        (slice(None),)
        + tuple(
            slice(0, dy.shape[1 + i] + min(after, 0))
            for i, (_, after) in enumerate(cache.pads)
        )
        + (slice(None),)
    )
    dy_kept = dy[keep]
    conv_pads = tuple((before, max(after, 0)) for before, after in cache.pads)
    dx, conv_cache = conv_forward(
        dy_kept, kernel, None, cache.strides, conv_pads, cache.dilation
    )
    # conv_cache.cols is (N*prod(S), P*filters), rows in the order of x2's rows
    assert conv_cache.cols is not None  # (conv_forward keeps them by default)
    dkernel = (conv_cache.cols.T @ cache.x2).reshape(kernel.shape)
    if (
        dx.shape != cache.x_shape
    ):  # cannot happen for Keras's geometries; a wrong answer must not pass
        raise ShapeError(
            f"conv_transpose_backward: internal geometry mismatch. "
            f"Received: dx shape={dx.shape}, x shape={cache.x_shape}"
        )
    return (dx if need_dx else None), dkernel, dbias
