"""Dense, Flatten, Reshape, Dropout, the activation layers, and the input."""

from __future__ import annotations

import math

from .. import random as cnn_random
from ..backend import floatx
from ..errors import ShapeError
from ..ops import dense as dense_ops
from ..ops import dropout as dropout_ops
from ..ops import shapes
from . import initializers, regularizers
from .base import Layer
from .graph import KerasTensor, Node


class Dense(Layer):
    """Fully connected: ``y = activation(x @ kernel + bias)``, kernel ``(in, units)``."""

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        input_dim=None,
        **kwargs,
    ):
        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_dim,)
        super().__init__(
            activation=activation, activity_regularizer=activity_regularizer, **kwargs
        )
        if not isinstance(units, int) or units < 1:
            raise ShapeError(
                f"Dense '{self.name}': `units` must be a positive integer. Received: units={units!r}"
            )
        self.set_weight_rules("kernel", kernel_regularizer, kernel_constraint)
        self.set_weight_rules("bias", bias_regularizer, bias_constraint)
        self.units = units
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(
                f"Input 0 of layer '{self.name}' (Dense) needs at least 2 axes (batch, features). "
                f"Received: input shape={tuple(input_shape)}"
            )

    def build(self, input_shape):
        self.add_weight(
            "kernel", (input_shape[-1], self.units), self.kernel_initializer
        )
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def check_input(self, x):
        expected = self._weights["kernel"].shape[0]
        if x.shape[-1] != expected:
            raise ShapeError(
                f"Dense '{self.name}' was built for {expected} input features but got {x.shape[-1]}. "
                f"Received: input shape={tuple(x.shape)}"
            )

    def _forward(self, x, training):
        return dense_ops.dense_forward(
            x, self._weights["kernel"], self._weights.get("bias")
        )

    def _backward(self, dz, cache, need_dx=True):
        dx, dkernel, dbias = dense_ops.dense_backward(dz, cache, need_dx)
        return dx, [dkernel] + ([dbias] if self.use_bias else [])

    def param_formula(self):
        return shapes.param_formula(self._weights["kernel"].shape, self.use_bias)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **self.weight_rules_config("kernel", "bias"),
        }


class Flatten(Layer):
    """``(N, *rest) -> (N, prod(rest))``, row-major over (H, W, C) as Keras."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)

    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(
                f"Flatten '{self.name}' needs a batch axis and at least one more. "
                f"Received: input shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def _forward(self, x, training):
        return dense_ops.flatten_forward(x)

    def _backward(self, dz, x_shape, need_dx=True):
        return dense_ops.flatten_backward(dz, x_shape), []

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last"}


class Reshape(Layer):
    """``(N, *rest) -> (N, *target_shape)``; one entry may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        target = list(self.target_shape)
        if None not in rest:
            total = math.prod(rest)
            known = math.prod(t for t in target if t != -1)
            if -1 in target:
                if known == 0 or total % known:
                    raise ShapeError(self._mismatch(input_shape))
                target[target.index(-1)] = total // known
            elif known != total:
                raise ShapeError(self._mismatch(input_shape))
        return (input_shape[0], *target)

    def _mismatch(self, input_shape):
        return (
            f"Reshape '{self.name}': cannot reshape {tuple(input_shape[1:])} to {self.target_shape}; "
            f"the number of values per sample must stay the same. "
            f"Received: input shape={tuple(input_shape)}, target_shape={self.target_shape}"
        )

    def _forward(self, x, training):
        return dense_ops.reshape_forward(x, self.target_shape)

    def _backward(self, dz, x_shape, need_dx=True):
        return dense_ops.reshape_backward(dz, x_shape), []

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Dropout(Layer):
    """Inverted dropout: during training each unit is zeroed with probability
    ``rate`` and survivors scaled by ``1/(1-rate)``; at inference, identity.
    ``noise_shape`` (e.g. ``(None, 1, 1, 1)``, EfficientNet's stochastic depth) draws one
    decision per entry of that shape, broadcast over the others; ``None`` entries take the
    input's size."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ShapeError(
                f"Dropout '{self.name}': `rate` must be in [0, 1). Received: rate={rate}"
            )
        self.rate = float(rate)
        self.noise_shape = self._checked_noise_shape(noise_shape)
        self.seed = seed
        self.rng = cnn_random.make_generator(seed)

    stochastic = True

    def _checked_noise_shape(self, noise_shape):
        """Keras's checks: a tuple of positive ints or None entries."""
        if noise_shape is None:
            return None
        try:
            entries = None if isinstance(noise_shape, str) else tuple(noise_shape)
        except TypeError:
            entries = None
        if entries is None or any(
            d is not None and (not isinstance(d, int) or isinstance(d, bool) or d <= 0)
            for d in entries
        ):
            raise ShapeError(
                f"Dropout '{self.name}': Invalid value received for argument `noise_shape`. Expected a "
                f"tuple of positive integers or None (one entry per input axis). "
                f"Received: noise_shape={noise_shape!r}"
            )
        return entries

    def check_input_shape(self, input_shape):
        shape = self.noise_shape
        if shape is None:
            return
        if len(shape) != len(input_shape) or any(
            d not in (None, 1, s) and s is not None for d, s in zip(shape, input_shape)
        ):
            raise ShapeError(
                f"Dropout '{self.name}': `noise_shape` {shape} must have one entry per input axis, each "
                f"None, 1 or the axis's size, to broadcast against the input. "
                f"Received: input shape={tuple(input_shape)}, noise_shape={shape}"
            )

    def _forward(self, x, training):
        noise_shape = (
            None
            if self.noise_shape is None
            else tuple(s if d is None else d for d, s in zip(self.noise_shape, x.shape))
        )
        return dropout_ops.dropout_forward(
            x, self.rate, cnn_random.stream(self.rng), training, noise_shape
        )

    def _backward(self, dz, mask, need_dx=True):
        return dropout_ops.dropout_backward(dz, mask), []

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": self.noise_shape,
        }


class Activation(Layer):
    """Applies an activation by name: ``Activation("relu")``."""

    def __init__(self, activation, **kwargs):
        super().__init__(activation=activation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation_name}


class ReLU(Layer):
    """Keras's ReLU layer, with ``max_value``, ``negative_slope`` and ``threshold``."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        plain = max_value is None and negative_slope == 0 and threshold == 0
        super().__init__(activation="relu" if plain else "relu_general", **kwargs)
        # Keras's own checks (the function keras.activations.relu takes any threshold)
        if max_value is not None and max_value < 0:
            raise ShapeError(
                f"ReLU '{self.name}': max_value of a ReLU layer cannot be a negative value. "
                f"Received: max_value={max_value}"
            )
        if threshold is None or threshold < 0:
            raise ShapeError(
                f"ReLU '{self.name}': threshold of a ReLU layer cannot be None or a negative value. "
                f"Received: threshold={threshold}"
            )
        if not plain:
            self._act_kwargs = {
                "negative_slope": negative_slope,
                "max_value": max_value,
                "threshold": threshold,
            }
        self.max_value, self.negative_slope, self.threshold = (
            max_value,
            negative_slope,
            threshold,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise. The layer's default
    slope is Keras's 0.3 (the function ``keras.activations.leaky_relu`` uses 0.2;
    seed 002 uses 0.01)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name for the slope
            negative_slope = kwargs.pop("alpha")
        super().__init__(activation="leaky_relu", **kwargs)
        self.negative_slope = negative_slope
        self._act_kwargs = {"negative_slope": negative_slope}

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax along ``axis`` (default the last): outputs sum to 1."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(activation="softmax", **kwargs)
        self.axis = axis
        self._act_kwargs = {"axis": axis}

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class InputLayer(Layer):
    """Declares the shape of one sample. Keras 3 lists it in neither
    ``model.layers`` nor the summary."""

    def __init__(
        self,
        shape=None,
        batch_size=None,
        dtype=None,
        batch_shape=None,
        name=None,
        **kwargs,
    ):
        if shape is None and batch_shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None:
            raise ShapeError(
                "InputLayer needs `shape`, the shape of one sample, e.g. shape=(28, 28, 1)."
            )
        super().__init__(name=name or None, **kwargs)
        self.shape = (None,) + tuple(shape)
        self.batch_size = batch_size

    def get_config(self):
        return {
            "batch_shape": self.shape,
            "dtype": floatx,
            "sparse": False,
            "name": self.name,
        }


def Input(
    shape=None, batch_size=None, dtype=None, name=None, batch_shape=None, **kwargs
):
    """``keras.Input(shape=(28, 28, 1))``: the input of a model, one sample's shape."""
    layer = InputLayer(
        shape=shape, batch_size=batch_size, batch_shape=batch_shape, name=name, **kwargs
    )
    if batch_size is not None:
        layer.shape = (int(batch_size),) + tuple(layer.shape[1:])
    tensor = KerasTensor(layer.shape, dtype or floatx, layer.name)
    tensor.input_layer = layer
    Node(layer, [], [tensor])
    layer.built = True
    layer.input_shape = layer.output_shape = layer.shape
    return tensor
