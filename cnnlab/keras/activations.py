"""``keras.activations``: the functions, with Keras's defaults (``leaky_relu`` slope 0.2,
``gelu`` exact unless ``approximate=True``).

Each function works on plain arrays, and inside a custom layer's ``call()`` that is being
recorded it records itself on the tape (``cnnlab.ops.tape``), so that ``keras.activations.relu(x)``
trains there as ``keras.ops.relu(x)`` does (keras-io's subclassing guide writes the former).
``Dense(activation=keras.activations.relu)`` still knows the function by its name.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from ..ops import activations as act_ops
from ..ops import functions as tape_functions
from ..ops import tape
from ..ops.activations import ACTIVATIONS
from ..registry import lookup


def _recordable(name: str) -> Callable[..., Any]:
    forward = ACTIVATIONS[name][0]
    signature = inspect.signature(forward)

    @functools.wraps(forward)
    def activation(x: Any, *args: Any, **kwargs: Any) -> Any:
        if not tape.is_recorded(x):
            return forward(x, *args, **kwargs)
        bound = signature.bind(x, *args, **kwargs)
        bound.apply_defaults()
        params = dict(list(bound.arguments.items())[1:])
        op = name
        if (
            name == "relu"
        ):  # Keras's options of relu are relu_general's (its backward takes them)
            op = (
                "relu"
                if params
                == {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}
                else "relu_general"
            )
            params = {} if op == "relu" else params
        return tape_functions._unary(op, x, **params)

    # how layers recognise it (cnnlab.layers.base); a function attribute mypy cannot know of
    activation.cnnlab_activation = name  # type: ignore[attr-defined]
    return activation


_NAMES = (
    "elu",
    "exponential",
    "gelu",
    "hard_sigmoid",
    "hard_silu",
    "leaky_relu",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "tanh",
)
globals().update({n: _recordable(n) for n in _NAMES})
swish = globals()["silu"]
hard_swish = globals()["hard_silu"]
linear = act_ops.linear  # the identity: nothing to record

__all__ = [*_NAMES, "linear", "swish", "hard_swish", "get"]


def get(identifier: str | Callable[..., Any] | None) -> Callable[..., Any]:
    """``keras.activations.get``: None is ``linear``; a name is exact, as in Keras; a function is returned."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    name = identifier if identifier in ACTIVATIONS else None
    forward = lookup("activation", identifier, ACTIVATIONS, "activation")[
        0
    ]  # Keras's exact-name rule
    return globals().get(name, forward) if name not in (None, "linear") else forward
