"""Activation functions and their derivatives.

Each activation is a pair: ``f(x) -> y`` and ``f_backward(dy, x, y) -> dx``
(the backward may use the input ``x`` or the output ``y``, whichever is
cheaper). All keep the input's shape and dtype.

Seed 002 uses Leaky ReLU with slope 0.01; Keras's function
``leaky_relu`` defaults to 0.2 and the ``LeakyReLU`` layer to 0.3.
"""
from __future__ import annotations

from ..backend import xp


def linear(x):
    return x


def linear_backward(dy, x, y):
    return dy


def relu(x):
    """max(0, x)."""
    return xp.maximum(x, 0)


def relu_backward(dy, x, y):
    return dy * (y > 0)


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, ``negative_slope * x`` otherwise."""
    return xp.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(dy, x, y, negative_slope=0.2):
    return xp.where(x > 0, dy, dy * dy.dtype.type(negative_slope))


def sigmoid(x):
    """1 / (1 + e^-x), computed without overflow for large |x|."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dy, x, y):
    return dy * y * (1 - y)


def tanh(x):
    return xp.tanh(x)


def tanh_backward(dy, x, y):
    return dy * (1 - y * y)


def softmax(x, axis=-1):
    """e^x / sum(e^x) along ``axis``, shifted by the max so it never overflows."""
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(dy, x, y, axis=-1):
    """The full Jacobian-vector product: ``dx = y * (dy - sum(dy * y))``."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    return xp.where(x > 0, x, x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0)))


def elu_backward(dy, x, y, alpha=1.0):
    return xp.where(x > 0, dy, dy * (y + x.dtype.type(alpha)))


def softplus(x):
    """log(1 + e^x), stable for large |x|."""
    return xp.logaddexp(x, x.dtype.type(0))


def softplus_backward(dy, x, y):
    return dy * sigmoid(x)


def silu(x):
    """x * sigmoid(x) (Keras calls it ``swish`` too)."""
    return x * sigmoid(x)


def silu_backward(dy, x, y):
    s = sigmoid(x)
    return dy * (s * (1 + x * (1 - s)))


def relu_general(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's full ReLU: ``x`` above ``threshold``, capped at ``max_value``;
    at or below the threshold ``negative_slope * (x - threshold)`` (so
    ``x == threshold`` gives 0, as Keras computes ``x * (x > threshold)``)."""
    t = x.dtype.type(threshold)
    y = xp.where(x > t, x, x.dtype.type(negative_slope) * (x - t))
    return y if max_value is None else xp.minimum(y, x.dtype.type(max_value))


def relu_general_backward(dy, x, y, negative_slope=0.0, max_value=None, threshold=0.0):
    slope = xp.where(x > x.dtype.type(threshold), dy.dtype.type(1), dy.dtype.type(negative_slope))
    if max_value is not None:
        slope = xp.where(x >= x.dtype.type(max_value), dy.dtype.type(0), slope)
    return dy * slope


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
}


#: Activations that never decrease: max pooling commutes with them, so a model
#: may pool first and activate the (4x smaller) pooled map instead.
NON_DECREASING = {"linear", "relu", "sigmoid", "tanh", "softplus", "elu"}


def get(name):
    """``(forward, backward)`` for an activation name; ``None`` means linear.

    This is the op table for cnnlab's own code (layers store their activation's name, the
    explain trace reads it back), so it accepts any case. What a user or a file names goes
    through Keras's exact rule first (``cnnlab.registry``; ``Layer(activation=...)``,
    ``keras.activations.get``)."""
    from ..registry import lookup
    return lookup("activation", "linear" if name is None else str(name).lower(), ACTIVATIONS)
