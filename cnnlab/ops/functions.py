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

import numpy as np

from ..backend import floatx
from ..errors import ShapeError
from . import arrays, merge, shapes
from . import conv as conv_ops
from . import elementwise as ew
from . import pool as pool_ops
from . import reductions as red
from .tape import TensorLike, apply, value


def _unary(name, x, **params):
    return apply(
        name, ew.unary_forward, ew.unary_backward, [x], function=name, **params
    )


# --------------------------------------------------------------------------- arithmetic


def add(x1, x2):
    return apply("add", ew.add_forward, ew.add_backward, [x1, x2])


def subtract(x1, x2):
    return apply("subtract", ew.subtract_forward, ew.subtract_backward, [x1, x2])


def multiply(x1, x2):
    return apply("multiply", ew.multiply_forward, ew.multiply_backward, [x1, x2])


def divide(x1, x2):
    return apply("divide", ew.divide_forward, ew.divide_backward, [x1, x2])


true_divide = divide


def power(x1, x2):
    return apply("power", ew.power_forward, ew.power_backward, [x1, x2])


def maximum(x1, x2):
    return apply("maximum", ew.maximum_forward, ew.maximum_backward, [x1, x2])


def minimum(x1, x2):
    return apply("minimum", ew.minimum_forward, ew.minimum_backward, [x1, x2])


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition``, else ``x2``; with one argument, the indices where it holds."""
    if x1 is None and x2 is None:
        return np.nonzero(value(condition))
    if x1 is None or x2 is None:
        raise ValueError(
            "where: give both x1 and x2, or neither. Received: only one of them"
        )
    return apply("where", ew.where_forward, ew.where_backward, [condition, x1, x2])


def clip(x, x_min, x_max):
    return apply("clip", ew.clip_forward, ew.clip_backward, [x, x_min, x_max])


def matmul(x1, x2):
    return apply("matmul", ew.matmul_forward, ew.matmul_backward, [x1, x2])


def tensordot(x1, x2, axes=2):
    return apply(
        "tensordot", ew.tensordot_forward, ew.tensordot_backward, [x1, x2], axes=axes
    )


def dot(x1, x2):
    """``np.dot``: a number times an array, the inner product of vectors, ``matmul`` for
    matrices, and for N-d the sum over ``x1``'s last axis and ``x2``'s second to last."""
    n1, n2 = np.ndim(value(x1)), np.ndim(value(x2))
    if n1 == 0 or n2 == 0:
        return multiply(x1, x2)
    return tensordot(x1, x2, axes=([n1 - 1], [builtins.max(n2 - 2, 0)]))


def negative(x):
    return _unary("negative", x)


def abs(x):  # noqa: A001 (Keras's name)
    return _unary("abs", x)


absolute = abs


def square(x):
    return _unary("square", x)


def sqrt(x):
    return _unary("sqrt", x)


def exp(x):
    return _unary("exp", x)


def expm1(x):
    return _unary("expm1", x)


def log(x):
    return _unary("log", x)


def log1p(x):
    return _unary("log1p", x)


def reciprocal(x):
    return _unary("reciprocal", x)


def sin(x):
    return _unary("sin", x)


def cos(x):
    return _unary("cos", x)


def sign(x):
    return _unary("sign", x)


def floor(x):
    return _unary("floor", x)


def ceil(x):
    return _unary("ceil", x)


def round(x, decimals=0):  # noqa: A001 (Keras's name)
    if decimals:
        raise ValueError(
            f"round: cnnlab rounds to whole numbers only. Received: decimals={decimals}"
        )
    return _unary("round", x)


# --------------------------------------------------------------------------- activations (keras.ops.nn too)


def relu(x):
    return _unary("relu", x)


def sigmoid(x):
    return _unary("sigmoid", x)


def tanh(x):
    return _unary("tanh", x)


def softplus(x):
    return _unary("softplus", x)


def silu(x):
    return _unary("silu", x)


swish = silu


def elu(x, alpha=1.0):
    return _unary("elu", x, alpha=alpha)


def leaky_relu(x, negative_slope=0.2):
    return _unary("leaky_relu", x, negative_slope=negative_slope)


def softmax(x, axis=-1):
    return _unary("softmax", x, axis=axis)


def log_softmax(x, axis=-1):
    return apply(
        "log_softmax", ew.log_softmax_forward, ew.log_softmax_backward, [x], axis=axis
    )


# --------------------------------------------------------------------------- reductions


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return apply(
        "sum", red.sum_forward, red.sum_backward, [x], axis=axis, keepdims=keepdims
    )


def mean(x, axis=None, keepdims=False):
    return apply(
        "mean", red.mean_forward, red.mean_backward, [x], axis=axis, keepdims=keepdims
    )


def max(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    _no_initial("max", initial)
    return apply(
        "max", red.max_forward, red.max_backward, [x], axis=axis, keepdims=keepdims
    )


def min(x, axis=None, keepdims=False, initial=None):  # noqa: A001
    _no_initial("min", initial)
    return apply(
        "min", red.min_forward, red.min_backward, [x], axis=axis, keepdims=keepdims
    )


amax, amin = max, min


def _no_initial(name, initial):
    if initial is not None:
        raise ValueError(
            f"{name}: cnnlab does not support `initial`. Received: initial={initial!r}"
        )


def prod(x, axis=None, keepdims=False, dtype=None):
    return apply(
        "prod", red.prod_forward, red.prod_backward, [x], axis=axis, keepdims=keepdims
    )


def var(x, axis=None, keepdims=False):
    return apply(
        "var", red.var_forward, red.var_backward, [x], axis=axis, keepdims=keepdims
    )


def std(x, axis=None, keepdims=False):
    return apply(
        "std", red.std_forward, red.std_backward, [x], axis=axis, keepdims=keepdims
    )


def logsumexp(x, axis=None, keepdims=False):
    return apply(
        "logsumexp",
        red.logsumexp_forward,
        red.logsumexp_backward,
        [x],
        axis=axis,
        keepdims=keepdims,
    )


def cumsum(x, axis=None, dtype=None):
    return apply("cumsum", red.cumsum_forward, red.cumsum_backward, [x], axis=axis)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest value (the first on ties); no gradient (an index)."""
    return np.argmax(value(x), axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False):
    return np.argmin(value(x), axis=axis, keepdims=keepdims)


def sort(x, axis=-1):
    """Values in increasing order. cnnlab has no backward for sorting: a layer whose gradient
    must pass through ``sort`` refuses to train (the tape says so)."""
    return apply(
        "sort", lambda v, axis: (np.sort(v, axis=axis), None), None, [x], axis=axis
    )


# --------------------------------------------------------------------------- shapes and indexing


def reshape(x, new_shape):
    return apply(
        "reshape", arrays.reshape_forward, arrays.reshape_backward, [x], shape=new_shape
    )


def transpose(x, axes=None):
    return apply(
        "transpose", arrays.transpose_forward, arrays.transpose_backward, [x], axes=axes
    )


def moveaxis(x, source, destination):
    order = list(np.moveaxis(np.arange(np.ndim(value(x))), source, destination))
    return transpose(x, order)


def swapaxes(x, axis1, axis2):
    order = list(range(np.ndim(value(x))))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, order)


def expand_dims(x, axis):
    return reshape(x, np.expand_dims(value(x), axis).shape)


def squeeze(x, axis=None):
    v = value(x)
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    if axes is not None and any(v.shape[a] != 1 for a in axes):
        raise ShapeError(
            f"squeeze: axis {axis} has length {[v.shape[a] for a in axes]}, not 1. "
            f"Received: x shape={tuple(v.shape)}, axis={axis}"
        )
    return reshape(x, np.squeeze(v, axis=axes).shape)


def ravel(x):
    return reshape(x, (-1,))


def getitem(x, key):
    """``x[key]``. Index arrays may themselves be recorded values (their values are used)."""
    if isinstance(key, tuple):
        key = tuple(value(k) if isinstance(k, TensorLike) else k for k in key)
    elif isinstance(key, TensorLike):
        key = value(key)
    return apply(
        "getitem", arrays.getitem_forward, arrays.getitem_backward, [x], key=key
    )


def take(x, indices, axis=None):
    indices = value(indices)
    if axis is None:
        return getitem(ravel(x), indices)
    return getitem(x, (slice(None),) * (axis % np.ndim(value(x))) + (indices,))


def _concatenate_forward(*xs, axis):
    return merge.concatenate_forward(list(xs), axis)


def concatenate(xs, axis=0):
    """``xs`` joined along an existing ``axis`` (the Concatenate layer's op)."""
    return apply(
        "concatenate",
        _concatenate_forward,
        merge.concatenate_backward,
        list(xs),
        axis=axis,
    )


def stack(x, axis=0):
    return apply(
        "stack", arrays.stack_forward, arrays.stack_backward, list(x), axis=axis
    )


def split(x, indices_or_sections, axis=0):
    """Pieces of ``x`` along ``axis``: a number of equal sections or the indices to cut at.
    Each piece is recorded as a slice of ``x``."""
    length = np.shape(value(x))[axis]
    if isinstance(indices_or_sections, numbers.Integral):
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


def unstack(x, num=None, axis=0):
    length = np.shape(value(x))[axis]
    lead = (slice(None),) * (axis % np.ndim(value(x)))
    return [getitem(x, lead + (i,)) for i in range(length)]


def broadcast_to(x, shape):
    return apply(
        "broadcast_to",
        arrays.broadcast_to_forward,
        arrays.broadcast_to_backward,
        [x],
        shape=shape,
    )


def tile(x, repeats):
    return apply(
        "tile", arrays.tile_forward, arrays.tile_backward, [x], repeats=repeats
    )


def repeat(x, repeats, axis=None):
    return apply(
        "repeat",
        arrays.repeat_forward,
        arrays.repeat_backward,
        [x],
        repeats=repeats,
        axis=axis,
    )


def pad(x, pad_width, mode="constant", constant_values=None):
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


def flip(x, axis=None):
    return apply("flip", arrays.flip_forward, arrays.flip_backward, [x], axis=axis)


# --------------------------------------------------------------------------- creation and conversion


def _dtype(dtype):
    return floatx if dtype is None else np.dtype(dtype)


def zeros(shape, dtype=None):
    return np.zeros(shape, dtype=_dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(shape, dtype=_dtype(dtype))


def full(shape, fill_value, dtype=None):
    return np.full(shape, value(fill_value), dtype=_dtype(dtype))


def zeros_like(x, dtype=None):
    return np.zeros(np.shape(value(x)), dtype=dtype or value(x).dtype)


def ones_like(x, dtype=None):
    return np.ones(np.shape(value(x)), dtype=dtype or value(x).dtype)


def full_like(x, fill_value, dtype=None):
    return np.full(np.shape(value(x)), value(fill_value), dtype=dtype or value(x).dtype)


def eye(N, M=None, k=0, dtype=None):  # noqa: N803 (Keras's names)
    return np.eye(N, M, k, dtype=_dtype(dtype))


def arange(start, stop=None, step=1, dtype=None):
    out = np.arange(start, stop, step)
    return (
        out.astype(dtype)
        if dtype is not None
        else (out.astype(floatx) if out.dtype == np.float64 else out)
    )


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels ``(...)`` -> ``(..., num_classes)`` of 0 and 1 (no gradient)."""
    if sparse:
        raise ValueError("one_hot: cnnlab has no sparse tensors. Received: sparse=True")
    labels = np.asarray(value(x)).astype(np.int64)
    out = (labels[..., None] == np.arange(num_classes)).astype(_dtype(dtype))
    return np.moveaxis(out, -1, axis) if axis != -1 else out


def convert_to_tensor(x, dtype=None, sparse=None):
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


def convert_to_numpy(x):
    """A plain NumPy copy. Inside ``call`` it is detached from the tape: no gradient flows
    back through it (as in Keras)."""
    return np.array(value(x))


def stop_gradient(variable):
    return np.array(value(variable))


def cast(x, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        return value(x).astype(dtype)
    return apply("cast", ew.cast_forward, ew.cast_backward, [x], dtype=dtype)


def shape(x):
    return tuple(np.shape(value(x)))


def ndim(x):
    return np.ndim(value(x))


def size(x):
    return int(np.size(value(x)))


def equal(x1, x2):
    return value(x1) == value(x2)


def not_equal(x1, x2):
    return value(x1) != value(x2)


def greater(x1, x2):
    return value(x1) > value(x2)


def greater_equal(x1, x2):
    return value(x1) >= value(x2)


def less(x1, x2):
    return value(x1) < value(x2)


def less_equal(x1, x2):
    return value(x1) <= value(x2)


def logical_and(x1, x2):
    return np.logical_and(value(x1), value(x2))


def logical_or(x1, x2):
    return np.logical_or(value(x1), value(x2))


def logical_not(x):
    return np.logical_not(value(x))


def isnan(x):
    return np.isnan(value(x))


def isfinite(x):
    return np.isfinite(value(x))


# --------------------------------------------------------------------------- convolution and pooling


def _conv_forward(x, kernel, strides, padding, dilation_rate):
    y, cache = conv_ops.conv_forward(x, kernel, None, strides, padding, dilation_rate)
    return y, cache


def _conv_backward(dy, cache):
    dx, dkernel, _ = conv_ops.conv_backward(dy, cache)
    return dx, dkernel


def _channels_last(where, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{where}: cnnlab is channels_last only. Received: data_format={data_format!r}"
        )


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
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


def _pool(name, forward, backward, inputs, pool_size, strides, padding, data_format):
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


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
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


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
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
