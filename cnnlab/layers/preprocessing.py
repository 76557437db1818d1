"""Normalization: Keras's preprocessing layer that standardizes features with a mean and variance
given up front or gathered from data by ``adapt``.

EfficientNet starts with one (``Rescaling(1/255)``, then ``Normalization``), its ImageNet mean and
variance held as the layer's weights. Keras's rules, kept here:

* ``axis`` (an int, a tuple, or None for one scalar mean) names the axes that keep a mean per index;
  the others are reduced.
* Without ``mean``/``variance`` the layer holds three non-trainable weights, in this order: ``mean``
  and ``variance`` (the kept axes' shape, zeros and ones until adapted) and ``count`` (an int32
  scalar that Keras keeps for old files and never updates). With them given, it holds no weights.
* ``adapt(array)`` takes NumPy's mean and variance over the reduced axes; ``adapt(batches)``
  (a list, a generator, a dataset yielding ``x`` or ``(x, y)``) folds batch after batch in float32
  with :func:`cnnlab.ops.normalize.merge_moments`, as Keras does.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ..backend import floatx
from ..errors import ShapeError
from ..ops import normalize as norm_ops
from .base import Layer


def _axes(axis, where):
    if axis is None:
        return ()
    if isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
        return (int(axis),)
    try:
        axes = tuple(axis)
    except TypeError:
        axes = None
    if axes is None or any(
        not isinstance(a, numbers.Integral) or isinstance(a, bool) for a in axes
    ):
        raise ShapeError(
            f"{where}: `axis` must be an integer, a tuple of integers or None. Received: axis={axis!r}"
        )
    return tuple(int(a) for a in axes)


def _first_of(batch):
    """The inputs of a dataset's element: ``x`` of ``(x, y)`` or ``(x, y, sample_weight)``."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), 1e-7)`` per index of the kept ``axis``; ``invert=True``
    undoes it (``mean + x * sqrt(variance)``)."""

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        where = f"Normalization '{self.name}'"
        self.axis = _axes(axis, where)
        if (mean is None) != (variance is None):
            raise ShapeError(
                f"{where}: When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ShapeError(
                    f"{where}: When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {np.shape(mean)} and variance shape {np.shape(variance)}"
                )
            if np.ndim(mean) > len(self.axis):
                raise ShapeError(
                    f"{where}: The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {np.shape(mean)} for axis {self.axis}"
                )
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._mean = self._variance = None  # broadcast to the input's rank once built

    # ---- shapes and weights -------------------------------------------
    def check_input_shape(self, input_shape):
        ndim = len(input_shape)
        if any(not -ndim <= a < ndim for a in self.axis):
            raise ShapeError(
                f"Normalization '{self.name}': All `axis` values must be in the range [-ndim, ndim). "
                f"Received inputs with ndim={ndim}, while axis={self.axis}"
            )
        for d in sorted(a % ndim for a in self.axis):
            if input_shape[d] is None:
                raise ShapeError(
                    f"Normalization '{self.name}': All `axis` values to be kept must have a known shape. "
                    f"Received axis={self.axis}, inputs.shape={tuple(input_shape)}, with unknown axis at "
                    f"index {d}"
                )

    def build(self, input_shape):
        ndim = len(input_shape)
        # Sorted, so that the statistics' axes follow the input's order (no transposing).
        self._keep_axis = tuple(sorted(a % ndim for a in self.axis))
        self._reduce_axis = tuple(d for d in range(ndim) if d not in self._keep_axis)
        self._broadcast_shape = tuple(
            input_shape[d] if d in self._keep_axis else 1 for d in range(ndim)
        )
        self._stats_shape = tuple(input_shape[d] for d in self._keep_axis)
        self._build_shape = tuple(input_shape)
        if self.input_mean is None:
            self.add_weight(
                name="mean",
                shape=self._stats_shape,
                initializer="zeros",
                trainable=False,
            )
            self.add_weight(
                name="variance",
                shape=self._stats_shape,
                initializer="ones",
                trainable=False,
            )
            # Keras keeps it for files of older versions; adapt never changes it.
            self.add_weight(
                name="count",
                shape=(),
                dtype="int32",
                initializer="zeros",
                trainable=False,
            )
        else:
            self._mean = self._broadcast(
                np.asarray(self.input_mean, dtype=floatx), "mean"
            )
            self._variance = self._broadcast(
                np.asarray(self.input_variance, dtype=floatx), "variance"
            )

    def _broadcast(self, value, name):
        """Keras's rule for given statistics: a scalar goes everywhere; otherwise its axes line up
        with the kept axes from the right."""
        expanded = [1] * len(self._broadcast_shape)
        for i in range(1, value.ndim + 1):
            expanded[self._keep_axis[-i]] = value.shape[-i]
        try:
            return np.broadcast_to(value.reshape(expanded), self._broadcast_shape)
        except ValueError:
            raise ShapeError(
                f"Normalization '{self.name}': `{name}` of shape {value.shape} does not broadcast to the "
                f"kept axes {self._keep_axis} of the input (shape {self._stats_shape} there). "
                f"Received: {name} shape={value.shape}, input shape={self._build_shape}"
            ) from None

    def _statistics(self):
        if self.input_mean is not None:
            return self._mean, self._variance
        return (
            self._weights["mean"].reshape(self._broadcast_shape),
            self._weights["variance"].reshape(self._broadcast_shape),
        )

    def check_input(self, x):
        if x.ndim != len(self._build_shape) or any(
            x.shape[d] != self._build_shape[d] for d in self._keep_axis
        ):
            raise ShapeError(
                f"Normalization '{self.name}' was built for input shape {self.input_shape} (statistics of "
                f"shape {self._stats_shape} along axes {self._keep_axis}). Received: input shape={tuple(x.shape)}"
            )

    # ---- computation --------------------------------------------------
    def _forward(self, x, training):
        mean, variance = self._statistics()
        return norm_ops.standardize_forward(x, mean, variance, self.invert)

    def _backward(self, dz, scale, need_dx=True):
        return norm_ops.standardize_backward(dz, scale), []

    def adapt(self, data):
        """Set ``mean`` and ``variance`` from ``data``: an array, or an iterable of batches (each an
        array, or ``(x, y)``). A layer given ``mean``/``variance`` has nothing to adapt."""
        where = f"Normalization '{self.name}'.adapt"
        if self.input_mean is not None:
            raise ShapeError(
                f"{where}: the layer was given `mean` and `variance`; adapt() computes them, so create it "
                f"without them to adapt. Received: mean={self.input_mean!r}"
            )
        batches = None
        if isinstance(data, np.ndarray):
            shape = data.shape
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            items = iter(data)
            first = next(items, None)
            if first is None:
                raise ShapeError(
                    f"{where}: adapt() received an empty iterable (no batches). Expected at least one "
                    f"batch. Pass a non-empty iterable of arrays, e.g. layer.adapt([x]). "
                    f"Received: {type(data).__name__}"
                )
            first = np.asarray(_first_of(first))
            shape = first.shape
            batches = itertools.chain([first], items)
        else:
            raise ShapeError(
                f"{where}: adapt() takes a NumPy array or an iterable of batches (a list, a generator, a "
                f"dataset). Received: {type(data).__name__}"
            )
        if not self.built:
            self.ensure_built(shape)
        self._check_adapt_shape(shape, where)
        if batches is None:
            if data.dtype.kind not in "biuf":
                raise ShapeError(
                    f"{where}: expects a numeric array. Received: dtype={data.dtype}"
                )
            mean = np.mean(data, axis=self._reduce_axis)
            var = np.var(data, axis=self._reduce_axis)
        else:
            mean = np.zeros(self._stats_shape, floatx)
            var = np.zeros(self._stats_shape, floatx)
            count = 0
            for batch in batches:
                batch = np.asarray(_first_of(batch), dtype=floatx)
                self._check_adapt_shape(batch.shape, where)
                batch_count = (
                    math.prod(batch.shape[d] for d in self._reduce_axis)
                    if self._reduce_axis
                    else 1
                )
                mean, var, count = norm_ops.merge_moments(
                    mean,
                    var,
                    count,
                    batch.mean(axis=self._reduce_axis),
                    batch.var(axis=self._reduce_axis),
                    batch_count,
                )
        self._weights["mean"][...] = np.asarray(mean, dtype=floatx).reshape(
            self._stats_shape
        )
        self._weights["variance"][...] = np.asarray(var, dtype=floatx).reshape(
            self._stats_shape
        )

    def _check_adapt_shape(self, shape, where):
        if len(shape) != len(self._build_shape) or any(
            shape[d] != self._build_shape[d] for d in self._keep_axis
        ):
            raise ShapeError(
                f"{where}: The layer was built with input_shape={self._build_shape}, but adapt() is being "
                f"called with data with an incompatible shape, data.shape={tuple(shape)}"
            )

    # ---- config -------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": np.array(self.input_mean).tolist(),
            "variance": np.array(self.input_variance).tolist(),
        }
