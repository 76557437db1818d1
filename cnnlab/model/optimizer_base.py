"""The base optimizer: what every Keras 3 optimizer does around its own update rule.

One call of ``apply`` (keras/src/optimizers/base_optimizer.py, ``apply`` and
``_backend_apply_gradients``), in this order:

1. ``gradient_accumulation_steps=k``: the gradient is added to an accumulator and nothing
   else happens, except on every k-th call, where the gradient used is
   ``(g + accumulated) / k`` and the accumulator is emptied;
2. clipping, at most one of: ``clipnorm`` (each weight's gradient scaled to an L2 norm of at
   most ``clipnorm``), ``global_clipnorm`` (all gradients scaled together so that their joint
   norm is at most ``global_clipnorm``), ``clipvalue`` (each element clipped to
   ``[-clipvalue, clipvalue]``);
3. ``weight_decay``: every trainable weight, biases included, shrinks by ``w *= 1 - wd * lr``
   (decoupled decay, before the rule; AdamW is Adam with ``weight_decay=0.004``);
4. the optimizer's own rule (``_update``), with the learning rate of this step;
5. ``use_ema``: ``average = m * average + (1 - m) * w`` with ``m = ema_momentum`` (0 on the
   first step); every ``ema_overwrite_frequency`` steps the weights are replaced by their
   averages, and at the end of ``fit`` (``finalize_variable_values``) too;
6. ``iterations`` grows by one.

The learning rate may be a number, a ``LearningRateSchedule`` (called with the step count
before this update: the first update uses step 0) or a callable without arguments (Keras
calls it so). ``optimizer.learning_rate`` reads the rate of the next update, and can be set
to a number unless a schedule drives it, as in Keras.

The state lives in one flat buffer per slot (one per kind of per-weight variable), with a
view per weight, so the whole model is updated in a few in-place passes (``apply_flat``).
"""

from __future__ import annotations

import threading
import warnings

import numpy as np

from ..errors import CnnlabError
from . import parallel
from . import schedules as schedules_mod
from .schedules import LearningRateSchedule


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


def _number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )


class Optimizer:
    """Base class: Keras 3's options, the learning rate, the state, ``apply``/``apply_flat``.

    Subclasses set ``slot_groups`` (their per-weight state, grouped as Keras creates it:
    each group is one ``add_optimizer_variables`` call, which interleaves its names per
    weight: m0, v0, m1, v1...), ``_begin_step`` (per-step scalars) and ``_update`` (the rule).
    """

    slot_groups: tuple[tuple[str, ...], ...] = ()

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        cls = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.",
                stacklevel=3,
            )
        if kwargs:
            raise ValueError(
                f"{cls}: argument(s) not recognized: {kwargs}. Received: {kwargs}"
            )
        if loss_scale_factor is not None:
            raise CnnlabError(
                f"{cls}: `loss_scale_factor` scales the loss for float16 (mixed precision) training; "
                f"cnnlab trains in float32 only, where the scale would cancel out. Leave it None. "
                f"Received: loss_scale_factor={loss_scale_factor!r}"
            )
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(
                f"`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError(
                    f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int)
                or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    f"`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                    f"ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.name = name or cls.lower()
        self.weight_decay, self.clipnorm, self.clipvalue = (
            weight_decay,
            clipnorm,
            clipvalue,
        )
        self.global_clipnorm, self.use_ema, self.ema_momentum = (
            global_clipnorm,
            use_ema,
            ema_momentum,
        )
        self.ema_overwrite_frequency, self.loss_scale_factor = (
            ema_overwrite_frequency,
            loss_scale_factor,
        )
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._learning_rate = self._checked_learning_rate(learning_rate)
        self._iterations = 0
        self.built = False
        self._slots: list[list[np.ndarray]] = []
        self._flat_slots: list[np.ndarray] = []

    # ---- the learning rate ----------------------------------------------------------
    @staticmethod
    def _checked_learning_rate(value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            return value
        if not _number(value):
            raise ValueError(
                f"Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or "
                f"a callable (that takes in the current iteration value and returns the corresponding "
                f"learning rate value). Received instead: learning_rate={value!r}"
            )
        return float(value)

    @property
    def learning_rate(self) -> float:
        """The rate the next update uses (a schedule's value at the current step count)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        if callable(lr):
            return float(lr())
        return lr

    @learning_rate.setter
    def learning_rate(self, value):
        if not (
            isinstance(value, LearningRateSchedule) or callable(value)
        ) and callable(self._learning_rate):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                "constructor argument, hence its learning rate is not settable. If you need the learning "
                "rate to be settable, you should instantiate the optimizer with a float `learning_rate` "
                "argument."
            )
        self._learning_rate = self._checked_learning_rate(value)

    @property
    def learning_rate_is_variable(self) -> bool:
        """Keras keeps a number as a ``learning_rate`` variable (saved with the state); a schedule is not one."""
        return not callable(self._learning_rate)

    def _restore_learning_rate(self, value):
        """A saved rate, put back unless a schedule computes it. A value equal in float32 to the configured one
        keeps the configured number, so training continues bit for bit."""
        if self.learning_rate_is_variable and np.float32(
            self._learning_rate
        ) != np.float32(value):
            self._learning_rate = float(value)

    # ---- the step counter ------------------------------------------------------------
    @property
    def iterations(self) -> int:
        """Completed updates: calls of ``apply``, divided by ``gradient_accumulation_steps`` as Keras does.
        (``_iterations`` counts every call; schedules read that one, as in Keras.)"""
        if self.gradient_accumulation_steps:
            return self._iterations // self.gradient_accumulation_steps
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        self._iterations = int(value)

    # ---- state --------------------------------------------------------------------------
    @property
    def _base_slot_names(self):
        return (("average",) if self.use_ema else ()) + (
            ("gradient_accumulator",) if self.gradient_accumulation_steps else ()
        )

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Every per-weight state variable, the base options' first (Keras creates them first)."""
        return self._base_slot_names + tuple(
            name for group in self.slot_groups for name in group
        )

    def _initial_slot(self, name, param):
        return np.zeros_like(param)

    def build(self, params):
        """Create the state: one flat buffer per slot, and per parameter a view into it."""
        self._set_bounds([p.size for p in params])
        self._build_slots(
            [[self._initial_slot(name, p) for p in params] for name in self.slot_names]
        )

    def _set_bounds(self, sizes):
        """Where each weight lies in the flat buffers (for per-weight gradient clipping)."""
        ends = np.cumsum(sizes, dtype=np.int64).tolist()
        self._bounds = list(zip([0] + ends[:-1], ends))

    def _build_slots(self, slots):
        self._flat_slots, self._slots = [], []
        for arrays in slots:
            flat = (
                np.concatenate([np.ravel(a) for a in arrays])
                if arrays
                else np.zeros(0, np.float32)
            )
            views, offset = [], 0
            for a in arrays:
                views.append(flat[offset : offset + a.size].reshape(a.shape))
                offset += a.size
            self._flat_slots.append(flat)
            self._slots.append(views)
        if slots:
            self._set_bounds([a.size for a in slots[0]])
        self.built = True

    def keras_order(self, n_params):
        """``(slot index, param index)`` of every per-weight variable in Keras's creation order."""
        order = [
            (s, p) for s in range(len(self._base_slot_names)) for p in range(n_params)
        ]
        index = len(self._base_slot_names)
        for group in self.slot_groups:
            order += [
                (index + k, p) for p in range(n_params) for k in range(len(group))
            ]
            index += len(group)
        return order

    def scalar_variables(self):
        """Scalar state Keras creates after the per-weight variables (Nadam's ``u_product``): ``[(name, array)]``."""
        return []

    def set_scalar_variables(self, values):
        pass

    @property
    def variables(self):
        """Keras's ``optimizer.variables``, in its order: ``iteration``, ``learning_rate`` (a number only), the
        per-weight variables, then any scalar state."""
        head = [np.array(self._iterations, dtype=np.int64)]
        if self.learning_rate_is_variable:
            head.append(np.array(self._learning_rate, dtype=np.float32))
        if not self.built:
            return head
        n_params = len(self._slots[0]) if self._slots else 0
        return (
            head
            + [self._slots[s][p] for s, p in self.keras_order(n_params)]
            + [v for _, v in self.scalar_variables()]
        )

    def get_state(self):
        return {
            "iterations": self._iterations,
            "slots": [[s.copy() for s in slot] for slot in self._slots],
        }

    def set_state(self, state):
        self._iterations = int(state["iterations"])
        self._build_slots([[np.asarray(s) for s in slot] for slot in state["slots"]])

    # ---- one update ----------------------------------------------------------------------
    def _scratch(self, like, count):
        """``count`` reusable work arrays shaped like ``like`` (kept between steps)."""
        key = (like.shape, like.dtype.str, threading.get_ident())  # one set per thread
        cache = self.__dict__.setdefault("_scratch_buffers", {})
        if key not in cache:
            cache[key] = [np.empty_like(like) for _ in range(count)]
        return cache[key]

    def apply(self, params, grads):
        """One update of every parameter (in place); ``grads`` are not modified."""
        params = list(params)
        grads = [
            np.array(g, dtype=p.dtype) for p, g in zip(params, grads)
        ]  # copies: clipping works in place
        if not self.built:
            self.build(params)
        chunks = [
            (p, g, [slot[i] for slot in self._slots])
            for i, (p, g) in enumerate(zip(params, grads))
        ]
        self._apply(lambda fn: [fn(*chunk) for chunk in chunks], grads)

    def apply_flat(self, flat_params, flat_grads, threads=1):
        """The same update on whole buffers: ``flat_params`` holds the parameters given to ``build``, one after
        another (a few large in-place passes instead of many small ones). Every element's update is independent,
        so the buffers are cut into ``threads`` parts updated side by side. ``flat_grads`` is used as work space."""
        n = flat_params.size
        parts = [
            slice(n * i // threads, n * (i + 1) // threads) for i in range(threads)
        ]

        def each(fn):
            parallel.run(
                lambda sl: fn(
                    flat_params[sl], flat_grads[sl], [s[sl] for s in self._flat_slots]
                ),
                parts,
            )

        bounds = getattr(self, "_bounds", None)
        if bounds is None:
            if self.clipnorm:
                raise CnnlabError(
                    f"{type(self).__name__}: clipnorm needs the weights' sizes; call "
                    f"optimizer.build(model.trainable_weights) before apply_flat."
                )
            bounds = [(0, flat_grads.size)]
        self._apply(each, [flat_grads[a:b] for a, b in bounds])

    def apply_gradients(self, grads_and_vars):
        """Keras's spelling: an iterable of ``(gradient, variable)`` pairs."""
        pairs = list(grads_and_vars)
        self.apply([v for _, v in pairs], [g for g, _ in pairs])
        return self._iterations

    def _apply(self, each, weight_grads):
        """Steps 1-6 of the module docstring; ``each(fn)`` runs ``fn(p, g, slots)`` over every piece of the
        parameters (their gradients and all their slots); ``weight_grads`` holds one gradient array per weight."""
        k = self.gradient_accumulation_steps
        if k:
            acc = self.slot_names.index("gradient_accumulator")
            if (self._iterations + 1) % k:
                each(lambda p, g, s: np.add(s[acc], g, out=s[acc]))
                self._finish_step(each)
                return

            def average(p, g, s):
                g += s[acc]
                g /= g.dtype.type(k)
                s[acc][...] = 0

            each(average)
        self._clip(weight_grads)
        lr = self.learning_rate
        self._begin_step(lr)
        decay = None if self.weight_decay is None else 1 - self.weight_decay * lr
        n_base = len(self._base_slot_names)

        def update(p, g, s):
            if decay is not None:
                p *= p.dtype.type(decay)
            self._update(p, g, s[n_base:])

        each(update)
        self._finish_step(each)

    def _clip(self, grads):
        """Keras's ``_clip_gradients``, in place on the per-weight gradients."""
        if self.clipnorm and self.clipnorm > 0:
            for g in grads:
                flat = g.reshape(-1)
                norm = np.sqrt(np.dot(flat, flat))
                g *= g.dtype.type(self.clipnorm) / np.maximum(
                    norm, g.dtype.type(self.clipnorm)
                )
        elif self.global_clipnorm and self.global_clipnorm > 0:
            if not grads:
                return
            clip = np.float32(self.global_clipnorm)
            norm = np.sqrt(
                np.float32(sum(np.dot(g.reshape(-1), g.reshape(-1)) for g in grads))
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                # Keras: clip * min(1/norm, 1/clip), made NaN when the norm is not finite.
                scale = clip * np.minimum(
                    np.float32(1) / norm, np.float32(1) / clip
                ) + (norm - norm)
            for g in grads:
                g *= scale
        elif self.clipvalue and self.clipvalue > 0:
            for g in grads:
                np.clip(g, -self.clipvalue, self.clipvalue, out=g)

    def _finish_step(self, each):
        if self.use_ema:
            momentum = self.ema_momentum if self.iterations != 0 else 0.0
            overwrite = (
                bool(self.ema_overwrite_frequency)
                and (self.iterations + 1) % self.ema_overwrite_frequency == 0
            )

            def ema(p, g, s):
                average = s[0]
                average *= average.dtype.type(momentum)
                average += p.dtype.type(1 - momentum) * p
                if overwrite:
                    p[...] = average

            each(ema)
        self._iterations += 1

    def finalize_variable_values(self, var_list):
        """At the end of ``fit``: with ``use_ema`` the weights take their moving averages (as Keras)."""
        if self.use_ema and self.built:
            for p, average in zip(var_list, self._slots[0]):
                p[...] = average

    def _begin_step(self, lr):
        """Per-step quantities shared by every parameter; ``self._t`` is the 1-based update number."""
        self._lr = lr
        self._t = self.iterations + 1
        self._flush = self._t % FLUSH_EVERY == 0

    def _update(self, p, g, slots):
        raise NotImplementedError

    # ---- configuration --------------------------------------------------------------------
    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules_mod.serialize(lr)
        elif callable(lr):
            raise CnnlabError(
                f"{type(self).__name__}: a learning rate given as a Python callable cannot be saved; "
                f"use a keras.optimizers.schedules.LearningRateSchedule. Received: learning_rate={lr!r}"
            )
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules_mod.deserialize(config["learning_rate"])
        return cls(**config)


__all__ = ["Optimizer", "flush_subnormals", "FLUSH_EVERY"]
