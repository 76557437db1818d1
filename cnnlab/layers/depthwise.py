"""Depthwise and separable convolutions (``DepthwiseConv1D/2D``, ``SeparableConv1D/2D``).

A depthwise convolution filters every input channel on its own with
``depth_multiplier`` filters: kernel ``(*kernel_size, C, dm)``, output channel
``c*dm + m``. It is the grouped convolution with one group per channel
(``ops.conv.depthwise_kernel_as_grouped``), so it shares Conv's op.

A separable convolution is a depthwise one followed by a 1x1 ("pointwise")
convolution that mixes the channels: kernel ``(*1, C*dm, filters)``, then one
bias per filter. Far fewer weights than a full convolution of the same size.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..ops import conv as conv_ops
from ..ops import dense as dense_ops
from ..ops import shapes
from . import initializers
from .base import SpatialLayer
from .conv import _only_default, window_arguments


def _check_depth_multiplier(where, depth_multiplier):
    if (
        not isinstance(depth_multiplier, int)
        or isinstance(depth_multiplier, bool)
        or depth_multiplier < 1
    ):
        raise ShapeError(
            f"{where}: `depth_multiplier` must be a positive integer (the number of filters per "
            f"input channel). Received: depth_multiplier={depth_multiplier!r}"
        )


class _DepthwiseBase(SpatialLayer):
    """What Depthwise and Separable share: the depthwise step's arguments and op."""

    def _depthwise_args(
        self,
        kernel_size,
        strides,
        padding,
        data_format,
        dilation_rate,
        depth_multiplier,
    ):
        where = f"{type(self).__name__} '{self.name}'"
        _check_depth_multiplier(where, depth_multiplier)
        self.depth_multiplier = depth_multiplier
        (self.kernel_size, self.strides, self.dilation_rate, self.padding) = (
            window_arguments(
                where, self.rank, kernel_size, strides, dilation_rate, padding
            )
        )
        _only_default(where, data_format=(data_format, (None, "channels_last")))
        return where

    def depthwise_shape(self, channels):
        return (*self.kernel_size, channels, self.depth_multiplier)

    def _spatial_out(self, input_shape):
        grouped = conv_ops.depthwise_kernel_as_grouped_shape(
            self.depthwise_shape(input_shape[-1])
        )
        _, _, _, out = conv_ops.conv_geometry(
            input_shape,
            grouped,
            self.strides,
            self.padding,
            self.dilation_rate,
            where=f"{type(self).__name__} '{self.name}'",
            groups=input_shape[-1],
        )
        return out

    def _depthwise_forward(self, x, kernel, bias):
        return conv_ops.conv_forward(
            x,
            conv_ops.depthwise_kernel_as_grouped(kernel),
            bias,
            self.strides,
            self.padding,
            self.dilation_rate,
            groups=x.shape[-1],
        )

    def check_input(self, x):
        expected = self._weights[self.depthwise_weight].shape[-2]
        if x.shape[-1] != expected:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' was built for {expected} input channels but got "
                f"{x.shape[-1]}. Received: input shape={tuple(x.shape)}"
            )


class DepthwiseConv(_DepthwiseBase):
    """N-d depthwise convolution (Keras has 1D and 2D)."""

    depthwise_weight = "kernel"

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activation=activation, **kwargs)
        where = self._depthwise_args(
            kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier
        )
        _only_default(
            where,
            depthwise_regularizer=(depthwise_regularizer, (None,)),
            bias_regularizer=(bias_regularizer, (None,)),
            activity_regularizer=(activity_regularizer, (None,)),
            depthwise_constraint=(depthwise_constraint, (None,)),
            bias_constraint=(bias_constraint, (None,)),
        )
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        self.add_weight(
            "kernel", self.depthwise_shape(input_shape[-1]), self.depthwise_initializer
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (input_shape[-1] * self.depth_multiplier,),
                self.bias_initializer,
            )

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            *self._spatial_out(input_shape),
            input_shape[-1] * self.depth_multiplier,
        )

    def _forward(self, x, training):
        return self._depthwise_forward(
            x, self._weights["kernel"], self._weights.get("bias")
        )

    def _backward(self, dz, cache, need_dx=True):
        dx, dkernel, dbias = conv_ops.conv_backward(dz, cache, need_dx)
        return dx, [dkernel.reshape(self._weights["kernel"].shape)] + (
            [dbias] if self.use_bias else []
        )

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "depthwise_constraint": None,
            "bias_constraint": None,
        }

    def param_formula(self):
        return shapes.depthwise_param_formula(
            self._weights["kernel"].shape, self.use_bias
        )


class SeparableConv(_DepthwiseBase):
    """N-d separable convolution: depthwise, then pointwise (1x1), then bias and activation."""

    depthwise_weight = "depthwise_kernel"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activation=activation, **kwargs)
        where = self._depthwise_args(
            kernel_size, strides, padding, data_format, dilation_rate, depth_multiplier
        )
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ShapeError(
                f"{where}: `filters` must be a positive integer. Received: filters={filters!r}"
            )
        _only_default(
            where,
            depthwise_regularizer=(depthwise_regularizer, (None,)),
            pointwise_regularizer=(pointwise_regularizer, (None,)),
            bias_regularizer=(bias_regularizer, (None,)),
            activity_regularizer=(activity_regularizer, (None,)),
            depthwise_constraint=(depthwise_constraint, (None,)),
            pointwise_constraint=(pointwise_constraint, (None,)),
            bias_constraint=(bias_constraint, (None,)),
        )
        self.filters = filters
        self.use_bias = use_bias
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def pointwise_shape(self, channels):
        return (1,) * self.rank + (channels * self.depth_multiplier, self.filters)

    def build(self, input_shape):
        self.add_weight(
            "depthwise_kernel",
            self.depthwise_shape(input_shape[-1]),
            self.depthwise_initializer,
        )
        self.add_weight(
            "pointwise_kernel",
            self.pointwise_shape(input_shape[-1]),
            self.pointwise_initializer,
        )
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._spatial_out(input_shape), self.filters)

    def _forward(self, x, training):
        h, depthwise_cache = self._depthwise_forward(
            x, self._weights["depthwise_kernel"], None
        )
        pointwise = self._weights["pointwise_kernel"]
        # A 1x1 convolution is a Dense layer on the channel axis.
        y, pointwise_cache = dense_ops.dense_forward(
            h, pointwise.reshape(pointwise.shape[-2:]), self._weights.get("bias")
        )
        return y, (depthwise_cache, pointwise_cache)

    def _backward(self, dz, cache, need_dx=True):
        depthwise_cache, pointwise_cache = cache
        dh, dpointwise, dbias = dense_ops.dense_backward(dz, pointwise_cache, True)
        dx, ddepthwise, _ = conv_ops.conv_backward(dh, depthwise_cache, need_dx)
        grads = [
            ddepthwise.reshape(self._weights["depthwise_kernel"].shape),
            dpointwise.reshape(self._weights["pointwise_kernel"].shape),
        ]
        return dx, grads + ([dbias] if self.use_bias else [])

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": None,
            "pointwise_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "depthwise_constraint": None,
            "pointwise_constraint": None,
            "bias_constraint": None,
        }

    def param_formula(self):
        return shapes.separable_param_formula(
            self._weights["depthwise_kernel"].shape,
            self._weights["pointwise_kernel"].shape,
            self.use_bias,
        )


class DepthwiseConv1D(DepthwiseConv):
    """1-D depthwise convolution over ``(batch, steps, channels)``."""

    rank = 1


class DepthwiseConv2D(DepthwiseConv):
    """2-D depthwise convolution over ``(batch, height, width, channels)``."""

    rank = 2


class SeparableConv1D(SeparableConv):
    """1-D separable convolution over ``(batch, steps, channels)``."""

    rank = 1


class SeparableConv2D(SeparableConv):
    """2-D separable convolution over ``(batch, height, width, channels)``."""

    rank = 2
