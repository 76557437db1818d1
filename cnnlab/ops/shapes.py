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


def normalize_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` for ``n = 2``; a sequence must have length ``n``."""
    if isinstance(value, numbers.Integral):
        values = (value,) * n
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


def output_size(size: int, kernel: int, stride: int = 1, dilation: int = 1,
                pad_before: int = 0, pad_after: int = 0) -> int:
    """Cells along one axis after a conv or pooling window slides over it.

    May be zero or negative; :func:`output_shape` turns that into an error.
    """
    return (size + pad_before + pad_after - effective_kernel(kernel, dilation)) // stride + 1


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``"same"`` rule: ``out = ceil(in / s)``.

    The total padding is ``max((out - 1)*s + k_eff - in, 0)``; the smaller half
    goes before, the extra cell after (asymmetric for even kernels/strides).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + effective_kernel(kernel, dilation) - size, 0)
    return total // 2, total - total // 2


def resolve_padding(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                    dilation: Sequence[int], padding) -> tuple[tuple[int, int], ...]:
    """Turn ``"valid"``, ``"same"``, an int, a tuple of ints (one per axis) or a
    tuple of ``(before, after)`` pairs into one ``(before, after)`` per axis."""
    n = len(spatial)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * n
        if mode == "same":
            return tuple(same_padding(i, k, s, d) for i, k, s, d in zip(spatial, kernel, strides, dilation))
        raise ShapeError(
            f'`padding` must be "valid", "same" or explicit integers. Received: padding={padding!r}'
        )
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


def output_shape(spatial: Sequence[int], kernel: Sequence[int], strides: Sequence[int],
                 dilation: Sequence[int], pads: Sequence[tuple[int, int]], where: str = "conv") -> tuple[int, ...]:
    """Output spatial shape; a size that reaches zero raises a :class:`ShapeError`
    that shows the arithmetic and suggests the fix."""
    out = []
    for axis, (i, k, s, d, (pb, pa)) in enumerate(zip(spatial, kernel, strides, dilation, pads)):
        o = output_size(i, k, s, d, pb, pa)
        if o < 1:
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


def size_arithmetic(size: int, kernel: int, stride: int = 1, dilation: int = 1,
                    pad_before: int = 0, pad_after: int = 0) -> str:
    """The output-size formula with the numbers filled in, for explanations.

    ``size_arithmetic(28, 3)`` -> ``"floor((28 - 3) / 1) + 1 = 26"``.
    """
    k_eff = effective_kernel(kernel, dilation)
    kern = f"{k_eff}" if dilation == 1 else f"{k_eff} [(k-1)*d+1 = ({kernel}-1)*{dilation}+1]"
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


def batch_norm_param_count(channels: int, center: bool = True, scale: bool = True) -> tuple[int, int]:
    """``(trainable, non_trainable)`` parameters of BatchNormalization over ``channels``:
    gamma (``scale``) and beta (``center``), one per channel, are trained; the moving
    mean and variance, one per channel each, are not.

    32 channels: ``(64, 64)``, 4*32 = 128 in all.
    """
    return channels * (int(center) + int(scale)), 2 * channels


def batch_norm_param_formula(channels: int, center: bool = True, scale: bool = True) -> str:
    """``"4*32 = 128 (2*32 non-trainable)"``."""
    trainable, frozen = batch_norm_param_count(channels, center, scale)
    per_channel = int(center) + int(scale) + 2
    return f"{per_channel}*{channels} = {trainable + frozen:,} (2*{channels} non-trainable)"
