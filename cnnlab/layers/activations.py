"""Activation layers with parameters of their own: ``ELU(alpha)`` and ``PReLU`` (a learned
slope for the negative side, one per cell of a sample unless ``shared_axes`` shares it).
ReLU, LeakyReLU and Softmax live in ``core``."""

from __future__ import annotations

from ..errors import ShapeError
from ..ops import activations as act_ops
from ..ops import shapes
from . import initializers
from .base import Layer


class ELU(Layer):
    """``x`` for ``x > 0``, ``alpha * (e^x - 1)`` otherwise."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(activation="elu", **kwargs)
        self.alpha = float(alpha)
        self._act_kwargs = {"alpha": self.alpha}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """``x`` for ``x > 0``, ``alpha * x`` otherwise, ``alpha`` learned (Keras's default start: zeros).

    ``alpha`` has the shape of one sample, ``input_shape[1:]``; each axis in ``shared_axes``
    (1 is the first axis after the batch) gets size 1, so e.g. ``shared_axes=[1, 2]`` on images
    learns one slope per channel."""

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"PReLU '{self.name}'"
        for key, value in (
            ("alpha_regularizer", alpha_regularizer),
            ("alpha_constraint", alpha_constraint),
        ):
            if value is not None:
                raise ShapeError(
                    f"{where}: cnnlab supports only {key}=None. Received: {key}={value!r}"
                )
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = [shared_axes] if isinstance(shared_axes, int) else list(shared_axes)
            if any(
                not isinstance(a, int) or isinstance(a, bool) or a < 1 for a in axes
            ):
                raise ShapeError(
                    f"{where}: `shared_axes` are the axes after the batch axis (1, 2, ...) that "
                    f"share one slope. Received: shared_axes={shared_axes!r}"
                )
            self.shared_axes = axes
        self.alpha_initializer = initializers.get(alpha_initializer)

    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(
                f"PReLU '{self.name}' needs a batch axis and at least one more. "
                f"Received: input shape={tuple(input_shape)}"
            )
        for axis in self.shared_axes or []:
            if axis >= len(input_shape):
                raise ShapeError(
                    f"PReLU '{self.name}': shared axis {axis} does not exist in an input of rank "
                    f"{len(input_shape)}. Received: shared_axes={self.shared_axes}, "
                    f"input shape={tuple(input_shape)}"
                )

    def build(self, input_shape):
        self.add_weight(
            "alpha",
            shapes.prelu_alpha_shape(input_shape[1:], self.shared_axes),
            self.alpha_initializer,
        )

    def check_input(self, x):
        alpha = self._weights["alpha"]
        if (
            any(a not in (1, s) for a, s in zip(alpha.shape, x.shape[1:]))
            or x.ndim != alpha.ndim + 1
        ):
            raise ShapeError(
                f"PReLU '{self.name}' was built for samples of shape {self.input_shape[1:]}. "
                f"Received: input shape={tuple(x.shape)}"
            )

    def _forward(self, x, training):
        return act_ops.prelu_forward(x, self._weights["alpha"])

    def _backward(self, dz, x, need_dx=True):
        dx, dalpha = act_ops.prelu_backward(dz, x, self._weights["alpha"])
        return dx, [dalpha]

    def param_formula(self):
        return shapes.prelu_param_formula(self.input_shape[1:], self.shared_axes)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": None,
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        }
