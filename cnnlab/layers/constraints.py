"""Weight constraints with Keras 3's names and defaults, applied after every optimizer update.

``axis`` (default 0) is the axis the norm is taken along: 0 for a Dense kernel
``(in, units)`` is each unit's incoming weights; for a Conv2D kernel
``(kh, kw, C_in, filters)`` Keras suggests ``axis=[0, 1, 2]``, one norm per filter.
``epsilon`` in the divisions is Keras's ``backend.epsilon()``, 1e-7.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import CnnlabError

EPSILON = 1e-7


def _number(value, name, cls):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, (bool, np.bool_))
        or not math.isfinite(value)
    ):
        raise CnnlabError(
            f"{cls}: `{name}` must be a finite number. Received: {name}={value!r}"
        )
    return value


def _axis(value, cls):
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in items
    ):
        raise CnnlabError(
            f"{cls}: `axis` must be an integer or a list of integers. Received: axis={value!r}"
        )
    return list(value) if isinstance(value, (list, tuple)) else int(value)


class Constraint:
    """Base class: ``constraint(w)`` returns the projected weights (a new array)."""

    def __call__(self, w):
        return w

    def check_shape(self, shape, where):
        """Refuse a weight the constraint's ``axis`` does not fit (at build, not mid-training)."""
        axis = getattr(self, "axis", None)
        for a in axis if isinstance(axis, list) else [] if axis is None else [axis]:
            if not -len(shape) <= a < len(shape):
                raise CnnlabError(
                    f"{where}: {type(self).__name__}'s axis {a} does not exist in a weight of "
                    f"shape {tuple(shape)}. Received: axis={axis!r}"
                )

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _norms(self, w):
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        return np.sqrt(np.square(w).sum(axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Scale each weight vector down to norm ``max_value`` when it is longer."""

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", "MaxNorm")
        self.axis = _axis(axis, "MaxNorm")

    def __call__(self, w):
        norms = self._norms(w)
        desired = np.clip(norms, 0, self.max_value)
        return (w * (desired / (w.dtype.type(EPSILON) + norms))).astype(w.dtype)

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights become 0."""

    def __call__(self, w):
        return np.maximum(w, 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Each weight vector divided by its norm."""

    def __init__(self, axis=0):
        self.axis = _axis(axis, "UnitNorm")

    def __call__(self, w):
        return (w / (w.dtype.type(EPSILON) + self._norms(w))).astype(w.dtype)

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norms moved into ``[min_value, max_value]``: to ``rate * clip(norm) + (1 - rate) * norm``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", "MinMaxNorm")
        self.max_value = _number(max_value, "max_value", "MinMaxNorm")
        self.rate = _number(rate, "rate", "MinMaxNorm")
        self.axis = _axis(axis, "MinMaxNorm")

    def __call__(self, w):
        norms = self._norms(w)
        desired = (
            self.rate * np.clip(norms, self.min_value, self.max_value)
            + (1 - self.rate) * norms
        )
        return (w * (desired / (w.dtype.type(EPSILON) + norms))).astype(w.dtype)

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


_BY_CLASS = {cls.__name__: cls for cls in (MaxNorm, NonNeg, UnitNorm, MinMaxNorm)}
_BY_NAME = {
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
    **_BY_CLASS,
}


def get(identifier):
    """A constraint from None, a Keras name (``"max_norm"``), a class name, a config dict or an instance."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise CnnlabError(
                f"Unknown constraint {identifier!r}; known: {sorted(_BY_NAME)}. Received: {identifier!r}"
            )
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier.get("class_name"))
        config = identifier.get("config") or {}
        if cls is None or not isinstance(config, dict):
            raise CnnlabError(
                f"Unknown constraint: cnnlab has {sorted(_BY_CLASS)}. Received: {str(identifier)[:200]}"
            )
        try:
            return cls.from_config(config)
        except TypeError as e:
            raise CnnlabError(
                f"Constraint {cls.__name__}: {e}. Received: {config}"
            ) from None
    raise CnnlabError(
        f"Could not interpret constraint (a name such as 'max_norm', a keras.constraints object or "
        f"a config). Received: {identifier!r}"
    )


def serialize(constraint):
    if constraint is None:
        return None
    return {
        "module": "keras.constraints",
        "class_name": type(constraint).__name__,
        "config": constraint.get_config(),
        "registered_name": None,
    }
