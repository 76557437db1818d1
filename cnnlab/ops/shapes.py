"""The seeds' formulas, written once: output size, padding, parameter count.

Every op and every layer asks these functions; nothing else repeats the
arithmetic.

Output size (seed 002, with the typo fixed: divide by the stride ``s``)::

    out = floor((in + pad_before + pad_after - d*(k - 1) - 1) / s) + 1

which for ``d = 1`` is the familiar ``floor((in - k + 2p) / s) + 1``.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

from ..errors import ShapeError

#: An argument given as one int for every spatial axis or one per axis (``strides=2``, ``(2, 1)``).
IntOrTuple = int | Sequence[int]
#: ``"valid"``, ``"same"``, an int, one int per axis or one ``(before, after)`` pair per axis.
Padding = str | int | Sequence[int | tuple[int, int]]
#: Resolved padding: ``((before, after), ...)``, one pair per spatial axis.
Pads = tuple[tuple[int, int], ...]


def normalize_tuple(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` for ``n = 2``; a sequence must have length ``n``."""
    if isinstance(value, (int, numbers.Integral)):  # NumPy's integers too
        values: tuple = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = ()
        if len(values) != n:
            raise ShapeError(
                f"`{name}` must be an int or a tuple of {n} ints. Received: {name}={value!r}"
            )
    for v in values:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ShapeError(
                f"`{name}` must contain positive integers. Received: {name}={value!r}"
            )
    return tuple(int(v) for v in values)


def effective_kernel(kernel: int, dilation: int = 1) -> int:
    """A dilated kernel covers ``(k - 1)*d + 1`` input cells."""
    return (kernel - 1) * dilation + 1


def output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    pad_before: int = 0,
    pad_after: int = 0,
) -> int:
    """Cells along one axis after a conv or pooling window slides over it.

    May be zero or negative; :func:`output_shape` turns that into an error. An unknown size
    (None: a model built for any image size) gives None.
    """
    if size is None:
        return None
    return (
        size + pad_before + pad_after - effective_kernel(kernel, dilation)
    ) // stride + 1


def same_padding(
    size: int, kernel: int, stride: int = 1, dilation: int = 1
) -> tuple[int, int]:
    """TensorFlow's ``"same"`` rule: ``out = ceil(in / s)``.

    The total padding is ``max((out - 1)*s + k_eff - in, 0)``; the smaller half
    goes before, the extra cell after (asymmetric for even kernels/strides). An unknown size
    (None) gives ``(None, None)``: the padding is known once the input is.
    """
    if size is None:
        return None, None
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    padding: Padding,
) -> Pads:
    """Turn ``"valid"``, ``"same"``, an int, a tuple of ints (one per axis) or a
    tuple of ``(before, after)`` pairs into one ``(before, after)`` per axis."""
    n = len(spatial)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * n
        if mode == "same":
            return tuple(
                same_padding(i, k, s, d)
                for i, k, s, d in zip(spatial, kernel, strides, dilation)
            )
        raise ShapeError(
            f'`padding` must be "valid", "same" or explicit integers. Received: padding={padding!r}'
        )
    pairs: tuple[tuple[int, ...], ...]  # checked to be pairs below
    if isinstance(padding, int):
        pairs = ((padding, padding),) * n
    else:
        items = tuple(padding)
        if len(items) != n:
            raise ShapeError(
                f"Explicit `padding` needs one entry per spatial axis ({n}). Received: padding={padding!r}"
            )
        pairs = tuple((p, p) if isinstance(p, int) else tuple(p) for p in items)
    for pair in pairs:
        if len(pair) != 2 or any((not isinstance(p, int)) or p < 0 for p in pair):
            raise ShapeError(
                f"Explicit `padding` must be non-negative ints or (before, after) pairs. Received: padding={padding!r}"
            )
    return tuple((int(a), int(b)) for a, b in pairs)


def output_shape(
    spatial: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    pads: Sequence[tuple[int, int]],
    where: str = "conv",
) -> tuple[int, ...]:
    """Output spatial shape; a size that reaches zero raises a :class:`ShapeError`
    that shows the arithmetic and suggests the fix."""
    out = []
    for axis, (i, k, s, d, (pb, pa)) in enumerate(
        zip(spatial, kernel, strides, dilation, pads)
    ):
        o = output_size(i, k, s, d, pb, pa)
        if o is not None and o < 1:
            raise ShapeError(
                f"{where}: the output size along spatial axis {axis} would be {o}: "
                f"{size_arithmetic(i, k, s, d, pb, pa)}. "
                f"The input (size {i}) is too small for kernel {k} (dilation {d}) with stride {s}. "
                f'Use padding="same", a smaller kernel or stride, or a larger input. '
                f"Received: input spatial shape={tuple(spatial)}, kernel={tuple(kernel)}, "
                f"strides={tuple(strides)}, padding={tuple(pads)}"
            )
        out.append(o)
    return tuple(out)


def size_arithmetic(
    size: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    pad_before: int = 0,
    pad_after: int = 0,
) -> str:
    """The output-size formula with the numbers filled in, for explanations.

    ``size_arithmetic(28, 3)`` -> ``"floor((28 - 3) / 1) + 1 = 26"``.
    """
    k_eff = effective_kernel(kernel, dilation)
    kern = (
        f"{k_eff}"
        if dilation == 1
        else f"{k_eff} [(k-1)*d+1 = ({kernel}-1)*{dilation}+1]"
    )
    pads = pad_before + pad_after
    pad_text = f" + {pads}" if pads else ""
    result = output_size(size, kernel, stride, dilation, pad_before, pad_after)
    return f"floor(({size}{pad_text} - {kern}) / {stride}) + 1 = {result}"


def param_count(kernel_shape: Sequence[int], use_bias: bool = True) -> int:
    """Trainable parameters of a conv or dense layer: every kernel entry, plus one
    bias per output unit (the last kernel axis).

    Conv2D 32@3x3 on 1 channel: kernel (3, 3, 1, 32) -> 3*3*1*32 + 32 = 320.
    Dense 128 -> 256: kernel (128, 256) -> 128*256 + 256 = 33,024.
    """
    return math.prod(kernel_shape) + (kernel_shape[-1] if use_bias else 0)


def param_formula(kernel_shape: Sequence[int], use_bias: bool = True) -> str:
    """``param_count`` with its arithmetic: ``"3*3*1*32 + 32 = 320"``."""
    text = "*".join(str(k) for k in kernel_shape)
    if use_bias:
        text += f" + {kernel_shape[-1]}"
    return f"{text} = {param_count(kernel_shape, use_bias):,}"


def batch_norm_param_count(
    channels: int, center: bool = True, scale: bool = True
) -> tuple[int, int]:
    """``(trainable, non_trainable)`` parameters of BatchNormalization over ``channels``:
    gamma (``scale``) and beta (``center``), one per channel, are trained; the moving
    mean and variance, one per channel each, are not.

    32 channels: ``(64, 64)``, 4*32 = 128 in all.
    """
    return channels * (int(center) + int(scale)), 2 * channels


def batch_norm_param_formula(
    channels: int, center: bool = True, scale: bool = True
) -> str:
    """``"4*32 = 128 (2*32 non-trainable)"``."""
    trainable, frozen = batch_norm_param_count(channels, center, scale)
    per_channel = int(center) + int(scale) + 2
    return f"{per_channel}*{channels} = {trainable + frozen:,} (2*{channels} non-trainable)"


def causal_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Conv1D's ``"causal"`` padding: ``(k - 1)*d`` zeros before, none after, so
    output ``t`` sees inputs ``t`` and earlier only (and ``out = in`` at stride 1)."""
    return effective_kernel(kernel, dilation) - 1, 0


def transpose_output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    padding: str = "valid",
    output_padding: int | None = None,
) -> int:
    """Length along one axis of a transposed convolution, Keras's rule (``k`` dilated)::

        valid, output_padding None:  (n - 1)*s + max(k, s)
        same,  output_padding None:  n*s
        valid, output_padding op:    (n - 1)*s + k + op
        same,  output_padding op:    (n - 1)*s + k % 2 + op

    so ``output_padding=0`` differs from ``None`` (valid with ``s > k``, and same).
    """
    k = effective_kernel(kernel, dilation)
    if padding == "valid":
        return (size - 1) * stride + (
            max(k, stride) if output_padding is None else k + output_padding
        )
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + k % 2 + output_padding


def transpose_crop_before(
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    padding: str = "valid",
    output_padding: int | None = None,
) -> int:
    """Where the output starts inside the full transposed result (length ``(n - 1)*s + k``).

    ``valid`` starts at 0. ``same`` pads the stride-dilated input by
    ``p = s + k - 2`` (``k + k % 2 - 2 + op`` with an explicit ``output_padding``),
    ``min(ceil(p / 2), k - 1)`` of it before (Keras's placement, the same as
    TensorFlow's), which leaves ``k - 1 - that`` cells cut from the front."""
    k = effective_kernel(kernel, dilation)
    if padding == "valid":
        return 0
    total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    return k - 1 - min(total // 2 + total % 2, k - 1)


def transpose_geometry_text(
    size: int,
    kernel: int,
    stride: int = 1,
    dilation: int = 1,
    padding: str = "valid",
    output_padding: int | None = None,
) -> str:
    """The transposed length with its numbers: ``"(4 - 1)*2 + max(3, 2) = 9"``."""
    k = effective_kernel(kernel, dilation)
    out = transpose_output_size(size, kernel, stride, dilation, padding, output_padding)
    if padding == "valid":
        tail = (
            f"max({k}, {stride})"
            if output_padding is None
            else f"{k} + {output_padding}"
        )
        return f"({size} - 1)*{stride} + {tail} = {out}"
    if output_padding is None:
        return f"{size}*{stride} = {out}"
    return f"({size} - 1)*{stride} + {k} % 2 + {output_padding} = {out}"


def depthwise_param_count(kernel_shape: Sequence[int], use_bias: bool = True) -> int:
    """A depthwise kernel ``(*k, C, dm)`` has one bias per output channel ``C*dm``.

    DepthwiseConv2D 3x3 on 8 channels, dm 2: 3*3*8*2 + 16 = 160."""
    return math.prod(kernel_shape) + (
        kernel_shape[-1] * kernel_shape[-2] if use_bias else 0
    )


def depthwise_param_formula(kernel_shape: Sequence[int], use_bias: bool = True) -> str:
    text = "*".join(str(k) for k in kernel_shape)
    if use_bias:
        text += f" + {kernel_shape[-2]}*{kernel_shape[-1]}"
    return f"{text} = {depthwise_param_count(kernel_shape, use_bias):,}"


def transpose_param_count(kernel_shape: Sequence[int], use_bias: bool = True) -> int:
    """A transposed kernel is ``(*k, filters, C_in)``: the bias has ``filters`` entries
    (the second-last axis). Conv2DTranspose 16@3x3 on 8 channels: 3*3*16*8 + 16 = 1,168."""
    return math.prod(kernel_shape) + (kernel_shape[-2] if use_bias else 0)


def transpose_param_formula(kernel_shape: Sequence[int], use_bias: bool = True) -> str:
    text = "*".join(str(k) for k in kernel_shape)
    if use_bias:
        text += f" + {kernel_shape[-2]}"
    return f"{text} = {transpose_param_count(kernel_shape, use_bias):,}"


def separable_param_count(
    depthwise_shape: Sequence[int],
    pointwise_shape: Sequence[int],
    use_bias: bool = True,
) -> int:
    """Depthwise ``(*k, C, dm)`` plus pointwise ``(*1, C*dm, filters)`` plus ``filters`` biases.

    SeparableConv2D 16@3x3 on 8 channels, dm 1: 3*3*8*1 + 1*1*8*16 + 16 = 216."""
    return (
        math.prod(depthwise_shape)
        + math.prod(pointwise_shape)
        + (pointwise_shape[-1] if use_bias else 0)
    )


def separable_param_formula(
    depthwise_shape: Sequence[int],
    pointwise_shape: Sequence[int],
    use_bias: bool = True,
) -> str:
    text = (
        "*".join(str(k) for k in depthwise_shape)
        + " + "
        + "*".join(str(k) for k in pointwise_shape)
    )
    if use_bias:
        text += f" + {pointwise_shape[-1]}"
    return f"{text} = {separable_param_count(depthwise_shape, pointwise_shape, use_bias):,}"


def prelu_alpha_shape(
    sample_shape: Sequence[int], shared_axes: Sequence[int] | None = None
) -> tuple[int, ...]:
    """PReLU learns one slope per cell of a sample, except along ``shared_axes`` (1 = the first
    axis after the batch), which get size 1."""
    shape = list(sample_shape)
    for axis in shared_axes or ():
        shape[axis - 1] = 1
    return tuple(shape)


def prelu_param_formula(
    sample_shape: Sequence[int], shared_axes: Sequence[int] | None = None
) -> str:
    """PReLU on (26, 26, 32) sharing axes 1, 2: ``"1*1*32 = 32"``."""
    shape = prelu_alpha_shape(sample_shape, shared_axes)
    return "*".join(str(s) for s in shape) + f" = {math.prod(shape):,}"


def aspect_ratio_box(
    size: int, other: int, target: int, target_other: int, mode: str
) -> tuple[int, int]:
    """Keras's crop (``mode="crop"``) or pad (``"pad"``) box along one axis before resizing to
    keep the aspect ratio: ``(start, length)``. The length is ``int(other * target / target_other)``,
    clamped to ``[1, size]`` for a crop and at least ``size`` for a pad; the start is
    ``int((size - length) / 2)`` for a crop and ``int((length - size) / 2)`` cells of fill on each
    side for a pad (so an odd difference loses one cell, as Keras computes it)."""
    length = int(float(other * target) / target_other)
    if mode == "crop":
        length = max(min(size, length), 1)
        return int(float(size - length) / 2), length
    length = max(size, length)
    return int(float(length - size) / 2), length
