"""``keras.activations``: the functions, with Keras's defaults (``leaky_relu`` slope 0.2,
``gelu`` exact unless ``approximate=True``)."""
from ..ops.activations import (elu, exponential, gelu, hard_sigmoid, hard_silu, leaky_relu, linear,  # noqa: F401
                               log_softmax, mish, relu, relu6, selu, sigmoid, silu, softmax, softplus, softsign,
                               tanh)
from ..ops.activations import ACTIVATIONS
from ..registry import lookup

swish = silu
hard_swish = hard_silu


def get(identifier):
    """``keras.activations.get``: None is ``linear``; a name is exact, as in Keras; a function is returned."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    return lookup("activation", identifier, ACTIVATIONS, "activation")[0]
