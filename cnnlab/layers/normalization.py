"""BatchNormalization, with Keras 3's arguments, weights and two modes.

Training (``fit``, or ``layer(x, training=True)``) normalizes with the batch's
statistics and moves the moving averages toward them; inference uses the
moving averages. A frozen layer (``trainable=False``) always runs in inference
mode and never updates its statistics, as in Keras 3 (the usual way to
fine-tune a pretrained network).
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import part_sums
from ..errors import ShapeError
from ..ops import batchnorm as bn_ops
from ..ops import shapes
from . import initializers
from .base import Layer


class BatchNormalization(Layer):
    """Normalize each feature (index along ``axis``) over the batch and the other axes.

    Weights, in Keras's order: ``gamma`` (if ``scale``), ``beta`` (if ``center``),
    ``moving_mean``, ``moving_variance``; the last two are never trained.
    """

    # Batch statistics are over the whole batch: on a batch split across threads each part
    # adds its sums to the others' (cnnlab.part_sums), so the split needs no whole batch.
    needs_whole_batch = False
    non_trainable_names = ("moving_mean", "moving_variance")

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"BatchNormalization '{self.name}'"
        if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
            raise ShapeError(
                f"{where}: `axis` must be one integer (cnnlab normalizes along one axis). "
                f"Received: axis={axis!r}"
            )
        if (
            not isinstance(momentum, numbers.Real)
            or isinstance(momentum, bool)
            or not 0 <= momentum <= 1
        ):
            raise ShapeError(
                f"{where}: `momentum` must be a number in [0, 1] (the weight of the old moving "
                f"average: moving * momentum + batch * (1 - momentum)). Received: momentum={momentum!r}"
            )
        if (
            not isinstance(epsilon, numbers.Real)
            or isinstance(epsilon, bool)
            or not epsilon > 0
        ):
            raise ShapeError(
                f"{where}: `epsilon` must be a positive number (it keeps the division away from "
                f"zero). Received: epsilon={epsilon!r}"
            )
        for key, value in dict(center=center, scale=scale).items():
            if not isinstance(value, (bool, np.bool_)):
                raise ShapeError(
                    f"{where}: `{key}` must be True or False. Received: {key}={value!r}"
                )
        self.set_weight_rules("gamma", gamma_regularizer, gamma_constraint)
        self.set_weight_rules("beta", beta_regularizer, beta_constraint)
        for key, value, off in (
            ("renorm", renorm, False),
            ("renorm_clipping", renorm_clipping, None),
            ("synchronized", synchronized, False),
        ):
            if value not in (off, None, False):
                raise ShapeError(
                    f"{where}: cnnlab does not support `{key}` (batch renormalization or "
                    f"cross-device statistics). Received: {key}={value!r}"
                )
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.renorm_momentum = renorm_momentum
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    # ---- shapes and weights -------------------------------------------
    def check_input_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(
                f"Input 0 of layer '{self.name}' (BatchNormalization) needs at least 2 axes "
                f"(batch, features). Received: input shape={tuple(input_shape)}"
            )
        try:
            bn_ops.channel_axis(
                len(input_shape), self.axis, f"BatchNormalization '{self.name}'"
            )
        except ShapeError as e:
            raise ShapeError(f"{e} (input shape={tuple(input_shape)})") from None
        if input_shape[self.axis] is None:
            raise ShapeError(
                f"BatchNormalization '{self.name}': the size of axis {self.axis} must be known. "
                f"Received: input shape={tuple(input_shape)}"
            )

    def build(self, input_shape):
        channels = (input_shape[self.axis],)
        if self.scale:
            self.add_weight("gamma", channels, self.gamma_initializer)
        if self.center:
            self.add_weight("beta", channels, self.beta_initializer)
        self.add_weight("moving_mean", channels, self.moving_mean_initializer)
        self.add_weight("moving_variance", channels, self.moving_variance_initializer)

    def check_input(self, x):
        channels = self._weights["moving_mean"].shape[0]
        if x.ndim != len(self.input_shape) or x.shape[self.axis] != channels:
            raise ShapeError(
                f"BatchNormalization '{self.name}' was built for input shape {self.input_shape} "
                f"({channels} features along axis {self.axis}). Received: input shape={tuple(x.shape)}"
            )

    # ---- computation --------------------------------------------------
    def uses_batch_statistics(self, training):
        """Keras 3: batch statistics only when training *and* trainable (a frozen BN infers)."""
        return bool(training) and self.trainable

    def _forward(self, x, training):
        w = self._weights
        batch_stats = self.uses_batch_statistics(training)
        part = part_sums.current() if batch_stats else None
        y, cache = bn_ops.batch_norm_forward(
            x,
            w.get("gamma"),
            w.get("beta"),
            w["moving_mean"],
            w["moving_variance"],
            self.axis,
            self.epsilon,
            batch_stats,
            None if part is None else part.total,
        )
        if batch_stats and (part is None or part.first):
            # Once per training step: on a split batch, part 0 moves them (all parts hold the same
            # whole-batch statistics).
            np.copyto(
                w["moving_mean"],
                bn_ops.moving_average(
                    w["moving_mean"], cache.batch_mean, self.momentum
                ),
            )
            np.copyto(
                w["moving_variance"],
                bn_ops.moving_average(
                    w["moving_variance"], cache.batch_var, self.momentum
                ),
            )
        return y, cache

    def _backward(self, dz, cache, need_dx=True):
        dx, dgamma, dbeta = bn_ops.batch_norm_backward(dz, cache, need_dx)
        return dx, ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])

    def cancels_channel_bias(self):
        """True when a per-feature constant added to the input cannot change the output: batch
        statistics along the last axis subtract it again (so the gradient of a bias feeding
        this layer is exactly zero)."""
        return (
            self.trainable
            and self.built
            and self.axis % len(self.input_shape) == len(self.input_shape) - 1
        )

    # ---- description --------------------------------------------------
    def param_formula(self):
        return shapes.batch_norm_param_formula(
            self._weights["moving_mean"].shape[0], self.center, self.scale
        )

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(
                self.moving_mean_initializer
            ),
            "moving_variance_initializer": initializers.serialize(
                self.moving_variance_initializer
            ),
            **self.weight_rules_config("beta", "gamma"),
            "synchronized": False,
            "renorm": False,
            "renorm_clipping": None,
            "renorm_momentum": self.renorm_momentum,
        }
