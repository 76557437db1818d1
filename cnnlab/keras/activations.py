"""``keras.activations``: the functions, with Keras's defaults (``leaky_relu`` slope 0.2)."""
from ..ops.activations import elu, leaky_relu, linear, relu, sigmoid, silu, softmax, softplus, tanh  # noqa: F401
from ..ops.activations import get as _get

swish = silu


def get(identifier):
    return _get(identifier)[0]
