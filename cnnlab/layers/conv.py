"""Convolution layers: one N-d class, thin 1D/2D/3D names on top.

Conv1D reads audio-like ``(batch, steps, channels)``, Conv2D images
``(batch, height, width, channels)``, Conv3D video/volumes
``(batch, depth, height, width, channels)`` (seed 002). The kernel is
``(*kernel_size, C_in, filters)``: each filter is an order-3 tensor for 2-D
images, as deep as the input has channels.

``groups=g`` splits the channels into ``g`` independent convolutions (kernel
``(*kernel_size, C_in/g, filters)``); Conv1D also takes ``padding="causal"``
(zeros before the sequence only, so output ``t`` never sees inputs after ``t``).
"""

from __future__ import annotations

from ..backend import fast_path
from ..errors import ShapeError
from ..ops import activations as act_ops
from ..ops import conv as conv_ops
from ..ops import shapes
from . import initializers, regularizers
from .base import Cache, SpatialLayer


class Conv(SpatialLayer):
    """N-d convolution (cross-correlation) with Keras's arguments and defaults."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(
            activation=activation, activity_regularizer=activity_regularizer, **kwargs
        )
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(filters, int) or filters < 1:
            raise ShapeError(
                f"{where}: `filters` must be a positive integer. Received: filters={filters!r}"
            )
        if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
            raise ShapeError(
                f"{where}: the number of groups must be a positive integer. Received: groups={groups!r}"
            )
        if filters % groups:
            raise ShapeError(
                f"{where}: the number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}"
            )
        self.groups = groups
        _only_default(where, data_format=(data_format, (None, "channels_last")))
        self.set_weight_rules("kernel", kernel_regularizer, kernel_constraint)
        self.set_weight_rules("bias", bias_regularizer, bias_constraint)
        self.filters = filters
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        note = "" if self.rank == 1 else ' ("causal" is for Conv1D only)'
        (self.kernel_size, self.strides, self.dilation_rate, self.padding) = (
            window_arguments(
                where,
                self.rank,
                kernel_size,
                strides,
                dilation_rate,
                padding,
                allowed,
                note,
            )
        )
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def kernel_shape(self, channels):
        if channels is not None and channels % self.groups:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}': the number of input channels must be evenly divisible by "
                f"the number of groups. Received: groups={self.groups}, but the input has {channels} channels"
            )
        return (
            *self.kernel_size,
            None if channels is None else channels // self.groups,
            self.filters,
        )

    def op_padding(self):
        """What the op gets: ``"causal"`` becomes explicit zeros before each sequence."""
        if self.padding != "causal":
            return self.padding
        return tuple(
            shapes.causal_padding(k, d)
            for k, d in zip(self.kernel_size, self.dilation_rate)
        )

    def build(self, input_shape):
        self.add_weight(
            "kernel", self.kernel_shape(input_shape[-1]), self.kernel_initializer
        )
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        _, _, _, out = conv_ops.conv_geometry(
            input_shape,
            self.kernel_shape(input_shape[-1]),
            self.strides,
            self.op_padding(),
            self.dilation_rate,
            where=f"{type(self).__name__} '{self.name}'",
            groups=self.groups,
        )
        return (input_shape[0], *out, self.filters)

    def check_input(self, x):
        expected = self._weights["kernel"].shape[-2] * self.groups
        if x.shape[-1] != expected:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' was built for {expected} input channels but got {x.shape[-1]} "
                f"(input and filter channels must match). Received: input shape={tuple(x.shape)}"
            )

    can_crop = True

    def _forward(self, x, training, crop_to=None):
        return conv_ops.conv_forward(
            x,
            self._weights["kernel"],
            self._weights.get("bias"),
            self.strides,
            self.op_padding(),
            self.dilation_rate,
            crop_to,
            self.groups,
            keep_cols=not fast_path(),  # fast: rebuilt chunk by chunk in backward (peak memory)
        )

    def _backward(self, dz, cache, need_dx=True):
        dx, dkernel, dbias = conv_ops.conv_backward(dz, cache, need_dx, fast_path())
        return dx, [dkernel] + ([dbias] if self.use_bias else [])

    # ---- pooling first, then bias and activation (an exact reordering) -------------
    # Max pooling picks per channel, and adding a per-channel bias or applying a
    # non-decreasing activation does not change which cell wins. So
    # ``maxpool(act(conv + b)) == act(maxpool(conv) + b)``; the right-hand side
    # adds the bias and applies the activation on a map 4x smaller (2x2 pool).
    # The model's plan uses these four methods for a Conv followed by MaxPooling.
    def defers_to_pooling(self):
        return act_ops.is_non_decreasing(self.activation_name, self._act_kwargs)

    def forward_linear(self, x, crop_to=None):
        """The convolution alone, no bias, no activation: ``(z, cache)``."""
        return conv_ops.conv_forward(
            x,
            self._weights["kernel"],
            None,
            self.strides,
            self.op_padding(),
            self.dilation_rate,
            crop_to,
            self.groups,
            keep_cols=not fast_path(),  # fast: rebuilt chunk by chunk in backward (peak memory)
        )

    def backward_linear(self, dz, cache, need_dx=True):
        """``(dx, dkernel)`` of :meth:`forward_linear`."""
        dx, dkernel, _ = conv_ops.conv_backward(dz, cache, need_dx, fast_path())
        return dx, dkernel

    def bias_activation(self, p):
        """Bias and activation on a (pooled) map: ``(y, cache)``."""
        z = p + self._weights["bias"] if self.use_bias else p
        if self.activation_name == "linear":
            return z, Cache(None, z, z)
        y = self._act_forward(z, **self._act_kwargs)
        return y, Cache(None, z, y)

    def bias_activation_backward(self, dy, cache):
        """``(dp, dbias or None)`` of :meth:`bias_activation`."""
        dz = (
            dy
            if self.activation_name == "linear"
            else self._act_backward(dy, cache.z, cache.y, **self._act_kwargs)
        )
        dbias = dz.reshape(-1, dz.shape[-1]).sum(axis=0) if self.use_bias else None
        return dz, dbias

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            **self.weight_rules_config("kernel", "bias"),
        }

    def param_formula(self):
        """``"3*3*1*32 + 32 = 320"`` (built layers only)."""
        return shapes.param_formula(self._weights["kernel"].shape, self.use_bias)


def layer_tuples(where, rank, **values):
    """``kernel_size=3`` -> ``(3, 3)`` for each argument, with errors that name the layer."""
    try:
        return [shapes.normalize_tuple(v, rank, k) for k, v in values.items()]
    except ShapeError as e:
        raise ShapeError(f"{where}: {e}") from None


def window_arguments(
    where,
    rank,
    kernel_size,
    strides,
    dilation_rate,
    padding,
    allowed=("valid", "same"),
    note="",
):
    """``(kernel_size, strides, dilation_rate, padding)`` of a sliding-window layer as tuples and
    a lower-case padding, checked as Keras checks them (every convolution layer shares this)."""
    kernel_size, strides, dilation_rate = layer_tuples(
        where,
        rank,
        kernel_size=kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
    )
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ShapeError(
            f"{where}: `strides > 1` not supported in conjunction with `dilation_rate > 1`. "
            f"Received: strides={strides} and dilation_rate={dilation_rate}"
        )
    if not isinstance(padding, str) or padding.lower() not in allowed:
        if allowed == ("valid", "same") and not note:
            expected = '"valid" or "same"'
        else:
            expected = f"one of {', '.join(repr(a) for a in allowed)}{note}"
        raise ShapeError(
            f"{where}: `padding` must be {expected}. Received: padding={padding!r}"
        )
    return kernel_size, strides, dilation_rate, padding.lower()


def _only_default(where, **options):
    """Refuse options cnnlab does not implement, naming them, instead of ignoring them."""
    for name, (value, allowed) in options.items():
        if value not in allowed:
            raise ShapeError(
                f"{where}: cnnlab supports only {name}={allowed[0]!r}. Received: {name}={value!r}"
            )


class Conv1D(Conv):
    """1-D convolution over ``(batch, steps, channels)``."""

    rank = 1


class Conv2D(Conv):
    """2-D convolution over ``(batch, height, width, channels)``."""

    rank = 2


class Conv3D(Conv):
    """3-D convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3
