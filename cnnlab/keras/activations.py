"""``keras.activations``: the functions, with Keras's defaults (``leaky_relu`` slope 0.2)."""
from ..ops.activations import elu, leaky_relu, linear, relu, sigmoid, silu, softmax, softplus, tanh  # noqa: F401
from ..ops.activations import ACTIVATIONS
from ..registry import lookup

swish = silu


def get(identifier):
    """``keras.activations.get``: None is ``linear``; a name is exact, as in Keras; a function is returned."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return lookup("activation", identifier, ACTIVATIONS, "activation")[0]
