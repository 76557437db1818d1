"""Element-wise arithmetic and math functions, forward beside backward.

Every op is a pair: ``name_forward(*inputs, **params) -> (y, cache)`` and
``name_backward(dy, cache) -> (d input, ...)``, one gradient per input (``None``
for an input that is a plain Python number: a constant never needs one).

Inputs broadcast as NumPy broadcasts them (``x (N, 3) + b (3,)``), so every
backward sums its gradient back down to its input's shape
(:func:`unbroadcast`). Python numbers stay Python numbers, which keeps a
float32 array float32 (``x * 2`` is float32; ``x * np.float64(2)`` would not be).

These are the ops behind ``keras.ops`` (``cnnlab.ops.functions``) and the
operators of the arrays a custom layer's ``call`` receives (``cnnlab.ops.tape``).
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

from ..backend import Array, xp
from . import activations as act
from .arrays import inverse_permutation
from .merge import unbroadcast

#: An operand: an array or a Python number (which gets no gradient).
Operand = Array | float
#: What a backward needs, as its forward returns it.
Cache = tuple[Any, ...]
#: One gradient per operand (None for a Python number).
Grads = tuple[Array | None, ...]


def _is_number(a: object) -> bool:
    """A Python number (not a NumPy scalar, which may be a recorded 0-d result)."""
    return isinstance(a, (int, float, complex))


def _grad_for(a: Operand, grad: Array) -> Array | None:
    """The gradient for input ``a``: None for a Python number, else summed to ``a``'s shape."""
    return None if _is_number(a) else unbroadcast(grad, xp.shape(a))


# --------------------------------------------------------------------------- binary


def add_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    """``a + b`` (broadcasting) -> ``(y, cache)``."""
    return a + b, (a, b)


def add_backward(dy: Array, cache: Cache) -> Grads:
    a, b = cache
    return _grad_for(a, dy), _grad_for(b, dy)


def subtract_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    return a - b, (a, b)


def subtract_backward(dy: Array, cache: Cache) -> Grads:
    a, b = cache
    return _grad_for(a, dy), (None if _is_number(b) else unbroadcast(-dy, xp.shape(b)))


def multiply_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    return a * b, (a, b)


def multiply_backward(dy: Array, cache: Cache) -> Grads:
    a, b = cache
    return (
        None if _is_number(a) else unbroadcast(dy * b, xp.shape(a)),
        None if _is_number(b) else unbroadcast(dy * a, xp.shape(b)),
    )


def divide_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    """``a / b`` (true division)."""
    y = a / b
    return y, (a, b, y)


def divide_backward(dy: Array, cache: Cache) -> Grads:
    a, b, y = cache
    da = dy / b
    return (
        None if _is_number(a) else unbroadcast(da, xp.shape(a)),
        None if _is_number(b) else unbroadcast(-da * y, xp.shape(b)),
    )


def power_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    """``a ** b``."""
    y = a**b
    return y, (a, b, y)


def power_backward(dy: Array, cache: Cache) -> Grads:
    """``d/da = b a^(b-1)``; ``d/db = a^b ln a``, taken as 0 where ``a = 0`` and ``b >= 0``
    (PyTorch's convention: ``0^b`` is flat in ``b`` there)."""
    a, b, y = cache
    da = None if _is_number(a) else unbroadcast(dy * b * a ** (b - 1), xp.shape(a))
    db = None
    if not _is_number(b):
        with xp.errstate(divide="ignore", invalid="ignore"):
            slope = xp.where((a == 0) & (b >= 0), 0, y * xp.log(a))
        db = unbroadcast(dy * slope.astype(dy.dtype, copy=False), xp.shape(b))
    return da, db


def maximum_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    """Element-wise larger value. A tie sends half the gradient each way (as PyTorch)."""
    y = xp.maximum(a, b)
    return y, (a, b)


def _pick_backward(dy: Array, cache: Cache, first_wins: Array) -> Grads:
    a, b = cache
    share = xp.where(first_wins, dy.dtype.type(1), dy.dtype.type(0))
    share = xp.where(a == b, dy.dtype.type(0.5), share)
    return (
        None if _is_number(a) else unbroadcast(dy * share, xp.shape(a)),
        None if _is_number(b) else unbroadcast(dy * (1 - share), xp.shape(b)),
    )


def maximum_backward(dy: Array, cache: Cache) -> Grads:
    a, b = cache
    return _pick_backward(dy, cache, a > b)


def minimum_forward(a: Operand, b: Operand) -> tuple[Array | float, Cache]:
    y = xp.minimum(a, b)
    return y, (a, b)


def minimum_backward(dy: Array, cache: Cache) -> Grads:
    a, b = cache
    return _pick_backward(dy, cache, a < b)


def where_forward(condition: Array, a: Operand, b: Operand) -> tuple[Array, Cache]:
    """``a`` where ``condition`` holds, else ``b``. ``condition`` gets no gradient."""
    condition = xp.asarray(condition, dtype=bool)
    return xp.where(condition, a, b), (condition, a, b)


def where_backward(dy: Array, cache: Cache) -> Grads:
    condition, a, b = cache
    zero = dy.dtype.type(0)
    return (
        None,
        None
        if _is_number(a)
        else unbroadcast(xp.where(condition, dy, zero), xp.shape(a)),
        None
        if _is_number(b)
        else unbroadcast(xp.where(condition, zero, dy), xp.shape(b)),
    )


def clip_forward(
    x: Array, x_min: Operand | None, x_max: Operand | None
) -> tuple[Array, Cache]:
    """``x`` limited to ``[x_min, x_max]``; the gradient passes where ``x_min <= x <= x_max``."""
    return xp.clip(x, x_min, x_max), (x, x_min, x_max)


def clip_backward(dy: Array, cache: Cache) -> Grads:
    x, x_min, x_max = cache
    inside = (x >= x_min) & (x <= x_max)
    return xp.where(inside, dy, dy.dtype.type(0)), None, None


# --------------------------------------------------------------------------- unary
# One table: name -> (f(x), df(dy, x, y)). The backward may read the input x or
# the output y, whichever is cheaper (exp reads y, log reads x).


def _zero_gradient(dy: Array, x: Array, y: Array) -> Array:
    """Piecewise-constant functions (sign, floor, round): the gradient is 0 almost everywhere."""
    return xp.zeros_like(dy)


UNARY: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "negative": (xp.negative, lambda dy, x, y: -dy),
    "abs": (xp.abs, lambda dy, x, y: dy * xp.sign(x)),
    "square": (xp.square, lambda dy, x, y: dy * (x + x)),
    "sqrt": (xp.sqrt, lambda dy, x, y: dy / (y + y)),
    "exp": (xp.exp, lambda dy, x, y: dy * y),
    "expm1": (xp.expm1, lambda dy, x, y: dy * (y + 1)),
    "log": (xp.log, lambda dy, x, y: dy / x),
    "log1p": (xp.log1p, lambda dy, x, y: dy / (x + 1)),
    "reciprocal": (xp.reciprocal, lambda dy, x, y: -dy * y * y),
    "sin": (xp.sin, lambda dy, x, y: dy * xp.cos(x)),
    "cos": (xp.cos, lambda dy, x, y: -dy * xp.sin(x)),
    "sign": (xp.sign, _zero_gradient),
    "floor": (xp.floor, _zero_gradient),
    "ceil": (xp.ceil, _zero_gradient),
    "round": (xp.round, _zero_gradient),
    **{name: pair for name, pair in act.ACTIVATIONS.items() if name != "linear"},
}


def unary_forward(x: Array, function: str, **params: Any) -> tuple[Array, Cache]:
    """``UNARY[function]`` applied to ``x`` -> ``(y, cache)``; ``params`` go to the function
    (``negative_slope`` of leaky_relu, ``axis`` of softmax)."""
    f, df = UNARY[function]
    y = f(x, **params)
    return y, (df, x, y, params)


def unary_backward(dy: Array, cache: Cache) -> Grads:
    df, x, y, params = cache
    return (df(dy, x, y, **params),)


def log_softmax_forward(x: Array, axis: int = -1) -> tuple[Array, Cache]:
    """``x - logsumexp(x)`` along ``axis``, shifted by the max so it never overflows."""
    shifted = x - x.max(axis=axis, keepdims=True)
    y = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return y, (y, axis)


def log_softmax_backward(dy: Array, cache: Cache) -> Grads:
    """``dx = dy - softmax(x) * sum(dy)``."""
    y, axis = cache
    return (dy - xp.exp(y) * dy.sum(axis=axis, keepdims=True),)


# --------------------------------------------------------------------------- products


def matmul_forward(a: Array, b: Array) -> tuple[Array, Cache]:
    """``a @ b`` with NumPy's rules: 1-D operands are a row / a column, leading axes broadcast.
    ``a (..., n, k)``, ``b (..., k, m)`` -> ``(..., n, m)``."""
    return xp.matmul(a, b), (a, b)


def matmul_backward(dy: Array, cache: Cache) -> Grads:
    """``da = dy @ bᵀ``, ``db = aᵀ @ dy``, summed over broadcast batch axes."""
    a, b = cache
    if a.ndim == 1 and b.ndim == 1:  # the inner product of two vectors
        return dy * b, dy * a
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    dy2 = dy
    if a.ndim == 1:
        dy2 = xp.expand_dims(dy2, -2)
    if b.ndim == 1:
        dy2 = xp.expand_dims(dy2, -1)
    da = unbroadcast(dy2 @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    db = unbroadcast(xp.swapaxes(a2, -1, -2) @ dy2, b2.shape).reshape(b.shape)
    return da, db


def tensordot_forward(
    a: Array, b: Array, axes: int | Sequence[Any] = 2
) -> tuple[Array, Cache]:
    """``np.tensordot``: sum over ``axes`` of ``a`` against ``axes`` of ``b``;
    ``y`` has ``a``'s free axes, then ``b``'s."""
    axes_a, axes_b = _tensordot_axes(a.ndim, b.ndim, axes)
    return xp.tensordot(a, b, axes=(axes_a, axes_b)), (a, b, axes_a, axes_b)


def _tensordot_axes(ndim_a: int, ndim_b: int, axes: Any) -> tuple[list[int], list[int]]:
    """``axes`` (an int, or a pair of ints or of sequences of ints) as two lists of axes."""
    if isinstance(axes, numbers.Integral):
        k = int(axes)
        return list(range(ndim_a - k, ndim_a)), list(range(k))
    axes_a, axes_b = axes
    axes_a = [axes_a] if isinstance(axes_a, numbers.Integral) else list(axes_a)
    axes_b = [axes_b] if isinstance(axes_b, numbers.Integral) else list(axes_b)
    return [i % ndim_a for i in axes_a], [i % ndim_b for i in axes_b]


def tensordot_backward(dy: Array, cache: Cache) -> Grads:
    """Each input's gradient is ``dy`` contracted with the other input over the other's free
    axes, then put back in the input's axis order."""
    a, b, axes_a, axes_b = cache
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    dy_a = list(range(len(free_a)))  # dy's axes that come from a
    dy_b = list(range(len(free_a), dy.ndim))  # and from b
    # tensordot leaves the uncontracted axes in their own order: a's summed axes come back in the
    # order of their partners in b, and the other way round.
    da = xp.tensordot(dy, b, axes=(dy_b, free_b))
    da = xp.transpose(
        da,
        inverse_permutation(free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]),
    )
    db = xp.tensordot(a, dy, axes=(free_a, dy_a))
    db = xp.transpose(
        db,
        inverse_permutation([axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b),
    )
    return da, db


def cast_forward(x: Array, dtype: Any) -> tuple[Array, Any]:
    """``x`` as ``dtype``; the gradient comes back in ``x``'s dtype."""
    return x.astype(dtype), x.dtype


def cast_backward(dy: Array, dtype: Any) -> Grads:
    return (dy.astype(dtype),)
