"""Weight and activity penalties with Keras 3's names, factors and configs.

A regularizer adds a term to the loss that ``fit``, ``evaluate`` and ``val_loss``
report (as Keras does), and its gradient to the weight's gradient::

    L1(l1):     l1 * sum(|w|)            gradient l1 * sign(w)
    L2(l2):     l2 * sum(w**2)           gradient 2 * l2 * w      (no 1/2, as Keras)
    L1L2(l1, l2): both

The strings are Keras 3's: ``"l1"`` is ``L1(0.01)``, ``"l2"`` is ``L2(0.01)``,
``"l1l2"`` is ``L1L2()`` with both factors 0 (Keras 3.15 refuses ``"l1_l2"``; the
class also answers to ``keras.regularizers.l1_l2``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import CnnlabError


def _factor(value, name, cls):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, (bool, np.bool_))
        or not math.isfinite(value)
        or value < 0
    ):
        raise CnnlabError(
            f"{cls}: `{name}` must be a non-negative finite number (the penalty's factor). "
            f"Received: {name}={value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: ``reg(w)`` is the penalty (a float), ``reg.gradient(w)`` its gradient."""

    def __call__(self, w) -> float:
        return 0.0

    def gradient(self, w):
        return np.zeros_like(w)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``; both factors default to 0, as Keras."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1", type(self).__name__)
        self.l2 = _factor(0.0 if l2 is None else l2, "l2", type(self).__name__)

    def __call__(self, w) -> float:
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float(np.square(w).sum())
        return total

    def gradient(self, w):
        g = np.zeros_like(w)
        if self.l1:
            g += w.dtype.type(self.l1) * np.sign(w)
        if self.l2:
            g += w.dtype.type(2 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)``, default ``l1=0.01``. Keras keeps the factor as a float32 tensor, so
    its config reads ``0.009999999776482582``; cnnlab writes the same number."""

    def __init__(self, l1=0.01):
        super().__init__(
            l1=float(np.float32(_factor(0.01 if l1 is None else l1, "l1", "L1")))
        )

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)``, default ``l2=0.01`` (no 1/2)."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


_BY_CLASS = {cls.__name__: cls for cls in (L1, L2, L1L2)}
_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, **_BY_CLASS}


def get(identifier):
    """A regularizer from None, a Keras name (``"l2"``), a class name, a config dict or an instance."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            hint = (
                ' Keras 3 has no "l1_l2" name: use L1L2(l1=0.01, l2=0.01).'
                if identifier == "l1_l2"
                else ""
            )
            raise CnnlabError(
                f"Unknown regularizer {identifier!r}; known: {sorted(_BY_NAME)}.{hint} "
                f"Received: {identifier!r}"
            )
        return cls()
    if isinstance(identifier, dict):
        cls = _BY_CLASS.get(identifier.get("class_name"))
        config = identifier.get("config") or {}
        if cls is None or not isinstance(config, dict):
            raise CnnlabError(
                f"Unknown regularizer: cnnlab has {sorted(_BY_CLASS)}. "
                f"Received: {str(identifier)[:200]}"
            )
        allowed = {"l1", "l2"} if cls is L1L2 else {cls.__name__.lower()}
        if set(config) - allowed:
            raise CnnlabError(
                f"Regularizer {cls.__name__} takes {sorted(allowed)}. "
                f"Received: {sorted(set(config) - allowed)}"
            )
        return cls.from_config(config)
    raise CnnlabError(
        f"Could not interpret regularizer (a name such as 'l2', a keras.regularizers object or "
        f"a config). Received: {identifier!r}"
    )


def serialize(regularizer):
    if regularizer is None:
        return None
    return {
        "module": "keras.regularizers",
        "class_name": type(regularizer).__name__,
        "config": regularizer.get_config(),
        "registered_name": None,
    }
