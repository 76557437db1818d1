"""Weight initializers with Keras 3's names, defaults and fan arithmetic.

Seed 002's Gaussian, uniform, Xavier (Glorot) and He initializations. For a
conv kernel ``(*k, C_in, C_out)`` the receptive field is ``prod(k)``:
``fan_in = prod(k)*C_in``, ``fan_out = prod(k)*C_out``; for a Dense kernel
``(in, out)`` they are ``in`` and ``out``.
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as cnn_random
from ..backend import floatx
from ..registry import lookup


def compute_fans(shape):
    """``(fan_in, fan_out)`` of a kernel shape, as Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``init(shape, dtype) -> array``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _rng(self):
        # A fixed seed gives the same values at every call, as in Keras.
        return (
            np.random.default_rng(self.seed)
            if getattr(self, "seed", None) is not None
            else cnn_random.generator()
        )


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=dtype or floatx)


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=dtype or floatx)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=dtype or floatx)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return self._rng().normal(self.mean, self.stddev, shape).astype(dtype or floatx)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, dtype=None):
        return (
            self._rng().uniform(self.minval, self.maxval, shape).astype(dtype or floatx)
        )

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_normal(rng, mean, stddev, shape):
    """Normal draws, redrawn until all lie within two standard deviations."""
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return mean + stddev * values


class TruncatedNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), self.mean, self.stddev, shape).astype(
            dtype or floatx
        )

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Variance ``scale / n`` with ``n`` the fan in, fan out or their mean.

    ``truncated_normal`` divides the stddev by 0.8796 (the stddev of a unit
    normal cut at two sigma), so the drawn values have the intended variance.
    """

    def __init__(
        self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None
    ):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                f"Invalid `mode` for VarianceScaling. Received: mode={mode!r}"
            )
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                f"Invalid `distribution` for VarianceScaling. Received: distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = (
            scale,
            mode,
            distribution,
            seed,
        )

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[
            self.mode
        ]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(
                rng, 0.0, math.sqrt(variance) / 0.87962566103423978, shape
            )
        elif self.distribution == "untruncated_normal":
            values = rng.normal(0.0, math.sqrt(variance), shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        return values.astype(dtype or floatx)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


def _variance_scaling_family(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(
        name,
        (VarianceScaling,),
        {
            "__init__": __init__,
            "get_config": get_config,
            "__doc__": f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r}).",
        },
    )


GlorotUniform = _variance_scaling_family("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling_family(
    "GlorotNormal", 1.0, "fan_avg", "truncated_normal"
)
HeNormal = _variance_scaling_family("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _variance_scaling_family("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _variance_scaling_family("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling_family("LecunUniform", 1.0, "fan_in", "uniform")

_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
}
_BY_CLASS = {cls.__name__: cls for cls in _BY_NAME.values()}
#: Every name Keras accepts (initializers/__init__.py ``ALL_OBJECTS_DICT``): class names, their snake
#: case, and Keras's aliases.
NAMES = {
    **_BY_NAME,
    **_BY_CLASS,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
}


def get(identifier):
    """An initializer from a Keras name (``"he_normal"``), a class name, a config dict or an instance
    (names are exact, as in Keras)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        cls = lookup("initializer", identifier.get("class_name"), NAMES, "class_name")
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        return lookup("initializer", identifier, NAMES, "initializer")()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer. Received: {identifier!r}")


def serialize(init):
    return {
        "module": "keras.initializers",
        "class_name": type(init).__name__,
        "config": init.get_config(),
        "registered_name": None,
    }
