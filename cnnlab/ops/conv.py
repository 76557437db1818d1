"""Convolution in any number of spatial dimensions, forward and backward.

What a CNN layer computes is a cross-correlation: a filter slides over the
input and, at each position, takes the inner product of the window with the
filter (seed 000's ``[[-1, 1], [-1, -3]]``). Written as one matrix product:

1. pad the input and view it as windows ``(N, *out, *k, C_in)`` (no copy);
2. copy the windows into one matrix ``cols (N*prod(out), prod(k)*C_in)``
   (im2col, channels innermost, so it matches the kernel's own layout);
3. ``y = cols @ kernel.reshape(prod(k)*C_in, C_out) + bias``.

Layouts are Keras's ``channels_last``: input ``(N, *spatial, C_in)``, kernel
``(*k, C_in, C_out)``, bias ``(C_out,)``, output ``(N, *out, C_out)``.

Grouped convolution (``groups=g``) splits the channels into ``g`` blocks: the
kernel is ``(*k, C_in/g, C_out)`` and output block ``j`` (channels
``j*C_out/g ...``) sees only input block ``j``. The same im2col matrix serves
all groups; step 3 becomes one batched matrix product over the groups. A
depthwise convolution is the grouped one with ``g = C_in`` (see
:func:`depthwise_kernel_as_grouped`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..backend import Array, xp
from ..errors import ShapeError
from . import shapes
from .shapes import IntOrTuple, Padding, Pads
from .windows import interior, kernel_offsets, offset_slice, pad, window_view


@dataclass
class ConvCache:
    """What the backward pass needs from the forward pass."""

    cols: (
        Array | None
    )  # (N*prod(out), prod(k)*C_in) im2col matrix (also depthwise); (g, N*prod(out), prod(k)*C_in/g) grouped
    kernel: Array  # (*k, C_in, C_out)
    x_shape: tuple
    pads: tuple
    strides: tuple
    dilation: tuple
    out: tuple
    has_bias: bool
    groups: int = 1
    x: Array | None = (
        None  # the input, kept instead of ``cols`` (None) by ``keep_cols=False``
    )


def conv_geometry(
    x_shape: Sequence[int],
    kernel_shape: Sequence[int],
    strides: IntOrTuple = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrTuple = 1,
    where: str = "conv",
    groups: int = 1,
) -> tuple[tuple[int, ...], tuple[int, ...], Pads, tuple[int, ...]]:
    """Check shapes and return ``(strides, dilation, pads, out_spatial)``.

    With ``groups > 1`` the kernel holds ``C_in / groups`` input channels."""
    nd = len(kernel_shape) - 2
    if nd < 1:
        raise ShapeError(
            f"{where}: the kernel must be (*kernel_size, C_in, C_out). Received: kernel shape={tuple(kernel_shape)}"
        )
    if len(x_shape) != nd + 2:
        raise ShapeError(
            f"{where}: a {nd}-D convolution expects input of rank {nd + 2} (batch, {nd} spatial axes, channels); "
            f"got rank {len(x_shape)}. "
            + (
                "Add a channel axis, e.g. x[..., None]. "
                if len(x_shape) == nd + 1
                else ""
            )
            + f"Received: input shape={tuple(x_shape)}"
        )
    if x_shape[-1] != kernel_shape[-2] * groups:
        raise ShapeError(
            f"{where}: the input has {x_shape[-1]} channels but the kernel expects {kernel_shape[-2] * groups} "
            f"(input and filter channels must match"
            + (f"; {groups} groups of {kernel_shape[-2]}" if groups > 1 else "")
            + "). "
            f"Received: input shape={tuple(x_shape)}, kernel shape={tuple(kernel_shape)}"
        )
    if kernel_shape[-1] % groups:
        raise ShapeError(
            f"{where}: {kernel_shape[-1]} output channels cannot be split into {groups} groups. "
            f"Received: kernel shape={tuple(kernel_shape)}, groups={groups}"
        )
    kernel = tuple(kernel_shape[:-2])
    strides = shapes.normalize_tuple(strides, nd, "strides")
    dilation = shapes.normalize_tuple(dilation_rate, nd, "dilation_rate")
    spatial = tuple(x_shape[1:-1])
    pads = shapes.resolve_padding(spatial, kernel, strides, dilation, padding)
    out = shapes.output_shape(spatial, kernel, strides, dilation, pads, where)
    return strides, dilation, pads, out


def im2col(
    x: Array,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    pads: Pads,
    out: Sequence[int],
) -> Array:
    """Windows of ``x (N, *S, C)`` as one matrix ``cols (N*prod(out), prod(kernel)*C)``.

    Row ``m`` holds window ``m``'s cells, kernel offsets outer and channels
    inner, matching ``kernel.reshape(-1, C_out)``. With one input channel
    (the first layer on greyscale images) it is built offset-major instead,
    as ``prod(kernel)`` long contiguous copies, and returned as a transposed
    view, which BLAS reads directly.
    """
    rows = x.shape[0] * math.prod(out)
    if (
        all(k == 1 for k in kernel)
        and all(s == 1 for s in strides)
        and not any(b or a for b, a in pads)
        and tuple(out) == tuple(x.shape[1:-1])
    ):
        # A 1x1 convolution's windows are its pixels: the input itself, no copy (MobileNetV2's
        # 1x1 convolutions spent a third of its inference copying their inputs).
        return x.reshape(rows, -1)
    x_p = pad(x, pads)
    if x.shape[-1] == 1:
        offsets = kernel_offsets(kernel)
        cols_t = xp.empty((len(offsets), x.shape[0], *out, 1), dtype=x.dtype)
        for i, offset in enumerate(offsets):
            cols_t[i] = x_p[offset_slice(offset, strides, dilation, out)]
        return cols_t.reshape(len(offsets), rows).T
    view = window_view(x_p, kernel, strides, dilation, out)
    return xp.ascontiguousarray(view).reshape(rows, -1)


def conv_forward(
    x: Array,
    kernel: Array,
    bias: Array | None = None,
    strides: IntOrTuple = 1,
    padding: Padding = "valid",
    dilation_rate: IntOrTuple = 1,
    crop_to: Sequence[int] | None = None,
    groups: int = 1,
    keep_cols: bool = True,
) -> tuple[Array, ConvCache]:
    """N-d convolution (cross-correlation), ``channels_last``.

    Shapes: ``x (N, *S, C_in)``, ``kernel (*k, C_in/groups, C_out)``, ``bias (C_out,)``
    -> ``y (N, *out, C_out)`` with ``out = floor((S + pads - d*(k-1) - 1)/s) + 1``.
    ``padding`` is ``"valid"``, ``"same"`` (TensorFlow's rule) or explicit ints.
    ``crop_to`` computes only the first ``crop_to[i]`` outputs along each axis
    (when a following pooling would discard the rest). Returns ``(y, cache)``.

    ``keep_cols=False`` (the fast engine's choice, ungrouped only): an im2col matrix larger
    than :data:`REBUILD_COLS_ABOVE` is built a few samples at a time
    (:func:`samples_per_chunk`) and the input kept instead, from which the backward
    rebuilds it chunk by chunk: the matrix, ``prod(k)`` times the input's size, is then
    never held whole (peak memory), at the cost of building it twice.
    """
    strides, dilation, pads, out = conv_geometry(
        x.shape, kernel.shape, strides, padding, dilation_rate, groups=groups
    )
    if crop_to is not None:
        out = tuple(min(o, c) for o, c in zip(out, crop_to))
    k = tuple(kernel.shape[:-2])
    c_out = kernel.shape[-1]
    if (
        not keep_cols
        and groups == 1
        and x.shape[0] * math.prod(out) * math.prod(k) * x.shape[-1] * x.itemsize
        > REBUILD_COLS_ABOVE
    ):
        rows = math.prod(out)
        y = xp.empty((x.shape[0] * rows, c_out), dtype=x.dtype)
        chunk = samples_per_chunk(x, k)
        for start in range(0, x.shape[0], chunk):
            part = x[start : start + chunk]
            xp.matmul(
                im2col(part, k, strides, dilation, pads, out),
                kernel.reshape(-1, c_out),
                out=y[start * rows : (start + len(part)) * rows],
            )
        if bias is not None:
            y += bias
        cache = ConvCache(
            None,
            kernel,
            tuple(x.shape),
            pads,
            strides,
            dilation,
            out,
            bias is not None,
            groups,
            x,
        )
        return y.reshape(x.shape[0], *out, c_out), cache
    cols = im2col(x, k, strides, dilation, pads, out)
    if groups == 1:
        y = cols @ kernel.reshape(-1, c_out)
    elif is_depthwise(kernel, groups):
        y = _depthwise_products(cols, kernel, groups)
    else:
        cols = _split_groups(cols, len(kernel_offsets(k)), groups)
        y = _join_groups(cols @ _group_kernel(kernel, groups))
    if bias is not None:
        y += bias
    cache = ConvCache(
        cols,
        kernel,
        tuple(x.shape),
        pads,
        strides,
        dilation,
        out,
        bias is not None,
        groups,
    )
    return y.reshape(x.shape[0], *out, c_out), cache


def is_depthwise(kernel: Array, groups: int) -> bool:
    """Each group reads one input channel (``DepthwiseConv``): ``kernel (*k, 1, C*dm)``."""
    return groups > 1 and kernel.shape[-2] == 1


def _depthwise_products(cols: Array, kernel: Array, groups: int) -> Array:
    """``y[m, c*dm + j] = sum_p cols[m, p, c] * kernel[p, c, j]``: one broadcast multiply-add
    over the whole map per kernel offset. As grouped matrix products these are C products of
    inner size ``prod(k)`` and width ``dm`` (usually 1), which leave BLAS idle and need the
    columns regrouped first: MobileNetV2's inference at batch 32 ran at 0.11x PyTorch so.

    ``cols (M, P*C)`` (offset outer, channel inner), ``kernel (*k, 1, C*dm)`` -> ``(M, C*dm)``.
    """
    m = cols.shape[0]
    cols3 = cols.reshape(m, -1, groups)  # (M, P, C)
    w = kernel.reshape(cols3.shape[1], groups, -1)  # (P, C, dm)
    y = cols3[:, 0, :, None] * w[0]
    for p in range(1, cols3.shape[1]):
        y += cols3[:, p, :, None] * w[p]
    return y.reshape(m, -1)


def _split_groups(cols: Array, offsets: int, groups: int) -> Array:
    """``(M, P*C_in)`` (offset outer, channel inner) -> ``(g, M, P*C_in/g)``: group ``j``'s
    columns, in the order of its own kernel block."""
    m = cols.shape[0]
    return xp.ascontiguousarray(
        cols.reshape(m, offsets, groups, -1).transpose(2, 0, 1, 3)
    ).reshape(groups, m, -1)


def _group_kernel(kernel: Array, groups: int) -> Array:
    """``(*k, C_in/g, C_out)`` -> ``(g, P*C_in/g, C_out/g)``: group ``j`` owns output channels
    ``j*C_out/g ... (j+1)*C_out/g - 1``, as TensorFlow and Keras order them."""
    c_g, c_out = kernel.shape[-2], kernel.shape[-1]
    return (
        kernel.reshape(-1, c_g, groups, c_out // groups)
        .transpose(2, 0, 1, 3)
        .reshape(groups, -1, c_out // groups)
    )


def _join_groups(y: Array) -> Array:
    """``(g, M, C_out/g)`` -> ``(M, C_out)``, group blocks side by side."""
    return y.transpose(1, 0, 2).reshape(y.shape[1], -1)


def depthwise_kernel_as_grouped(kernel: Array) -> Array:
    """A depthwise kernel ``(*k, C, dm)`` as a grouped one ``(*k, 1, C*dm)`` (``groups = C``):
    output channel ``c*dm + m`` is input channel ``c`` filtered by ``kernel[..., c, m]``,
    which is exactly group ``c``'s block. A view, no copy."""
    return kernel.reshape(depthwise_kernel_as_grouped_shape(kernel.shape))


def depthwise_kernel_as_grouped_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """``(*k, C, dm)`` -> ``(*k, 1, C*dm)``."""
    return (*shape[:-2], 1, shape[-2] * shape[-1])


def conv_backward(
    dy: Array,
    cache: ConvCache,
    need_dx: bool = True,
    one_gemm_input_grad: bool = False,
) -> tuple[Array | None, Array, Array | None]:
    """Gradients of :func:`conv_forward`.

    ``dy (N, *out, C_out)`` -> ``(dx (N, *S, C_in) or None, dkernel (*k, C_in, C_out), dbias (C_out,) or None)``.

    * ``dkernel = cols.T @ dy``: one matrix product.
    * ``dx`` (col2im): each kernel offset sent ``dy @ kernel[offset].T`` to a
      strided slice of the input; one small matrix product and one slice
      addition per offset (``np.add.at`` would be slower). ``need_dx=False``
      skips it for the first layer, whose input needs no gradient.
    * ``one_gemm_input_grad`` (the fast engine's choice): where
      :func:`uses_one_gemm_input_grad` says it pays, ``dx`` comes from
      :func:`input_grad_one_gemm` instead (the same values up to float rounding).
    """
    kernel, groups = cache.kernel, cache.groups
    c_out = kernel.shape[-1]
    dy2 = dy.reshape(-1, c_out)
    dbias = dy2.sum(axis=0) if cache.has_bias else None
    if (
        cache.x is not None
    ):  # kept the input instead of cols (keep_cols=False): rebuild them
        k, x = tuple(kernel.shape[:-2]), cache.x
        rows, chunk = math.prod(cache.out), samples_per_chunk(x, k)
        dk = xp.zeros((math.prod(kernel.shape[:-1]), c_out), dtype=dy.dtype)
        for start in range(0, x.shape[0], chunk):
            part = x[start : start + chunk]
            cols = im2col(part, k, cache.strides, cache.dilation, cache.pads, cache.out)
            dk += cols.T @ dy2[start * rows : (start + len(part)) * rows]
        dkernel = dk.reshape(kernel.shape)
    elif groups == 1:
        assert cache.cols is not None  # (kept by the forward when the input was not)
        dkernel = (cache.cols.T @ dy2).reshape(kernel.shape)
    elif is_depthwise(kernel, groups):
        assert cache.cols is not None
        # dkernel[p, c, j] = sum_m cols[m, p, c] * dy[m, c, j], one offset at a time
        cols3 = cache.cols.reshape(dy2.shape[0], -1, groups)
        dy3 = dy2.reshape(dy2.shape[0], groups, -1)
        dkernel = xp.stack(
            [(cols3[:, p, :, None] * dy3).sum(axis=0) for p in range(cols3.shape[1])]
        ).reshape(kernel.shape)
    else:
        assert cache.cols is not None
        dy_g = xp.ascontiguousarray(
            dy2.reshape(-1, groups, c_out // groups).transpose(1, 0, 2)
        )
        dk = cache.cols.transpose(0, 2, 1) @ dy_g  # (g, P*C_in/g, C_out/g)
        dkernel = (
            dk.reshape(groups, -1, kernel.shape[-2], c_out // groups)
            .transpose(1, 2, 0, 3)
            .reshape(kernel.shape)
        )
    if not need_dx:
        return None, dkernel, dbias
    k = tuple(kernel.shape[:-2])
    n, c_in = cache.x_shape[0], cache.x_shape[-1]
    spatial = cache.x_shape[1:-1]
    if one_gemm_input_grad and groups == 1 and uses_one_gemm_input_grad(cache):
        return input_grad_one_gemm(dy, cache), dkernel, dbias
    dx = xp.zeros(
        (n, *(s + b + a for s, (b, a) in zip(spatial, cache.pads)), c_in),
        dtype=dy.dtype,
    )
    if groups == 1:
        per_offset = kernel.reshape(-1, c_in, c_out)
        for i, offset in enumerate(kernel_offsets(k)):
            dx[offset_slice(offset, cache.strides, cache.dilation, cache.out)] += (
                dy2 @ per_offset[i].T
            ).reshape(n, *cache.out, c_in)
    elif is_depthwise(kernel, groups):
        w = kernel.reshape(-1, groups, c_out // groups)  # (P, C, dm)
        dy3 = dy2.reshape(-1, groups, c_out // groups)
        for i, offset in enumerate(kernel_offsets(k)):
            dx[offset_slice(offset, cache.strides, cache.dilation, cache.out)] += (
                (dy3 * w[i]).sum(axis=-1).reshape(n, *cache.out, c_in)
            )
    else:
        # (P, g, C_out/g, C_in/g): per offset, one small batched product over the groups
        c_g = kernel.shape[-2]
        per_offset = kernel.reshape(-1, c_g, groups, c_out // groups).transpose(
            0, 2, 3, 1
        )
        for i, offset in enumerate(kernel_offsets(k)):
            dx[offset_slice(offset, cache.strides, cache.dilation, cache.out)] += (
                _join_groups(dy_g @ per_offset[i]).reshape(n, *cache.out, c_in)
            )
    return dx[interior(cache.pads, spatial)], dkernel, dbias


#: Input channels up to which :func:`input_grad_one_gemm` beats the per-offset products, and the
#: most output channels per input channel. Both ways are memory-bound on few channels: per pixel,
#: the offsets move about ``P*(C_out + 3*C_in)`` values, the one GEMM about ``2*P*C_out + C_in``
#: (its window matrix written and read). Measured on 3x3 kernels, one thread: 16 -> 16 and
#: 16 -> 32 1.3-2.2x faster, 3 -> 16 1.6x slower, 32 -> 32 0.9-1.9x, 32 -> 64 (seed-004's
#: conv2) 0.8-1.0x (its training step at batch 32 measured 0.98x PyTorch with it, 1.17x without).
ONE_GEMM_MAX_CHANNELS = 16
ONE_GEMM_MAX_GROWTH = 2
#: Samples per chunk of :func:`input_grad_one_gemm`: its window matrix stays a few MiB.
ONE_GEMM_CHUNK = 8
#: Bytes of im2col matrix per chunk of samples (:func:`samples_per_chunk`): a few MiB, which
#: the CPU's cache holds between writing it and the GEMM reading it.
CHUNK_BYTES = 4 << 20
#: With ``keep_cols=False``, larger im2col matrices are rebuilt in the backward, not kept. They
#: dominate a training step's peak memory (CIFAR model's peak growth, rebuilding every matrix:
#: 111 -> 68 MiB at batch 32, 383 -> 202 at 128), but rebuilding costs time (6 % of the CIFAR
#: model's step, 11 % of seed-004's, one thread). Above 8 MiB per thread's part: the CIFAR
#: model's largest (111 -> 84 MiB at batch 32, 383 -> 210 at 128); seed-004 keeps all of its own.
REBUILD_COLS_ABOVE = 8 << 20


def samples_per_chunk(x: Array, kernel: Sequence[int]) -> int:
    """How many samples of ``x (N, *S, C)`` make about :data:`CHUNK_BYTES` of im2col matrix
    (about ``prod(kernel)`` values per input value at stride 1; at least one sample)."""
    per_sample = x[0].size * math.prod(kernel) * x.itemsize
    return max(1, CHUNK_BYTES // max(per_sample, 1))


def uses_one_gemm_input_grad(cache: ConvCache) -> bool:
    """True for an ungrouped stride-1 convolution with few input channels whose padding
    leaves the transposed windows inside the padded gradient (every Keras padding does)."""
    return (
        cache.groups == 1
        and all(s == 1 for s in cache.strides)
        and cache.x_shape[-1] <= ONE_GEMM_MAX_CHANNELS
        and cache.kernel.shape[-1] <= ONE_GEMM_MAX_GROWTH * cache.x_shape[-1]
        and all(p >= 0 for pair in _input_grad_pads(cache) for p in pair)
    )


def _input_grad_pads(cache: ConvCache) -> tuple:
    """How much to pad ``dy`` so that its windows are ``dx``'s: ``d*(k-1) - before`` before
    and ``S + before - out`` after, along each spatial axis."""
    k = cache.kernel.shape[:-2]
    return tuple(
        (d * (ki - 1) - b, s + b - o)
        for (b, _), d, ki, s, o in zip(
            cache.pads, cache.dilation, k, cache.x_shape[1:-1], cache.out
        )
    )


def input_grad_one_gemm(dy: Array, cache: ConvCache) -> Array:
    """``dx (N, *S, C_in)`` of a stride-1 convolution as one convolution of ``dy (N, *out, C_out)``.

    With stride 1, ``dx[s] = sum_k dy[s + before - d*k] @ kernel[k].T``: a cross-correlation
    of ``dy``, padded by :func:`_input_grad_pads`, with the kernel flipped in space and its
    two channel axes swapped. That is one im2col and one GEMM with ``prod(k)*C_out`` columns,
    instead of ``prod(k)`` thin products added into strided slices. Done ``ONE_GEMM_CHUNK``
    samples at a time, so the window matrix stays small (peak memory, cache reuse).
    """
    kernel = cache.kernel
    nd = kernel.ndim - 2
    k, c_in = tuple(kernel.shape[:-2]), kernel.shape[-2]
    flipped = kernel[(slice(None, None, -1),) * nd].swapaxes(-1, -2).reshape(-1, c_in)
    pads, spatial = _input_grad_pads(cache), tuple(cache.x_shape[1:-1])
    n = dy.shape[0]
    dx = xp.empty((n, *spatial, c_in), dtype=dy.dtype)
    flat = dx.reshape(n, -1)
    for start in range(0, n, ONE_GEMM_CHUNK):
        part = dy[start : start + ONE_GEMM_CHUNK]
        cols = im2col(part, k, (1,) * nd, cache.dilation, pads, spatial)
        xp.matmul(cols, flipped, out=flat[start : start + len(part)].reshape(-1, c_in))
    return dx
