"""Optimizers with Keras 3's names, defaults and update rules.

Each step receives the parameters and their gradients (lists of arrays in the
same order) and updates the parameters in place.

Seed 002/003's list, with the rules as Keras writes them:

* SGD: ``w -= lr*g``; momentum: ``m = mu*m - lr*g; w += m``; Nesterov:
  ``m = mu*m - lr*g; w += mu*m - lr*g``.
* Adagrad: ``acc += g^2; w -= lr*g/sqrt(acc + eps)``, ``acc`` starting at 0.1.
  Every weight's step only shrinks as ``acc`` grows; it shrinks more slowly for
  weights that rarely get a gradient (seed 002 says their step *grows*: it does not).
* RMSprop: ``v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v + eps)``.
* Adam: ``m += (1-b1)(g-m); v += (1-b2)(g^2-v);
  w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v) + eps)``.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ..registry import lookup
from . import parallel


def flush_subnormals(a, work):
    """Set values too small to be normal floats (|a| < 1.2e-38 in float32) to zero, in place.

    A momentum whose weight gets no gradient (a dead unit, an always-black MNIST
    border pixel) decays geometrically into that subnormal range, where x86
    arithmetic is about 100x slower. TensorFlow, Keras's reference, runs with
    the CPU's flush-to-zero mode for the same reason; NumPy cannot set that mode,
    so the optimizer flushes its state explicitly. The values are far below any
    update that could matter.
    """
    np.abs(a, out=work)
    np.multiply(a, work >= np.finfo(a.dtype).tiny, out=a)


#: How often (in steps) the optimizer state is cleared of subnormal values. A
#: momentum decaying by 0.9 a step stays subnormal for about 150 steps before it
#: underflows to zero by itself, so clearing every 16 steps removes nearly all of
#: the slow arithmetic at a sixteenth of the cost of clearing every step.
FLUSH_EVERY = 16


class Optimizer:
    """Base class: state per parameter, an ``iterations`` counter, ``apply``."""

    def __init__(self, learning_rate=0.001, name=None, **kwargs):
        unsupported = {k: v for k, v in kwargs.items() if v not in (None, False)}
        if unsupported:
            raise ValueError(f"{type(self).__name__}: cnnlab does not support {sorted(unsupported)} yet. "
                             f"Received: {unsupported}")
        self.learning_rate = float(learning_rate)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.built = False
        self._slots: list[list[np.ndarray]] = []

    # Each subclass names its per-parameter state and how to start it.
    slot_names: tuple[str, ...] = ()

    def _initial_slot(self, name, param):
        return np.zeros_like(param)

    def build(self, params):
        """Create the state: one flat buffer per slot, and per parameter a view into
        it, so that parameters sharing one buffer can be updated in one pass."""
        self._build_slots([[self._initial_slot(name, p) for p in params] for name in self.slot_names])

    def _build_slots(self, slots):
        self._flat_slots, self._slots = [], []
        for arrays in slots:
            flat = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.zeros(0, np.float32)
            views, offset = [], 0
            for a in arrays:
                views.append(flat[offset:offset + a.size].reshape(a.shape))
                offset += a.size
            self._flat_slots.append(flat)
            self._slots.append(views)
        self.built = True

    def _begin_step(self):
        """Per-step quantities shared by every parameter (Adam's bias correction)."""
        self.iterations += 1

    def apply(self, params, grads):
        """One update of every parameter (in place)."""
        if not self.built:
            self.build(params)
        self._begin_step()
        for i, (p, g) in enumerate(zip(params, grads)):
            self._update(p, g, [slot[i] for slot in self._slots])

    def apply_flat(self, flat_params, flat_grads, threads=1):
        """The same update on whole buffers: ``flat_params`` holds the parameters
        given to ``build``, one after another (a few large in-place passes instead
        of many small ones). Every element's update is independent, so the buffers
        can be cut into ``threads`` parts updated side by side."""
        self._begin_step()
        n = flat_params.size
        parts = [slice(n * i // threads, n * (i + 1) // threads) for i in range(threads)]

        def update(sl):
            self._update(flat_params[sl], flat_grads[sl], [slot[sl] for slot in self._flat_slots])

        parallel.run(update, parts)

    def _scratch(self, like, count):
        """``count`` reusable work arrays shaped like ``like`` (kept between steps)."""
        key = (like.shape, like.dtype.str, threading.get_ident())   # one set per thread
        cache = self.__dict__.setdefault("_scratch_buffers", {})
        if key not in cache:
            cache[key] = [np.empty_like(like) for _ in range(count)]
        return cache[key]

    def apply_gradients(self, grads_and_vars):
        """Keras's spelling: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([v for _, v in pairs], [g for g, _ in pairs])

    def _update(self, p, g, slots):
        raise NotImplementedError

    @property
    def variables(self):
        """Keras counts ``iterations`` and ``learning_rate`` as optimizer variables too."""
        return [np.array(self.iterations), np.array(self.learning_rate, dtype=np.float32)] + [
            s for slot in self._slots for s in slot]

    def get_state(self):
        return {"iterations": self.iterations, "slots": [[s.copy() for s in slot] for slot in self._slots]}

    def set_state(self, state):
        self.iterations = int(state["iterations"])
        self._build_slots([[np.asarray(s) for s in slot] for slot in state["slots"]])

    def get_config(self):
        return {"name": self.name, "learning_rate": self.learning_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: `momentum` must be in [0, 1]. Received: momentum={momentum}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum > 0 else ()

    def _update(self, p, g, slots):
        lr = p.dtype.type(self.learning_rate)
        if not slots:
            p -= lr * g
            return
        m, mu = slots[0], p.dtype.type(self.momentum)
        m *= mu
        m -= lr * g
        if self.iterations % FLUSH_EVERY == 0:
            flush_subnormals(m, self._scratch(p, 1)[0])
        if self.nesterov:
            p += mu * m - lr * g
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    slot_names = ("momentum", "velocity")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name=None,
                 **kwargs):
        super().__init__(learning_rate, name, amsgrad=amsgrad, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _begin_step(self):
        super()._begin_step()
        t = self.iterations
        # The bias corrections fold into one step size per iteration.
        self._lr_t = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)

    def _update(self, p, g, slots):
        m, v = slots
        dt = p.dtype.type
        a, b = self._scratch(p, 2)     # in-place passes into two reused buffers: no temporaries
        np.subtract(g, m, out=a)
        a *= dt(1 - self.beta_1)
        m += a                                          # m += (g - m)(1 - b1)
        np.multiply(g, g, out=a)
        a -= v
        a *= dt(1 - self.beta_2)
        v += a                                          # v += (g^2 - v)(1 - b2)
        if self.iterations % FLUSH_EVERY == 0:
            flush_subnormals(m, a)
            flush_subnormals(v, a)
        np.multiply(m, dt(self._lr_t), out=a)
        np.sqrt(v, out=b)
        b += dt(self.epsilon)
        a /= b
        p -= a                                          # p -= lr_t m / (sqrt(v) + eps)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": False}


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name=None,
                 **kwargs):
        super().__init__(learning_rate, name, centered=centered, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.slot_names = ("velocity", "momentum") if self.momentum > 0 else ("velocity",)

    def _update(self, p, g, slots):
        dt = p.dtype.type
        v = slots[0]
        v *= dt(self.rho)
        v += dt(1 - self.rho) * g * g
        if self.iterations % FLUSH_EVERY == 0:
            flush_subnormals(v, self._scratch(p, 1)[0])
        increment = dt(self.learning_rate) * g / np.sqrt(v + dt(self.epsilon))
        if self.momentum > 0:
            m = slots[1]
            m *= dt(self.momentum)
            m += increment
            if self.iterations % FLUSH_EVERY == 0:
                flush_subnormals(m, self._scratch(p, 1)[0])
            p -= m
        else:
            p -= increment

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": False}


class Adagrad(Optimizer):
    slot_names = ("accumulator",)

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name, **kwargs)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), float(epsilon)

    def _initial_slot(self, name, param):
        return np.full_like(param, self.initial_accumulator_value)

    def _update(self, p, g, slots):
        dt = p.dtype.type
        acc = slots[0]
        acc += g * g
        p -= dt(self.learning_rate) * g / np.sqrt(acc + dt(self.epsilon))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """An optimizer from a name (``"adam"``), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    # Keras's rule for optimizers: any case ("Adam", "adam").
    if isinstance(identifier, dict):
        cls = lookup("optimizer", identifier.get("class_name"), _BY_NAME, "class_name")
        return cls.from_config(identifier.get("config", {}))
    return lookup("optimizer", identifier, _BY_NAME, "optimizer")()
