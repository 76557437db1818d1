"""Transposed convolution layers (``Conv1DTranspose``/``Conv2DTranspose``/``Conv3DTranspose``):
one N-d class over :mod:`cnnlab.ops.conv_transpose`.

They grow a feature map (``strides=2`` doubles it with ``padding="same"``), as the
decoder of an autoencoder or a segmentation net does. The kernel is Keras's
``(*kernel_size, filters, C_in)``: note the order, the reverse of Conv's.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..ops import conv_transpose as ct_ops
from ..ops import shapes
from . import initializers
from .base import SpatialLayer
from .conv import _only_default, window_arguments


class ConvTranspose(SpatialLayer):
    """N-d transposed convolution with Keras's arguments and defaults."""

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
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
        super().__init__(activation=activation, **kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
            raise ShapeError(
                f"{where}: `filters` must be a positive integer. Received: filters={filters!r}"
            )
        _only_default(
            where,
            data_format=(data_format, (None, "channels_last")),
            kernel_regularizer=(kernel_regularizer, (None,)),
            bias_regularizer=(bias_regularizer, (None,)),
            activity_regularizer=(activity_regularizer, (None,)),
            kernel_constraint=(kernel_constraint, (None,)),
            bias_constraint=(bias_constraint, (None,)),
        )
        self.filters = filters
        (self.kernel_size, self.strides, self.dilation_rate, self.padding) = (
            window_arguments(
                where, self.rank, kernel_size, strides, dilation_rate, padding
            )
        )
        ops_ = ct_ops.normalize_output_padding(output_padding, self.strides, where)
        self.output_padding = None if output_padding is None else ops_
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def kernel_shape(self, channels):
        return (*self.kernel_size, self.filters, channels)

    def build(self, input_shape):
        self.add_weight(
            "kernel", self.kernel_shape(input_shape[-1]), self.kernel_initializer
        )
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        _, _, _, out, _ = ct_ops.conv_transpose_geometry(
            input_shape,
            self.kernel_shape(input_shape[-1]),
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
            where=f"{type(self).__name__} '{self.name}'",
        )
        return (input_shape[0], *out, self.filters)

    def check_input(self, x):
        expected = self._weights["kernel"].shape[-1]
        if x.shape[-1] != expected:
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' was built for {expected} input channels but got "
                f"{x.shape[-1]}. Received: input shape={tuple(x.shape)}"
            )

    def _forward(self, x, training):
        return ct_ops.conv_transpose_forward(
            x,
            self._weights["kernel"],
            self._weights.get("bias"),
            self.strides,
            self.padding,
            self.output_padding,
            self.dilation_rate,
        )

    def _backward(self, dz, cache, need_dx=True):
        dx, dkernel, dbias = ct_ops.conv_transpose_backward(dz, cache, need_dx)
        return dx, [dkernel] + ([dbias] if self.use_bias else [])

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "output_padding": self.output_padding,
            "data_format": "channels_last",
            "dilation_rate": self.dilation_rate,
            "activation": self.activation_name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }

    def param_formula(self):
        """``"3*3*16*8 + 16 = 1,168"`` (built layers only)."""
        return shapes.transpose_param_formula(
            self._weights["kernel"].shape, self.use_bias
        )


class Conv1DTranspose(ConvTranspose):
    """1-D transposed convolution over ``(batch, steps, channels)``."""

    rank = 1


class Conv2DTranspose(ConvTranspose):
    """2-D transposed convolution over ``(batch, height, width, channels)``."""

    rank = 2


class Conv3DTranspose(ConvTranspose):
    """3-D transposed convolution over ``(batch, depth, height, width, channels)``."""

    rank = 3
