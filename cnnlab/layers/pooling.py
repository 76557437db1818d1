"""Pooling layers: max/average over windows (N-d, one class each) and global pooling."""

from __future__ import annotations

from ..errors import ShapeError
from ..ops import pool as pool_ops
from ..ops import shapes
from .base import SPATIAL_NAMES, SpatialLayer

_REQUIRED = object()


class Pooling(SpatialLayer):
    """Max or average pooling in ``rank`` spatial dimensions."""

    mode = "max"

    def __init__(
        self,
        pool_size=_REQUIRED,
        strides=None,
        padding="valid",
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        if pool_size is _REQUIRED:
            if self.mode == "average":
                raise TypeError(
                    f"{type(self).__name__}.__init__() missing required argument: 'pool_size'"
                )
            pool_size = 2
        if data_format not in (None, "channels_last"):
            raise ShapeError(
                f"{where}: cnnlab supports only data_format='channels_last'. Received: data_format={data_format!r}"
            )
        self.pool_size = shapes.normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = (
            self.pool_size
            if strides is None
            else shapes.normalize_tuple(strides, self.rank, "strides")
        )
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ShapeError(
                f'{where}: `padding` must be "valid" or "same". Received: padding={padding!r}'
            )
        self.padding = padding.lower()

    def compute_output_shape(self, input_shape):
        _, _, _, out = pool_ops.pool_geometry(
            input_shape,
            self.pool_size,
            self.strides,
            self.padding,
            where=f"{type(self).__name__} '{self.name}'",
        )
        return (input_shape[0], *out, input_shape[-1])

    def used_input_extent(self, input_shape):
        if self.padding != "valid":
            return None
        out = self.compute_output_shape(input_shape)[1:-1]
        if None in out:
            return None  # an image size left open (None): the extent is known only per batch
        return tuple(
            (o - 1) * s + p for o, s, p in zip(out, self.strides, self.pool_size)
        )

    def _forward(self, x, training):
        fn = (
            pool_ops.max_pool_forward
            if self.mode == "max"
            else pool_ops.avg_pool_forward
        )
        return fn(x, self.pool_size, self.strides, self.padding)

    def _backward(self, dz, cache, need_dx=True):
        fn = (
            pool_ops.max_pool_backward
            if self.mode == "max"
            else pool_ops.avg_pool_backward
        )
        return fn(dz, cache), []

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": "channels_last",
        }


def _variant(base, name, rank, mode, doc):
    """``MaxPooling2D`` and friends: the N-d class with its rank and mode fixed."""
    return type(name, (base,), {"rank": rank, "mode": mode, "__doc__": doc})


def _pool_class(name, rank, mode):
    return _variant(
        Pooling,
        name,
        rank,
        mode,
        f"{'Max' if mode == 'max' else 'Average'} pooling over {SPATIAL_NAMES[rank]}.",
    )


MaxPooling1D = _pool_class("MaxPooling1D", 1, "max")
MaxPooling2D = _pool_class("MaxPooling2D", 2, "max")
MaxPooling3D = _pool_class("MaxPooling3D", 3, "max")
AveragePooling1D = _pool_class("AveragePooling1D", 1, "average")
AveragePooling2D = _pool_class("AveragePooling2D", 2, "average")
AveragePooling3D = _pool_class("AveragePooling3D", 3, "average")


class GlobalPooling(SpatialLayer):
    """The max or mean of each channel over all spatial positions: ``(N, *S, C) -> (N, C)``."""

    mode = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ShapeError(
                f"{type(self).__name__} '{self.name}': cnnlab supports only data_format='channels_last'. "
                f"Received: data_format={data_format!r}"
            )
        self.keepdims = keepdims

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def _forward(self, x, training):
        fn = (
            pool_ops.global_max_pool_forward
            if self.mode == "max"
            else pool_ops.global_avg_pool_forward
        )
        y, cache = fn(x)
        return (
            y.reshape((x.shape[0],) + (1,) * self.rank + (x.shape[-1],))
            if self.keepdims
            else y
        ), cache

    def _backward(self, dz, cache, need_dx=True):
        fn = (
            pool_ops.global_max_pool_backward
            if self.mode == "max"
            else pool_ops.global_avg_pool_backward
        )
        return fn(dz.reshape(dz.shape[0], dz.shape[-1]), cache), []

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": "channels_last",
            "keepdims": self.keepdims,
        }


def _global_class(name, rank, mode):
    return _variant(
        GlobalPooling,
        name,
        rank,
        mode,
        f"Global {'max' if mode == 'max' else 'average'} pooling over {SPATIAL_NAMES[rank]}.",
    )


GlobalMaxPooling1D = _global_class("GlobalMaxPooling1D", 1, "max")
GlobalMaxPooling2D = _global_class("GlobalMaxPooling2D", 2, "max")
GlobalMaxPooling3D = _global_class("GlobalMaxPooling3D", 3, "max")
GlobalAveragePooling1D = _global_class("GlobalAveragePooling1D", 1, "average")
GlobalAveragePooling2D = _global_class("GlobalAveragePooling2D", 2, "average")
GlobalAveragePooling3D = _global_class("GlobalAveragePooling3D", 3, "average")
