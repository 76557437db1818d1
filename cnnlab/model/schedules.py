"""Learning-rate schedules with Keras 3's names, arguments and formulas (``keras.optimizers.schedules``).

A schedule is called with the optimizer's step count *before* the step's update
(the first update uses ``step = 0``) and returns the rate for that update.
Keras computes in the dtype of ``initial_learning_rate`` (float32), and so does
cnnlab: every formula below runs on ``np.float32`` scalars.

* ExponentialDecay: ``lr0 * rate^(step / decay_steps)`` (``floor`` of the exponent with ``staircase``).
* PiecewiseConstantDecay: ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
  ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary.
* PolynomialDecay: ``(lr0 - end) * (1 - s/d)^power + end`` with ``s = min(step, d)``; with
  ``cycle`` the horizon ``d`` grows to ``decay_steps * ceil(step / decay_steps)`` instead.
* InverseTimeDecay: ``lr0 / (1 + rate * step / decay_steps)`` (``floor`` with ``staircase``).
* CosineDecay: without warm-up ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s/d)) + alpha)``,
  ``s = min(step, d)``. With ``warmup_target``: a straight line from ``lr0`` to the target
  over ``warmup_steps``, then the cosine decay from the target over ``decay_steps``, then
  the final value held (the step is capped at ``warmup_steps + decay_steps``).
* CosineDecayRestarts (SGDR): the cosine decay restarted after ``first_decay_steps``,
  each period ``t_mul`` times longer and its peak ``m_mul`` times lower.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CnnlabError

f32 = np.float32


class LearningRateSchedule:
    """Base class: ``schedule(step)`` is the learning rate for the update made at ``step``."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            f"`__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
            f"in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positive_steps(name, value):
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their four arguments and the decay's
    progress ``step / decay_steps`` (its ``floor`` with ``staircase``)."""

    def __init__(
        self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None
    ):
        self.initial_learning_rate, self.decay_steps, self.decay_rate = (
            initial_learning_rate,
            decay_steps,
            decay_rate,
        )
        self.staircase, self.name = staircase, name or type(self).__name__
        _positive_steps("decay_steps", decay_steps)

    def progress(self, step):
        p = f32(step) / f32(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_StepDecay):
    def __call__(self, step):
        rate = f32(self.decay_rate)
        return f32(self.initial_learning_rate) * np.power(rate, self.progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                f"{len(values)}."
            )
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        # The value of the first interval whose upper boundary the step has not passed (step <= boundary).
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return f32(value)
        return f32(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        self.initial_learning_rate, self.decay_steps = (
            initial_learning_rate,
            decay_steps,
        )
        self.end_learning_rate, self.power, self.cycle, self.name = (
            end_learning_rate,
            power,
            cycle,
            name,
        )
        _positive_steps("decay_steps", decay_steps)

    def __call__(self, step):
        s, d = f32(step), f32(self.decay_steps)
        if self.cycle:
            d = d * (f32(1) if s == 0 else np.ceil(s / d))
        else:
            s = min(s, d)
        lr0, end = f32(self.initial_learning_rate), f32(self.end_learning_rate)
        return (lr0 - end) * np.power(f32(1) - s / d, f32(self.power)) + end

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_StepDecay):
    def __call__(self, step):
        p = self.progress(step)
        return f32(self.initial_learning_rate) / (f32(1) + f32(self.decay_rate) * p)


def _cosine(fraction, alpha):
    """``(1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha``: 1 at fraction 0, alpha at 1."""
    return (f32(1) - f32(alpha)) * (
        f32(0.5) * (f32(1) + np.cos(f32(math.pi) * fraction))
    ) + f32(alpha)


class CosineDecay(LearningRateSchedule):
    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        self.initial_learning_rate, self.decay_steps, self.alpha, self.name = (
            initial_learning_rate,
            decay_steps,
            alpha,
            name,
        )
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps
        _positive_steps("decay_steps", decay_steps)

    def __call__(self, step):
        lr0, d, s = f32(self.initial_learning_rate), f32(self.decay_steps), f32(step)
        if self.warmup_target is None:
            return lr0 * _cosine(min(s, d) / d, self.alpha)
        target, w = f32(self.warmup_target), f32(self.warmup_steps)
        s = min(s, d + w)
        if s < w:  # the straight line from lr0 to the target
            return (target - lr0) * (s / w) + lr0
        return target * _cosine((s - w) / d, self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        self.initial_learning_rate, self.first_decay_steps = (
            initial_learning_rate,
            first_decay_steps,
        )
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name
        _positive_steps("first_decay_steps", first_decay_steps)

    def __call__(self, step):
        fraction = f32(step) / f32(self.first_decay_steps)
        t_mul = f32(self._t_mul)
        if t_mul == 1:  # every period as long as the first
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:  # periods 1, t, t^2...: which one holds the step, and how far in
            restart = np.floor(
                np.log(f32(1) - fraction * (f32(1) - t_mul)) / np.log(t_mul)
            )
            done = (f32(1) - np.power(t_mul, restart)) / (f32(1) - t_mul)
            fraction = (fraction - done) / np.power(t_mul, restart)
        peak = np.power(f32(self._m_mul), restart)
        alpha = f32(self.alpha)
        cosine = f32(0.5) * peak * (f32(1) + np.cos(f32(math.pi) * fraction))
        return f32(self.initial_learning_rate) * ((f32(1) - alpha) * cosine + alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_BY_NAME = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(learning_rate_schedule):
    """Keras's ``serialize_keras_object`` form: ``{"module", "class_name", "config", "registered_name"}``."""
    if type(learning_rate_schedule) not in _BY_NAME.values():
        raise CnnlabError(
            f"keras.optimizers.schedules.serialize: cnnlab serializes only Keras's built-in "
            f"schedules ({sorted(_BY_NAME)}). Received: {learning_rate_schedule!r}"
        )
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(learning_rate_schedule).__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """A schedule from :func:`serialize`'s dict (only Keras's built-in classes; nothing is imported)."""
    if not isinstance(config, dict) or config.get("class_name") not in _BY_NAME:
        raise CnnlabError(
            f"keras.optimizers.schedules.deserialize: expected one of {sorted(_BY_NAME)} as "
            f"'class_name'. Received: {str(config)[:200]}"
        )
    module = config.get("module")
    if module not in (None, "keras.optimizers.schedules"):
        raise CnnlabError(
            f"keras.optimizers.schedules.deserialize: cnnlab reads only Keras's built-in schedules. "
            f"Received: module={module!r}"
        )
    inner = config.get("config")
    if not isinstance(inner, dict):
        raise CnnlabError(
            f"keras.optimizers.schedules.deserialize: 'config' must be a dict. Received: {inner!r}"
        )
    return _BY_NAME[config["class_name"]].from_config(inner)


__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]
