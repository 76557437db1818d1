"""Optimizers with Keras 3's names, defaults and update rules, each written out in one place.

``optimizer_base.Optimizer`` does what every optimizer shares (gradient accumulation,
clipping, weight decay, the moving average, the learning rate and its schedule); each class
here is one rule, applied in place to a piece of the parameters ``p`` with its gradient
``g``. ``lr`` is the step's learning rate and ``t`` the 1-based update number. The rules as
Keras writes them (keras/src/optimizers/):

* SGD: ``w -= lr*g``; momentum: ``m = mu*m - lr*g; w += m``; Nesterov:
  ``m = mu*m - lr*g; w += mu*m - lr*g``.
* Adagrad: ``acc += g^2; w -= lr*g/sqrt(acc + eps)``, ``acc`` starting at 0.1.
  Every weight's step only shrinks as ``acc`` grows; it shrinks more slowly for
  weights that rarely get a gradient (seed 002 says their step *grows*: it does not).
* RMSprop: ``v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v + eps)``; ``centered`` also tracks
  ``a = rho*a + (1-rho)*g`` and divides by ``sqrt(v - a^2 + eps)``; ``momentum`` accumulates
  the increments: ``m = mu*m + increment; w -= m``.
* Adam: ``m += (1-b1)(g-m); v += (1-b2)(g^2-v);
  w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v) + eps)`` (Keras's epsilon sits outside the bias
  correction of ``v``: PyTorch's ``sqrt(v/(1-b2^t)) + eps`` differs); ``amsgrad`` divides by
  ``sqrt(v_hat)`` with ``v_hat = max(v_hat, v)``.
* AdamW: Adam with ``weight_decay=0.004`` (the decay is the base option: ``w *= 1 - wd*lr``
  on every weight, biases included, before the Adam step).
* Nadam: Adam with Nesterov momentum and Keras's momentum schedule
  ``u_t = b1*(1 - 0.5*0.96^t)``, ``U_t = u_1*...*u_t``:
  ``m_hat = u_{t+1}*m/(1 - U_{t+1}) + (1-u_t)*g/(1 - U_t)``,
  ``w -= lr*m_hat/(sqrt(v/(1-b2^t)) + eps)``.
* Adamax: ``m += (1-b1)(g-m); u = max(b2*u, |g|); w -= lr*m/((1-b1^t)(u + eps))``.
* Adadelta: ``a = rho*a + (1-rho)g^2; d = -sqrt(D + eps)/sqrt(a + eps)*g;
  D = rho*D + (1-rho)d^2; w += lr*d``.
* Lion: ``w -= lr*sign(b1*m + (1-b1)g); m = b2*m + (1-b2)g``.
* Ftrl: ``n' = n + g^2``; ``z += g + 2*l2s*w - (n'^-p - n^-p)/lr * w`` (``p`` is
  ``learning_rate_power``, -0.5); ``w = (clip(z, -l1, l1) - z) / (n'^-p/lr + 2*(l2 + beta/(2 lr)))``.
"""

from __future__ import annotations

import math

import numpy as np

from ..registry import lookup
from .optimizer_base import FLUSH_EVERY, Optimizer, flush_subnormals  # noqa: F401  (re-exported)
from .schedules import LearningRateSchedule  # noqa: F401


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(
                f"SGD: `momentum` must be in [0, 1]. Received: momentum={momentum}"
            )
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.slot_groups = (("momentum",),) if self.momentum > 0 else ()

    def _update(self, p, g, slots):
        lr = p.dtype.type(self._lr)
        if not slots:
            p -= lr * g
            return
        m, mu = slots[0], p.dtype.type(self.momentum)
        m *= mu
        m -= lr * g
        if self._flush:
            flush_subnormals(m, self._scratch(p, 1)[0])
        if self.nesterov:
            p += mu * m - lr * g
        else:
            p += m

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "nesterov": self.nesterov,
        }


class Adam(Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = (
            float(beta_1),
            float(beta_2),
            float(epsilon),
            bool(amsgrad),
        )
        # Keras creates momentum and velocity together (interleaved), velocity_hat in a second call.
        self.slot_groups = (("momentum", "velocity"),) + (
            (("velocity_hat",),) if self.amsgrad else ()
        )

    def _begin_step(self, lr):
        super()._begin_step(lr)
        t = self._t
        # The bias corrections fold into one step size per iteration.
        self._lr_t = lr * math.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)

    def _update(self, p, g, slots):
        m, v = slots[0], slots[1]
        dt = p.dtype.type
        a, b = self._scratch(
            p, 2
        )  # in-place passes into two reused buffers: no temporaries
        np.subtract(g, m, out=a)
        a *= dt(1 - self.beta_1)
        m += a  # m += (g - m)(1 - b1)
        np.multiply(g, g, out=a)
        a -= v
        a *= dt(1 - self.beta_2)
        v += a  # v += (g^2 - v)(1 - b2)
        if self._flush:
            flush_subnormals(m, a)
            flush_subnormals(v, a)
        if self.amsgrad:
            v_hat = slots[2]
            np.maximum(v_hat, v, out=v_hat)  # v_hat = max(v_hat, v)
            v = v_hat
        np.multiply(m, dt(self._lr_t), out=a)
        np.sqrt(v, out=b)
        b += dt(self.epsilon)
        a /= b
        p -= a  # p -= lr_t m / (sqrt(v) + eps)

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None"
            )
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay=weight_decay,
            **kwargs,
        )


class Nadam(Optimizer):
    slot_groups = (("momentum", "velocity"),)

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = (
            float(beta_1),
            float(beta_2),
            float(epsilon),
        )
        self._u_product, self._u_product_steps = np.float32(1), 0

    def _u(self, t):
        """Keras's momentum schedule ``b1 * (1 - 0.5 * 0.96^t)``, in float32 as Keras computes it."""
        f = np.float32
        return f(self.beta_1) * (f(1) - f(0.5) * np.power(f(0.96), f(t)))

    def _begin_step(self, lr):
        super()._begin_step(lr)
        t = self._t
        if self._u_product_steps != t - 1:
            # The product u_1...u_{t-1} after a restore (backup, TerminateOnNaN), in the order it was built.
            self._u_product, self._u_product_steps = np.float32(1), 0
            for i in range(1, t):
                self._u_product = np.float32(self._u_product * self._u(i))
            self._u_product_steps = t - 1
        u_t, u_next = self._u(t), self._u(t + 1)
        self._u_product = np.float32(self._u_product * u_t)  # U_t
        self._u_product_steps = t
        self._c_m = float(u_next) / (
            1 - float(self._u_product * u_next)
        )  # u_{t+1} / (1 - U_{t+1})
        self._c_g = (1 - float(u_t)) / (
            1 - float(self._u_product)
        )  # (1 - u_t) / (1 - U_t)
        self._c_v = 1 / (1 - self.beta_2**t)

    def _update(self, p, g, slots):
        m, v = slots
        dt = p.dtype.type
        m += (g - m) * dt(1 - self.beta_1)
        v += (g * g - v) * dt(1 - self.beta_2)
        if self._flush:
            work = self._scratch(p, 1)[0]
            flush_subnormals(m, work)
            flush_subnormals(v, work)
        m_hat = dt(self._c_m) * m + dt(self._c_g) * g
        v_hat = v * dt(self._c_v)
        p -= m_hat * dt(self._lr) / (np.sqrt(v_hat) + dt(self.epsilon))

    def scalar_variables(self):
        return [("u_product", np.array(self._u_product, dtype=np.float32))]

    def set_scalar_variables(self, values):
        self._u_product, self._u_product_steps = np.float32(values[0]), self.iterations

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adamax(Optimizer):
    slot_groups = (("momentum", "norm"),)

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = (
            float(beta_1),
            float(beta_2),
            float(epsilon),
        )

    def _update(self, p, g, slots):
        m, u = slots
        dt = p.dtype.type
        m += (g - m) * dt(1 - self.beta_1)
        np.maximum(u * dt(self.beta_2), np.abs(g), out=u)
        if self._flush:
            work = self._scratch(p, 1)[0]
            flush_subnormals(m, work)
            flush_subnormals(u, work)
        p -= dt(self._lr) * m / (dt(1 - self.beta_1**self._t) * (u + dt(self.epsilon)))

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    slot_groups = (("accumulated_grad", "accumulated_delta_var"),)

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _update(self, p, g, slots):
        acc_grad, acc_delta = slots
        dt = p.dtype.type
        rho, eps = dt(self.rho), dt(self.epsilon)
        acc_grad *= rho
        acc_grad += (dt(1) - rho) * g * g
        delta = -np.sqrt(acc_delta + eps) * g / np.sqrt(acc_grad + eps)
        acc_delta *= rho
        acc_delta += (dt(1) - rho) * delta * delta
        if self._flush:
            work = self._scratch(p, 1)[0]
            flush_subnormals(acc_grad, work)
            flush_subnormals(acc_delta, work)
        p += dt(self._lr) * delta

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Lion(Optimizer):
    slot_groups = (("momentum",),)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if beta_1 <= 0 or beta_1 > 1:
            raise ValueError(
                f"Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates "
                f"to SignSGD. Received: beta_1={beta_1}."
            )
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)

    def _update(self, p, g, slots):
        m = slots[0]
        dt = p.dtype.type
        p -= dt(self._lr) * np.sign(m * dt(self.beta_1) + g * dt(1 - self.beta_1))
        m *= dt(self.beta_2)
        m += g * dt(1 - self.beta_2)
        if self._flush:
            flush_subnormals(m, self._scratch(p, 1)[0])

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    slot_groups = (("accumulator", "linear"),)

    def __init__(
        self,
        learning_rate=0.001,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        l2_shrinkage_regularization_strength=0.0,
        beta=0.0,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        for arg, value in [
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            (
                "l2_shrinkage_regularization_strength",
                l2_shrinkage_regularization_strength,
            ),
        ]:
            if value < 0.0:
                raise ValueError(
                    f"`{arg}` needs to be positive or zero. Received: {arg}={value}."
                )
        if learning_rate_power > 0.0:
            raise ValueError(
                f"`learning_rate_power` needs to be negative or zero. Received: "
                f"learning_rate_power={learning_rate_power}."
            )
        self.learning_rate_power = float(learning_rate_power)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.l1_regularization_strength = float(l1_regularization_strength)
        self.l2_regularization_strength = float(l2_regularization_strength)
        self.l2_shrinkage_regularization_strength = float(
            l2_shrinkage_regularization_strength
        )
        self.beta = float(beta)

    def _initial_slot(self, name, param):
        return np.full_like(
            param, self.initial_accumulator_value if name == "accumulator" else 0.0
        )

    def _update(self, p, g, slots):
        n, z = slots
        dt = p.dtype.type
        lr, power = dt(self._lr), dt(-self.learning_rate_power)
        l1 = dt(self.l1_regularization_strength)
        l2 = dt(self.l2_regularization_strength + self.beta / (2.0 * self._lr))
        new_n = n + g * g
        new_n_power = np.power(new_n, power)
        z += (
            g
            + dt(2 * self.l2_shrinkage_regularization_strength) * p
            - (new_n_power - np.power(n, power)) / lr * p
        )
        quadratic = new_n_power / lr + dt(2) * l2
        p[...] = (np.clip(z, -l1, l1) - z) / quadratic
        n[...] = new_n

    def get_config(self):
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }


class RMSprop(Optimizer):
    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        **kwargs,
    ):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = (
            float(rho),
            float(momentum),
            float(epsilon),
            bool(centered),
        )
        # Keras: all velocities, then all momentums, then all average gradients (three calls).
        self.slot_groups = (
            (("velocity",),)
            + ((("momentum",),) if self.momentum > 0 else ())
            + ((("average_gradient",),) if self.centered else ())
        )

    def _update(self, p, g, slots):
        dt = p.dtype.type
        v = slots[0]
        v *= dt(self.rho)
        v += dt(1 - self.rho) * g * g
        if self._flush:
            flush_subnormals(v, self._scratch(p, 1)[0])
        if self.centered:
            a = slots[-1]
            a *= dt(self.rho)
            a += dt(1 - self.rho) * g
            denominator = v - a * a + dt(self.epsilon)
        else:
            denominator = v + dt(self.epsilon)
        increment = dt(self._lr) * g / np.sqrt(denominator)
        if self.momentum > 0:
            m = slots[1]
            m *= dt(self.momentum)
            m += increment
            if self._flush:
                flush_subnormals(m, self._scratch(p, 1)[0])
            p -= m
        else:
            p -= increment

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    slot_groups = (("accumulator",),)

    def __init__(
        self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs
    ):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = (
            float(initial_accumulator_value),
            float(epsilon),
        )

    def _initial_slot(self, name, param):
        return np.full_like(param, self.initial_accumulator_value)

    def _update(self, p, g, slots):
        dt = p.dtype.type
        acc = slots[0]
        acc += g * g
        p -= dt(self._lr) * g / np.sqrt(acc + dt(self.epsilon))

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


_BY_NAME = {
    cls.__name__.lower(): cls
    for cls in (SGD, Adam, AdamW, Nadam, Adamax, Adadelta, Lion, Ftrl, RMSprop, Adagrad)
}


def get(identifier):
    """An optimizer from a name (``"adam"``), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    # Keras's rule for optimizers: any case ("Adam", "adam").
    if isinstance(identifier, dict):
        cls = lookup("optimizer", identifier.get("class_name"), _BY_NAME, "class_name")
        return cls.from_config(identifier.get("config", {}))
    return lookup("optimizer", identifier, _BY_NAME, "optimizer")()


def serialize(optimizer):
    """Keras's ``keras.optimizers.serialize``: ``{"module", "class_name", "config", "registered_name"}``."""
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": optimizer.get_config(),
        "registered_name": None,
    }


def deserialize(config):
    return get(config)
