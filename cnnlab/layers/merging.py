"""Merge layers: where the branches of a graph meet (``Add`` for a residual block,
``Concatenate`` for two branches side by side...), and Keras's function forms
``layers.add([a, b])``, ``layers.concatenate([a, b])``...

Each layer takes a list of tensors and wraps one op of ``cnnlab.ops.merge``.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..ops import merge as merge_ops
from .base import Layer, as_float_input


class Merge(Layer):
    """Base: a list of inputs in, one output; ``_op`` names the op in ``ops.merge``."""

    _op = "add"
    min_inputs = 1
    exact_inputs: int | None = None

    def check_input_shape(self, input_shape):
        kind = type(self).__name__
        if not isinstance(input_shape, list):
            raise ShapeError(
                f"A merge layer ('{self.name}', {kind}) should be called on a list of inputs. "
                f"Received: input_shape={input_shape}"
            )
        if self.exact_inputs is not None and len(input_shape) != self.exact_inputs:
            raise ShapeError(
                f"A `{kind}` layer ('{self.name}') should be called on exactly {self.exact_inputs} "
                f"inputs. Received: input_shape={input_shape}"
            )
        if len(input_shape) < self.min_inputs:
            raise ShapeError(
                f"A `{kind}` layer ('{self.name}') should be called on a list of at least "
                f"{self.min_inputs} inputs. Received: {len(input_shape)} inputs"
            )

    def compute_output_shape(self, input_shape):
        """Keras's elementwise rule: equal sizes, or 1 (or None) against any size."""
        ranks = {len(s) for s in input_shape}
        out = list(max(input_shape, key=len))
        if len(ranks) > 1:
            self._incompatible(input_shape)
        for shape in input_shape:
            for i, size in enumerate(shape[1:], start=1):
                if out[i] is None or out[i] == 1:
                    out[i] = size if size is not None else out[i]
                elif size not in (None, 1, out[i]):
                    self._incompatible(input_shape)
        return tuple(out)

    def _incompatible(self, input_shape):
        raise ShapeError(
            f"Layer '{self.name}' ({type(self).__name__}): inputs have incompatible shapes "
            f"{' and '.join(str(tuple(s)) for s in input_shape)}; an elementwise merge needs equal "
            f"sizes (or 1) on every axis. Received: input_shape={[tuple(s) for s in input_shape]}"
        )

    def _forward(self, xs, training):
        return getattr(merge_ops, f"{self._op}_forward")(xs)

    def _backward(self, dz, cache, need_dx=True):
        return getattr(merge_ops, f"{self._op}_backward")(dz, cache), []

    def __call__(self, inputs, training=None):
        from . import graph

        if graph.is_symbolic(inputs):
            return graph.symbolic_call(self, inputs, training)
        if not isinstance(inputs, (list, tuple)):
            raise ShapeError(
                f"A merge layer ('{self.name}', {type(self).__name__}) should be called on a list of "
                f"inputs. Received: {type(inputs).__name__}"
            )
        xs = [
            as_float_input(x, f"Layer '{self.name}' ({type(self).__name__}) input {i}")
            for i, x in enumerate(inputs)
        ]
        self.ensure_built([x.shape for x in xs])
        return self.forward(xs, training)[0]


class Add(Merge):
    """``x0 + x1 + ...`` (a residual block's shortcut)."""


class Subtract(Merge):
    """``x0 - x1``."""

    _op = "subtract"
    exact_inputs = 2


class Multiply(Merge):
    """``x0 * x1 * ...``, elementwise."""

    _op = "multiply"


class Average(Merge):
    """The elementwise mean of the inputs."""

    _op = "average"


class Maximum(Merge):
    """The elementwise maximum; at a tie the first input gets the gradient."""

    _op = "maximum"


class Minimum(Merge):
    """The elementwise minimum; at a tie the first input gets the gradient."""

    _op = "minimum"


class Concatenate(Merge):
    """Inputs side by side along ``axis`` (default the last: the channels)."""

    _op = "concatenate"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape):
        rank = len(input_shape[0])
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if (
            axis is None
            or axis == 0
            or any(len(s) != rank for s in input_shape)
            or any(
                len({s[i] for s in input_shape if s[i] is not None}) > 1
                for i in range(1, rank)
                if i != axis
            )
        ):
            raise ShapeError(
                f"A `Concatenate` layer ('{self.name}') requires inputs with matching shapes except "
                f"for the concatenation axis (axis={self.axis}). "
                f"Received: input_shape={[tuple(s) for s in input_shape]}"
            )
        out = list(input_shape[0])
        sizes = [s[axis] for s in input_shape]
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def _forward(self, xs, training):
        return merge_ops.concatenate_forward(xs, self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """Per sample, the inner product of two inputs over ``axes`` (cosine with ``normalize``)."""

    _op = "dot"
    exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = (axes, axes) if isinstance(axes, int) else tuple(axes)
        self.normalize = normalize

    def compute_output_shape(self, input_shape):
        a, b = (tuple(s) for s in input_shape)
        ax, ay = (
            ax % len(s) if -len(s) <= ax < len(s) else 0
            for ax, s in zip(self.axes, (a, b))
        )
        if (
            ax == 0
            or ay == 0
            or (a[ax] is not None and b[ay] is not None and a[ax] != b[ay])
        ):
            raise ShapeError(
                f"Layer '{self.name}' (Dot): incompatible input shapes for axes={self.axes}: "
                f"{a} and {b} (the dotted axes must have the same size and may not be the batch "
                f"axis). Received: input_shape={[a, b]}"
            )
        out = a[:ax] + a[ax + 1 :] + b[1:ay] + b[ay + 1 :]
        return out if len(out) > 1 else (a[0], 1)

    def _forward(self, xs, training):
        return merge_ops.dot_forward(xs, self.axes, self.normalize)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _function_form(cls, doc):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = doc
    return merge


add = _function_form(Add, "``layers.add([a, b])``: ``Add()([a, b])``.")
subtract = _function_form(
    Subtract, "``layers.subtract([a, b])``: ``Subtract()([a, b])``."
)
multiply = _function_form(
    Multiply, "``layers.multiply([a, b])``: ``Multiply()([a, b])``."
)
average = _function_form(Average, "``layers.average([a, b])``: ``Average()([a, b])``.")
maximum = _function_form(Maximum, "``layers.maximum([a, b])``: ``Maximum()([a, b])``.")
minimum = _function_form(Minimum, "``layers.minimum([a, b])``: ``Minimum()([a, b])``.")


def concatenate(inputs, axis=-1, **kwargs):
    """``layers.concatenate([a, b], axis=-1)``: ``Concatenate(axis)([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``layers.dot([a, b], axes)``: ``Dot(axes, normalize)([a, b])``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
