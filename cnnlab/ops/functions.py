"""The array functions that Keras code calls (``keras.ops``), with Keras 3's names and arguments.

Each runs one op of ``cnnlab.ops`` (elementwise, reductions, arrays, conv, pool):
on plain arrays it returns a plain array; inside a custom layer's recorded
``call`` it also appends the op to the tape (``cnnlab.ops.tape.apply``), so that
the backward pass can replay the op's explicit backward. ``keras.ops`` (the
face, ``cnnlab.keras.ops``) re-exports these names.
"""

from __future__ import annotations

import builtins
import numbers
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..backend import Array, floatx
from ..errors import ShapeError
from . import arrays, merge, shapes
from . import conv as conv_ops
from . import elementwise as ew
from . import pool as pool_ops
from . import reductions as red
from .tape import TensorLike, apply, value

#: What a keras.ops function takes: an array (or a list, a number) or a tensor being recorded. It returns
#: an array, or a recorded tensor inside a custom layer's call() (the tape decides: hence ``Any``).
Operand = ArrayLike | TensorLike
#: An ``axis`` argument: None (every axis), one axis or several.
Axis = int | Sequence[int] | None
#: A dtype: a name (``"float32"``), a NumPy dtype or None (the default, usually float32).
DType = Any


def _unary(name: str, x: Operand, **params: Any) -> Any:
    return apply(
        name, ew.unary_forward, ew.unary_backward, [x], function=name, **params
    )


# --------------------------------------------------------------------------- arithmetic


def add(x1: Operand, x2: Operand) -> Any:
    return apply("add", ew.add_forward, ew.add_backward, [x1, x2])


def subtract(x1: Operand, x2: Operand) -> Any:
    return apply("subtract", ew.subtract_forward, ew.subtract_backward, [x1, x2])


def multiply(x1: Operand, x2: Operand) -> Any:
    return apply("multiply", ew.multiply_forward, ew.multiply_backward, [x1, x2])


def divide(x1: Operand, x2: Operand) -> Any:
    return apply("divide", ew.divide_forward, ew.divide_backward, [x1, x2])


true_divide = divide


def power(x1: Operand, x2: Operand) -> Any:
    return apply("power", ew.power_forward, ew.power_backward, [x1, x2])


def maximum(x1: Operand, x2: Operand) -> Any:
    return apply("maximum", ew.maximum_forward, ew.maximum_backward, [x1, x2])


def minimum(x1: Operand, x2: Operand) -> Any:
    return apply("minimum", ew.minimum_forward, ew.minimum_backward, [x1, x2])


def where(
    condition: Operand, x1: Operand | None = None, x2: Operand | None = None
) -> Any:
    """``x1`` where ``condition``, else ``x2``; with one argument, the indices where it holds."""
    if x1 is None and x2 is None:
        return np.nonzero(value(condition))
    if x1 is None or x2 is None:
        raise ValueError(
            "where: give both x1 and x2, or neither. Received: only one of them"
        )
    return apply("where", ew.where_forward, ew.where_backward, [condition, x1, x2])


def clip(x: Operand, x_min: Operand | None, x_max: Operand | None) -> Any:
    return apply("clip", ew.clip_forward, ew.clip_backward, [x, x_min, x_max])


def matmul(x1: Operand, x2: Operand) -> Any:
    return apply("matmul", ew.matmul_forward, ew.matmul_backward, [x1, x2])


def tensordot(x1: Operand, x2: Operand, axes: int | Sequence[Any] = 2) -> Any:
    return apply(
        "tensordot", ew.tensordot_forward, ew.tensordot_backward, [x1, x2], axes=axes
    )


def dot(x1: Operand, x2: Operand) -> Any:
    """``np.dot``: a number times an array, the inner product of vectors, ``matmul`` for
    matrices, and for N-d the sum over ``x1``'s last axis and ``x2``'s second to last."""
    n1, n2 = np.ndim(value(x1)), np.ndim(value(x2))
    if n1 == 0 or n2 == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([n1 - 1], [builtins.max(n2 - 2, 0)]))


def negative(x: Operand) -> Any:
    return _unary("negative", x)


def abs(x: Operand) -> Any:  # noqa: A001 (Keras's name)
    return _unary("abs", x)


absolute = abs


def square(x: Operand) -> Any:
    return _unary("square", x)


def sqrt(x: Operand) -> Any:
    return _unary("sqrt", x)


def exp(x: Operand) -> Any:
    return _unary("exp", x)


def expm1(x: Operand) -> Any:
    return _unary("expm1", x)


def log(x: Operand) -> Any:
    return _unary("log", x)


def log1p(x: Operand) -> Any:
    return _unary("log1p", x)


def reciprocal(x: Operand) -> Any:
    return _unary("reciprocal", x)


def sin(x: Operand) -> Any:
    return _unary("sin", x)


def cos(x: Operand) -> Any:
    return _unary("cos", x)


def sign(x: Operand) -> Any:
    return _unary("sign", x)


def floor(x: Operand) -> Any:
    return _unary("floor", x)


def ceil(x: Operand) -> Any:
    return _unary("ceil", x)


def round(x: Operand, decimals: int = 0) -> Any:  # noqa: A001 (Keras's name)
    if decimals:
        raise ValueError(
            f"round: cnnlab rounds to whole numbers only. Received: decimals={decimals}"
        )
    return _unary("round", x)


# --------------------------------------------------------------------------- activations (keras.ops.nn too)


def relu(x: Operand) -> Any:
    return _unary("relu", x)


def sigmoid(x: Operand) -> Any:
    return _unary("sigmoid", x)


def tanh(x: Operand) -> Any:
    return _unary("tanh", x)


def softplus(x: Operand) -> Any:
    return _unary("softplus", x)


def silu(x: Operand) -> Any:
    return _unary("silu", x)


swish = silu


def elu(x: Operand, alpha: float = 1.0) -> Any:
    return _unary("elu", x, alpha=alpha)


def leaky_relu(x: Operand, negative_slope: float = 0.2) -> Any:
    return _unary("leaky_relu", x, negative_slope=negative_slope)


def softmax(x: Operand, axis: int = -1) -> Any:
    return _unary("softmax", x, axis=axis)


def log_softmax(x: Operand, axis: int = -1) -> Any:
    return apply(
        "log_softmax", ew.log_softmax_forward, ew.log_softmax_backward, [x], axis=axis
    )


# --------------------------------------------------------------------------- reductions


def sum(x: Operand, axis: Axis = None, keepdims: bool = False) -> Any:  # noqa: A001
    return apply(
        "sum", red.sum_forward, red.sum_backward, [x], axis=axis, keepdims=keepdims
    )


def mean(x: Operand, axis: Axis = None, keepdims: bool = False) -> Any:
    return apply(
        "mean", red.mean_forward, red.mean_backward, [x], axis=axis, keepdims=keepdims
    )


def max(
    x: Operand, axis: Axis = None, keepdims: bool = False, initial: float | None = None
) -> Any:  # noqa: A001
    _no_initial("max", initial)
    return apply(
        "max", red.max_forward, red.max_backward, [x], axis=axis, keepdims=keepdims
    )


def min(
    x: Operand, axis: Axis = None, keepdims: bool = False, initial: float | None = None
) -> Any:  # noqa: A001
    _no_initial("min", initial)
    return apply(
        "min", red.min_forward, red.min_backward, [x], axis=axis, keepdims=keepdims
    )


amax, amin = max, min


def _no_initial(name: str, initial: float | None) -> None:
    if initial is not None:
        raise ValueError(
            f"{name}: cnnlab does not support `initial`. Received: initial={initial!r}"
        )


def prod(
    x: Operand, axis: Axis = None, keepdims: bool = False, dtype: DType = None
) -> Any:
    return apply(
        "prod", red.prod_forward, red.prod_backward, [x], axis=axis, keepdims=keepdims
    )


def var(x: Operand, axis: Axis = None, keepdims: bool = False) -> Any:
    return apply(
        "var", red.var_forward, red.var_backward, [x], axis=axis, keepdims=keepdims
    )


def std(x: Operand, axis: Axis = None, keepdims: bool = False) -> Any:
    return apply(
        "std", red.std_forward, red.std_backward, [x], axis=axis, keepdims=keepdims
    )


def logsumexp(x: Operand, axis: Axis = None, keepdims: bool = False) -> Any:
    return apply(
        "logsumexp",
        red.logsumexp_forward,
        red.logsumexp_backward,
        [x],
        axis=axis,
        keepdims=keepdims,
    )


def cumsum(x: Operand, axis: Axis = None, dtype: DType = None) -> Any:
    return apply("cumsum", red.cumsum_forward, red.cumsum_backward, [x], axis=axis)


def argmax(x: Operand, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the largest value (the first on ties); no gradient (an index)."""
    return np.argmax(value(x), axis=axis, keepdims=keepdims)


def argmin(x: Operand, axis: int | None = None, keepdims: bool = False) -> Any:
    return np.argmin(value(x), axis=axis, keepdims=keepdims)


def sort(x: Operand, axis: int = -1) -> Any:
    """Values in increasing order. cnnlab has no backward for sorting: a layer whose gradient
    must pass through ``sort`` refuses to train (the tape says so)."""
    return apply(
        "sort", lambda v, axis: (np.sort(v, axis=axis), None), None, [x], axis=axis
    )


# --------------------------------------------------------------------------- shapes and indexing


def reshape(x: Operand, new_shape: int | Sequence[int]) -> Any:
    return apply(
        "reshape", arrays.reshape_forward, arrays.reshape_backward, [x], shape=new_shape
    )


def transpose(x: Operand, axes: Sequence[int] | None = None) -> Any:
    return apply(
        "transpose", arrays.transpose_forward, arrays.transpose_backward, [x], axes=axes
    )


def moveaxis(
    x: Operand, source: int | Sequence[int], destination: int | Sequence[int]
) -> Any:
    order = [
        int(a) for a in np.moveaxis(np.arange(np.ndim(value(x))), source, destination)
    ]
    return transpose(x, order)


def swapaxes(x: Operand, axis1: int, axis2: int) -> Any:
    order = list(range(np.ndim(value(x))))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, order)


def expand_dims(x: Operand, axis: int | Sequence[int]) -> Any:
    return reshape(x, np.expand_dims(value(x), axis).shape)


def squeeze(x: Operand, axis: Axis = None) -> Any:
    v = value(x)
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    if axes is not None and any(v.shape[a] != 1 for a in axes):
        raise ShapeError(
            f"squeeze: axis {axis} has length {[v.shape[a] for a in axes]}, not 1. "
            f"Received: x shape={tuple(v.shape)}, axis={axis}"
        )
    return reshape(x, np.squeeze(v, axis=axes).shape)


def ravel(x: Operand) -> Any:
    return reshape(x, (-1,))


def getitem(x: Operand, key: Any) -> Any:
    """``x[key]``. Index arrays may themselves be recorded values (their values are used)."""
    if isinstance(key, tuple):
        key = tuple(value(k) if isinstance(k, TensorLike) else k for k in key)
    elif isinstance(key, TensorLike):
        key = value(key)
    return apply(
        "getitem", arrays.getitem_forward, arrays.getitem_backward, [x], key=key
    )


def take(x: Operand, indices: Operand, axis: int | None = None) -> Any:
    indices = value(indices)
    if axis is None:
        return getitem(ravel(x), indices)
    return getitem(x, (slice(None),) * (axis % np.ndim(value(x))) + (indices,))


def _concatenate_forward(*xs: Array, axis: int) -> Any:
    return merge.concatenate_forward(list(xs), axis)


def concatenate(xs: Sequence[Operand], axis: int = 0) -> Any:
    """``xs`` joined along an existing ``axis`` (the Concatenate layer's op)."""
    return apply(
        "concatenate",
        _concatenate_forward,
        merge.concatenate_backward,
        list(xs),
        axis=axis,
    )


def stack(x: Sequence[Operand], axis: int = 0) -> Any:
    return apply(
        "stack", arrays.stack_forward, arrays.stack_backward, list(x), axis=axis
    )


def split(
    x: Operand, indices_or_sections: int | Sequence[int], axis: int = 0
) -> list[Any]:
    """Pieces of ``x`` along ``axis``: a number of equal sections or the indices to cut at.
    Each piece is recorded as a slice of ``x``."""
    length = np.shape(value(x))[axis]
    if isinstance(indices_or_sections, (int, numbers.Integral)):  # NumPy's integers too
        if length % indices_or_sections:
            raise ShapeError(
                f"split: an axis of length {length} does not split into {indices_or_sections} "
                f"equal sections. Received: x shape={np.shape(value(x))}, "
                f"indices_or_sections={indices_or_sections}"
            )
        step = length // indices_or_sections
        cuts = list(range(step, length, step))
    else:
        cuts = list(indices_or_sections)
    bounds = [0] + cuts + [length]
    lead = (slice(None),) * (axis % np.ndim(value(x)))
    return [
        getitem(x, lead + (slice(start, stop),))
        for start, stop in zip(bounds, bounds[1:])
    ]


def unstack(x: Operand, num: int | None = None, axis: int = 0) -> list[Any]:
    length = np.shape(value(x))[axis]
    lead = (slice(None),) * (axis % np.ndim(value(x)))
    return [getitem(x, lead + (i,)) for i in range(length)]


def broadcast_to(x: Operand, shape: int | Sequence[int]) -> Any:
    return apply(
        "broadcast_to",
        arrays.broadcast_to_forward,
        arrays.broadcast_to_backward,
        [x],
        shape=shape,
    )


def tile(x: Operand, repeats: int | Sequence[int]) -> Any:
    return apply(
        "tile", arrays.tile_forward, arrays.tile_backward, [x], repeats=repeats
    )


def repeat(x: Operand, repeats: int | Sequence[int], axis: Axis = None) -> Any:
    return apply(
        "repeat",
        arrays.repeat_forward,
        arrays.repeat_backward,
        [x],
        repeats=repeats,
        axis=axis,
    )


def pad(
    x: Operand,
    pad_width: ArrayLike,
    mode: str = "constant",
    constant_values: float | None = None,
) -> Any:
    if mode != "constant":
        raise ValueError(
            f"pad: cnnlab supports mode='constant' only. Received: mode={mode!r}"
        )
    return apply(
        "pad",
        arrays.pad_forward,
        arrays.pad_backward,
        [x],
        pad_width=pad_width,
        constant_values=0 if constant_values is None else constant_values,
    )


def flip(x: Operand, axis: Axis = None) -> Any:
    return apply("flip", arrays.flip_forward, arrays.flip_backward, [x], axis=axis)


# --------------------------------------------------------------------------- creation and conversion


def _dtype(dtype: DType) -> Any:
    return floatx if dtype is None else np.dtype(dtype)


def zeros(shape: int | Sequence[int], dtype: DType = None) -> Any:
    return np.zeros(shape, dtype=_dtype(dtype))


def ones(shape: int | Sequence[int], dtype: DType = None) -> Any:
    return np.ones(shape, dtype=_dtype(dtype))


def full(shape: int | Sequence[int], fill_value: float, dtype: DType = None) -> Any:
    return np.full(shape, value(fill_value), dtype=_dtype(dtype))


def zeros_like(x: Operand, dtype: DType = None) -> Any:
    return np.zeros(np.shape(value(x)), dtype=dtype or value(x).dtype)


def ones_like(x: Operand, dtype: DType = None) -> Any:
    return np.ones(np.shape(value(x)), dtype=dtype or value(x).dtype)


def full_like(x: Operand, fill_value: float, dtype: DType = None) -> Any:
    return np.full(np.shape(value(x)), value(fill_value), dtype=dtype or value(x).dtype)


def eye(N: int, M: int | None = None, k: int = 0, dtype: DType = None) -> Any:  # noqa: N803 (Keras's names)
    return np.eye(N, M, k, dtype=_dtype(dtype))


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: DType = None
) -> Any:
    out = np.arange(start, stop, step)
    return (
        out.astype(dtype)
        if dtype is not None
        else (out.astype(floatx) if out.dtype == np.float64 else out)
    )


def one_hot(
    x: Operand,
    num_classes: int,
    axis: int = -1,
    dtype: DType = None,
    sparse: bool = False,
) -> Any:
    """Integer labels ``(...)`` -> ``(..., num_classes)`` of 0 and 1 (no gradient)."""
    if sparse:
        raise ValueError("one_hot: cnnlab has no sparse tensors. Received: sparse=True")
    labels = np.asarray(value(x)).astype(np.int64)
    out = (labels[..., None] == np.arange(num_classes)).astype(_dtype(dtype))
    return np.moveaxis(out, -1, axis) if axis != -1 else out


def convert_to_tensor(
    x: Operand, dtype: DType = None, sparse: bool | None = None
) -> Any:
    """``x`` as an array (Python floats and float lists become float32, as in Keras); a recorded
    value stays recorded."""
    if isinstance(x, TensorLike):
        return x if dtype is None else cast(x, dtype)
    if dtype is not None:
        return np.asarray(x, dtype=dtype)
    if isinstance(x, float) or (
        isinstance(x, (list, tuple)) and np.asarray(x).dtype == np.float64
    ):
        return np.asarray(x, dtype=floatx)
    return np.asarray(x)


def convert_to_numpy(x: Operand) -> Array:
    """A plain NumPy copy. Inside ``call`` it is detached from the tape: no gradient flows
    back through it (as in Keras)."""
    return np.array(value(x))


def stop_gradient(variable: Operand) -> Any:
    return np.array(value(variable))


def cast(x: Operand, dtype: DType) -> Any:
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        return value(x).astype(dtype)
    return apply("cast", ew.cast_forward, ew.cast_backward, [x], dtype=dtype)


def shape(x: Operand) -> tuple[int, ...]:
    return tuple(np.shape(value(x)))


def ndim(x: Operand) -> int:
    return np.ndim(value(x))


def size(x: Operand) -> int:
    return int(np.size(value(x)))


def equal(x1: Operand, x2: Operand) -> Any:
    return value(x1) == value(x2)


def not_equal(x1: Operand, x2: Operand) -> Any:
    return value(x1) != value(x2)


def greater(x1: Operand, x2: Operand) -> Any:
    return value(x1) > value(x2)


def greater_equal(x1: Operand, x2: Operand) -> Any:
    return value(x1) >= value(x2)


def less(x1: Operand, x2: Operand) -> Any:
    return value(x1) < value(x2)


def less_equal(x1: Operand, x2: Operand) -> Any:
    return value(x1) <= value(x2)


def logical_and(x1: Operand, x2: Operand) -> Any:
    return np.logical_and(value(x1), value(x2))


def logical_or(x1: Operand, x2: Operand) -> Any:
    return np.logical_or(value(x1), value(x2))


def logical_not(x: Operand) -> Any:
    return np.logical_not(value(x))


def isnan(x: Operand) -> Any:
    return np.isnan(value(x))


def isfinite(x: Operand) -> Any:
    return np.isfinite(value(x))


# --------------------------------------------------------------------------- convolution and pooling


def _conv_forward(
    x: Array,
    kernel: Array,
    strides: int | Sequence[int],
    padding: str,
    dilation_rate: int | Sequence[int],
) -> Any:
    y, cache = conv_ops.conv_forward(x, kernel, None, strides, padding, dilation_rate)
    return y, cache


def _conv_backward(dy: Array, cache: Any) -> Any:
    dx, dkernel, _ = conv_ops.conv_backward(dy, cache)
    return dx, dkernel


def _channels_last(where: str, data_format: str | None) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{where}: cnnlab is channels_last only. Received: data_format={data_format!r}"
        )


def conv(
    inputs: Operand,
    kernel: Operand,
    strides: int | Sequence[int] = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: int | Sequence[int] = 1,
) -> Any:
    """N-d convolution: ``inputs (N, *S, C_in)``, ``kernel (*k, C_in, C_out)`` -> ``(N, *out, C_out)``."""
    _channels_last("conv", data_format)
    return apply(
        "conv",
        _conv_forward,
        _conv_backward,
        [inputs, kernel],
        strides=strides,
        padding=padding.lower(),
        dilation_rate=dilation_rate,
    )


def _pool(
    name: str,
    forward: Callable[..., Any],
    backward: Callable[..., Any],
    inputs: Operand,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None,
    padding: str,
    data_format: str | None,
) -> Any:
    _channels_last(name, data_format)
    nd = np.ndim(value(inputs)) - 2
    pool = shapes.normalize_tuple(pool_size, nd, "pool_size")
    strides = (
        None if strides is None else shapes.normalize_tuple(strides, nd, "strides")
    )
    return apply(
        name,
        forward,
        lambda dy, cache: (backward(dy, cache),),
        [inputs],
        pool_size=pool,
        strides=strides,
        padding=padding.lower(),
    )


def max_pool(
    inputs: Operand,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """``inputs (N, *S, C)`` -> the largest value of each window."""
    return _pool(
        "max_pool",
        pool_ops.max_pool_forward,
        pool_ops.max_pool_backward,
        inputs,
        pool_size,
        strides,
        padding,
        data_format,
    )


def average_pool(
    inputs: Operand,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """``inputs (N, *S, C)`` -> the mean of each window (``same`` divides by the real cells)."""
    return _pool(
        "average_pool",
        pool_ops.avg_pool_forward,
        pool_ops.avg_pool_backward,
        inputs,
        pool_size,
        strides,
        padding,
        data_format,
    )
