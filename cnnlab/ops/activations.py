"""Activation functions and their derivatives.

Each activation is a pair: ``f(x) -> y`` and ``f_backward(dy, x, y) -> dx``
(the backward may use the input ``x`` or the output ``y``, whichever is
cheaper). All keep the input's shape and dtype.

Seed 002 uses Leaky ReLU with slope 0.01; Keras's function
``leaky_relu`` defaults to 0.2 and the ``LeakyReLU`` layer to 0.3.
"""

from __future__ import annotations

from typing import Callable

from numpy.typing import ArrayLike

from ..backend import Array, xp


def linear(x: Array) -> Array:
    return x


def linear_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy


def relu(
    x: Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> Array:
    """max(0, x); with Keras's options (``keras.activations.relu``), as :func:`relu_general`."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return xp.maximum(x, 0)
    return relu_general(x, negative_slope, max_value, threshold)


def relu_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * (y > 0)


def leaky_relu(x: Array, negative_slope: float = 0.2) -> Array:
    """x for x > 0, ``negative_slope * x`` otherwise."""
    return xp.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(
    dy: Array, x: Array, y: Array, negative_slope: float = 0.2
) -> Array:
    return xp.where(x > 0, dy, dy * dy.dtype.type(negative_slope))


def sigmoid(x: Array) -> Array:
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * y * (1 - y)


def tanh(x: Array) -> Array:
    return xp.tanh(x)


def tanh_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * (1 - y * y)


def softmax(x: Array, axis: int = -1) -> Array:
    """e^x / sum(e^x) along ``axis``, shifted by the max so it never overflows."""
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dy: Array, x: Array, y: Array, axis: int = -1) -> Array:
    """The full Jacobian-vector product: ``dx = y * (dy - sum(dy * y))``."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def elu(x: Array, alpha: float = 1.0) -> Array:
    return xp.where(x > 0, x, x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0)))


def elu_backward(dy: Array, x: Array, y: Array, alpha: float = 1.0) -> Array:
    return xp.where(x > 0, dy, dy * (y + x.dtype.type(alpha)))


def softplus(x: Array) -> Array:
    """log(1 + e^x), stable for large |x|."""
    return xp.logaddexp(x, x.dtype.type(0))


def softplus_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * sigmoid(x)


def silu(x: Array) -> Array:
    """x * sigmoid(x) (Keras calls it ``swish`` too)."""
    return x * sigmoid(x)


def silu_backward(dy: Array, x: Array, y: Array) -> Array:
    s = sigmoid(x)
    return dy * (s * (1 + x * (1 - s)))


def relu_general(
    x: Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> Array:
    """Keras's full ReLU, computed as Keras computes it: a positive part
    ``x * (x > threshold)``, clipped to ``[0, max_value]`` when ``max_value`` is
    given, minus ``negative_slope * relu(threshold - x)``. So below the threshold
    the output is ``negative_slope * (x - threshold)``; ``x == threshold`` gives 0;
    and with a negative threshold and a ``max_value``, inputs between the threshold
    and 0 give 0 (the clip's lower end)."""
    t = x.dtype.type(threshold)
    positive = xp.where(x > t, x, x.dtype.type(0))
    if max_value is not None:
        positive = xp.clip(positive, x.dtype.type(0), x.dtype.type(max_value))
    if negative_slope == 0:
        return positive
    return positive + x.dtype.type(negative_slope) * xp.minimum(x - t, x.dtype.type(0))


def relu_general_backward(
    dy: Array,
    x: Array,
    y: Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> Array:
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    through = x > x.dtype.type(threshold)
    if max_value is not None:
        through &= (x > 0) & (x < x.dtype.type(max_value))
    slope = xp.where(through, one, zero)
    if negative_slope != 0:
        slope = slope + xp.where(
            x < x.dtype.type(threshold), dy.dtype.type(negative_slope), zero
        )
    return dy * slope


# ---- more of Keras's activations ---------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Array) -> Array:
    """``scale * elu(x, alpha)`` with Klambauer et al.'s constants (Keras's and PyTorch's)."""
    return x.dtype.type(SELU_SCALE) * elu(x, SELU_ALPHA)


def selu_backward(dy: Array, x: Array, y: Array) -> Array:
    return xp.where(
        x > 0,
        dy * dy.dtype.type(SELU_SCALE),
        dy * (y + dy.dtype.type(SELU_SCALE * SELU_ALPHA)),
    )


def relu6(x: Array) -> Array:
    """min(max(x, 0), 6)."""
    return xp.clip(x, x.dtype.type(0), x.dtype.type(6))


def relu6_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * ((x > 0) & (x < 6))


def hard_sigmoid(x: Array) -> Array:
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, a straight line between (Keras 3's definition)."""
    return relu6(x + x.dtype.type(3)) / x.dtype.type(6)


def hard_sigmoid_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * ((x > -3) & (x < 3)) / dy.dtype.type(6)


def hard_silu(x: Array) -> Array:
    """``x * hard_sigmoid(x)`` (Keras also calls it ``hard_swish``)."""
    return x * hard_sigmoid(x)


def hard_silu_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * (hard_sigmoid(x) + x * ((x > -3) & (x < 3)) / x.dtype.type(6))


def softsign(x: Array) -> Array:
    """x / (|x| + 1)."""
    return x / (xp.abs(x) + x.dtype.type(1))


def softsign_backward(dy: Array, x: Array, y: Array) -> Array:
    d = xp.abs(x) + x.dtype.type(1)
    return dy / (d * d)


def mish(x: Array) -> Array:
    """``x * tanh(softplus(x))`` (Misra 2019)."""
    return x * xp.tanh(softplus(x))


def mish_backward(dy: Array, x: Array, y: Array) -> Array:
    t = xp.tanh(softplus(x))
    return dy * (t + x * (1 - t * t) * sigmoid(x))


def exponential(x: Array) -> Array:
    return xp.exp(x)


def exponential_backward(dy: Array, x: Array, y: Array) -> Array:
    return dy * y


def log_softmax(x: Array, axis: int = -1) -> Array:
    """``x - log(sum(e^x))`` along ``axis``, shifted by the max so it never overflows."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(dy: Array, x: Array, y: Array, axis: int = -1) -> Array:
    return dy - xp.exp(y) * dy.sum(axis=axis, keepdims=True)


# W. J. Cody's rational Chebyshev approximations of erf/erfc (Math. Comp. 23, 1969), accurate to
# about 1e-16 in float64: NumPy has no erf, and the exact GELU needs one (computed in float64).
_ERF_A = (
    3.16112374387056560e0,
    1.13864154151050156e2,
    3.77485237685302021e2,
    3.20937758913846947e3,
    1.85777706184603153e-1,
)
_ERF_B = (
    2.36012909523441209e1,
    2.44024637934444173e2,
    1.28261652607737228e3,
    2.84423683343917062e3,
)
_ERF_C = (
    5.64188496988670089e-1,
    8.88314979438837594e0,
    6.61191906371416295e1,
    2.98635138197400131e2,
    8.81952221241769090e2,
    1.71204761263407058e3,
    2.05107837782607147e3,
    1.23033935479799725e3,
    2.15311535474403846e-8,
)
_ERF_D = (
    1.57449261107098347e1,
    1.17693950891312499e2,
    5.37181101862009858e2,
    1.62138957456669019e3,
    3.29079923573345963e3,
    4.36261909014324716e3,
    3.43936767414372164e3,
    1.23033935480374942e3,
)
_ERF_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_ERF_Q = (
    2.56852019228982242e0,
    1.87295284992346047e0,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)
_INV_SQRT_PI = 5.6418958354775628695e-1


def erf(x: ArrayLike) -> Array:
    """The error function, elementwise, in float64 (``x`` of any float dtype)."""
    x = xp.asarray(x, dtype=xp.float64)
    with xp.errstate(
        divide="ignore", invalid="ignore", over="ignore"
    ):  # inf and 0 pick another branch
        return _erf(x)


def _erf(x: Array) -> Array:
    y = xp.abs(x)
    # |x| <= 0.46875: erf directly
    z = y * y
    num, den = _ERF_A[4] * z, z
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num, den = (num + a) * z, (den + b) * z
    small = x * (num + _ERF_A[3]) / (den + _ERF_B[3])
    # 0.46875 < |x| <= 4: erfc(y) * exp(y^2) as a rational function of y
    num, den = _ERF_C[8] * y, y
    for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
        num, den = (num + c) * y, (den + d) * y
    middle = (num + _ERF_C[7]) / (den + _ERF_D[7])
    # |x| > 4: the asymptotic series in 1 / y^2
    w = 1.0 / z
    num, den = _ERF_P[5] * w, w
    for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
        num, den = (num + p) * w, (den + q) * w
    large = (_INV_SQRT_PI - w * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / y
    erfc = xp.exp(-z) * xp.where(y <= 4.0, middle, large)
    return xp.where(y <= 0.46875, small, xp.sign(x) * (1.0 - erfc))


_SQRT_2_OVER_PI = 0.7978845608028654
_INV_SQRT_2PI = 0.3989422804014327


def gelu(x: Array, approximate: bool = False) -> Array:
    """Gaussian error linear unit ``x * Phi(x)``: the exact form
    ``0.5 x (1 + erf(x / sqrt 2))`` by default (Keras 3's default), or with
    ``approximate=True`` the tanh form ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    if approximate:
        inner = x.dtype.type(_SQRT_2_OVER_PI) * (x + x.dtype.type(0.044715) * x * x * x)
        return x.dtype.type(0.5) * x * (1 + xp.tanh(inner))
    return (0.5 * x * (1.0 + erf(x / 2**0.5))).astype(x.dtype, copy=False)


def gelu_backward(dy: Array, x: Array, y: Array, approximate: bool = False) -> Array:
    if approximate:
        inner = x.dtype.type(_SQRT_2_OVER_PI) * (x + x.dtype.type(0.044715) * x * x * x)
        t = xp.tanh(inner)
        d_inner = x.dtype.type(_SQRT_2_OVER_PI) * (
            1 + x.dtype.type(3 * 0.044715) * x * x
        )
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
    x64 = x.astype(xp.float64, copy=False)
    phi = 0.5 * (1.0 + erf(x64 / 2**0.5)) + x64 * _INV_SQRT_2PI * xp.exp(
        -0.5 * x64 * x64
    )
    return (dy * phi).astype(dy.dtype, copy=False)


def prelu_forward(x: Array, alpha: Array) -> tuple[Array, Array]:
    """Parametric ReLU: ``x`` for ``x > 0``, ``alpha * x`` otherwise; ``alpha`` broadcasts
    against one sample (``x (N, *shape)``, ``alpha`` of ``shape`` with 1 on shared axes)."""
    return xp.where(x > 0, x, alpha * x), x


def prelu_backward(dy: Array, x: Array, alpha: Array) -> tuple[Array, Array]:
    """``(dx, dalpha)``: ``dalpha`` sums ``dy * x`` over the negative cells, over the batch and
    the shared axes (where ``alpha`` has size 1)."""
    dx = xp.where(x > 0, dy, dy * alpha)
    contribution = dy * xp.minimum(x, 0)
    axes = (0,) + tuple(
        i + 1 for i, n in enumerate(alpha.shape) if n == 1 and x.shape[i + 1] != 1
    )
    dalpha = contribution.sum(axis=axes, keepdims=True)[0]
    return dx, dalpha.reshape(alpha.shape)


#: name -> (forward, backward). Keras's names, with its aliases.
ACTIVATIONS = {
    "linear": (linear, linear_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "softmax": (softmax, softmax_backward),
    "elu": (elu, elu_backward),
    "softplus": (softplus, softplus_backward),
    "silu": (silu, silu_backward),
    "swish": (silu, silu_backward),
    "relu_general": (relu_general, relu_general_backward),
    "gelu": (gelu, gelu_backward),
    "selu": (selu, selu_backward),
    "relu6": (relu6, relu6_backward),
    "hard_sigmoid": (hard_sigmoid, hard_sigmoid_backward),
    "hard_silu": (hard_silu, hard_silu_backward),
    "hard_swish": (hard_silu, hard_silu_backward),
    "softsign": (softsign, softsign_backward),
    "mish": (mish, mish_backward),
    "log_softmax": (log_softmax, log_softmax_backward),
    "exponential": (exponential, exponential_backward),
}


#: Activations that never decrease: max pooling commutes with them, so a model
#: may pool first and activate the (4x smaller) pooled map instead.
NON_DECREASING = {
    "linear",
    "relu",
    "sigmoid",
    "tanh",
    "softplus",
    "elu",
    "selu",
    "relu6",
    "hard_sigmoid",
    "softsign",
    "exponential",
}


def is_non_decreasing(name: str, kwargs: dict) -> bool:
    """True when the activation ``name`` with arguments ``kwargs`` never decreases (a leaky or
    general ReLU too, unless its negative slope is negative)."""
    slope = kwargs.get("negative_slope", 0.0)
    return name in NON_DECREASING or (
        name in ("leaky_relu", "relu_general") and slope >= 0
    )


def get(name: str | None) -> tuple[Callable[..., Array], Callable[..., Array]]:
    """``(forward, backward)`` for an activation name; ``None`` means linear.

    This is the op table for cnnlab's own code (layers store their activation's name, the
    explain trace reads it back), so it accepts any case. What a user or a file names goes
    through Keras's exact rule first (``cnnlab.registry``; ``Layer(activation=...)``,
    ``keras.activations.get``)."""
    from ..registry import lookup

    return lookup(
        "activation", "linear" if name is None else str(name).lower(), ACTIVATIONS
    )
