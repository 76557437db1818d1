"""``keras.activations``: the functions, with Keras's defaults (``leaky_relu`` slope 0.2,
``gelu`` exact unless ``approximate=True``)."""
from ..ops.activations import (elu, exponential, gelu, hard_sigmoid, hard_silu, leaky_relu, linear,  # noqa: F401
                               log_softmax, mish, relu6, selu, sigmoid, silu, softmax, softplus, softsign, tanh)
from ..ops.activations import ACTIVATIONS
from ..ops.activations import relu as _relu
from ..ops.activations import relu_general as _relu_general
from ..registry import lookup

swish = silu
hard_swish = hard_silu


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's ``relu``: plain ``max(x, 0)`` by default, else as the ``ReLU`` layer computes it."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return _relu(x)
    return _relu_general(x, negative_slope, max_value, threshold)


def get(identifier):
    """``keras.activations.get``: None is ``linear``; a name is exact, as in Keras; a function is returned."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return lookup("activation", identifier, ACTIVATIONS, "activation")[0]
