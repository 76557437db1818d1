"""Shape and resampling layers: ZeroPadding, Cropping, UpSampling (1-3D, one class each),
Resizing, CenterCrop, Rescaling, Permute, RepeatVector, Identity.

The arithmetic lives in :mod:`cnnlab.ops.resample`; these classes hold Keras's arguments,
defaults and configs.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import ShapeError
from ..ops import resample as rs_ops
from ..ops import shapes
from ..ops.resize import resize_backward
from .base import Layer, SpatialLayer


def _pair(value, name, where):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or any(
        not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0
        for v in pair
    ):
        raise ShapeError(
            f"{where}: each entry of `{name}` must be a non-negative int or a (before, after) pair "
            f"of them. Received: {name}={value!r}"
        )
    return tuple(int(v) for v in pair)


def pairs(value, rank, name, where):
    """Keras's forms of padding/cropping: an int (every side), ``rank`` ints (symmetric per
    axis), or ``rank`` pairs; for rank 1 a single pair ``(before, after)``."""
    if rank == 1:
        return (_pair(value, name, where),)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (_pair(value, name, where),) * rank
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if len(items) != rank:
        raise ShapeError(
            f"{where}: `{name}` should have {rank} elements, one per spatial axis. "
            f"Received: {name}={value!r}"
        )
    return tuple(_pair(v, name, where) for v in items)


def _config_pairs(p):
    return p[0] if len(p) == 1 else p


class _Spatial(SpatialLayer):
    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ShapeError(
                f"{type(self).__name__} '{self.name}': cnnlab supports only data_format='channels_last'. "
                f"Received: data_format={data_format!r}"
            )

    @property
    def where(self):
        return f"{type(self).__name__} '{self.name}'"


class ZeroPadding(_Spatial):
    """Zeros around the spatial axes: ``(N, *S, C) -> (N, *(S + before + after), C)``."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.padding = pairs(padding, self.rank, "padding", self.where)

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            *(
                None if s is None else s + b + a
                for s, (b, a) in zip(input_shape[1:-1], self.padding)
            ),
            input_shape[-1],
        )

    def _forward(self, x, training):
        return rs_ops.zero_pad_forward(x, self.padding)

    def _backward(self, dz, cache, need_dx=True):
        return rs_ops.zero_pad_backward(dz, cache), []

    def get_config(self):
        return {
            **super().get_config(),
            "padding": _config_pairs(self.padding),
            "data_format": "channels_last",
        }


class Cropping(_Spatial):
    """Cells cut from both ends of each spatial axis: ``(N, *S, C) -> (N, *(S - before - after), C)``."""

    def __init__(self, cropping=1, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.cropping = pairs(cropping, self.rank, "cropping", self.where)

    def compute_output_shape(self, input_shape):
        out = []
        for axis, (s, (b, a)) in enumerate(zip(input_shape[1:-1], self.cropping)):
            if s is not None and b + a >= s:
                raise ShapeError(
                    f"{self.where}: cropping {b} + {a} cells from spatial axis {axis} of size {s} "
                    f"leaves nothing. Received: input shape={tuple(input_shape)}, "
                    f"cropping={_config_pairs(self.cropping)}"
                )
            out.append(None if s is None else s - b - a)
        return (input_shape[0], *out, input_shape[-1])

    def _forward(self, x, training):
        return rs_ops.crop_forward(x, self.cropping, self.where)

    def _backward(self, dz, cache, need_dx=True):
        return rs_ops.crop_backward(dz, cache), []

    def get_config(self):
        config = {**super().get_config(), "cropping": _config_pairs(self.cropping)}
        if self.rank > 1:
            config["data_format"] = "channels_last"
        return config


class UpSampling(_Spatial):
    """Each cell repeated ``size`` times along each spatial axis (nearest); UpSampling2D also
    interpolates bilinearly (half-pixel centres, clamped edges, as Keras/TensorFlow)."""

    def __init__(self, size=2, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        try:
            self.size = shapes.normalize_tuple(size, self.rank, "size")
        except ShapeError as e:
            raise ShapeError(f"{self.where}: {e}") from None
        allowed = ("nearest", "bilinear") if self.rank == 2 else ("nearest",)
        if not isinstance(interpolation, str) or interpolation.lower() not in allowed:
            raise ShapeError(
                f"{self.where}: `interpolation` must be one of {allowed} in cnnlab. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation.lower()

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            *(
                None if s is None else s * f
                for s, f in zip(input_shape[1:-1], self.size)
            ),
            input_shape[-1],
        )

    def _forward(self, x, training):
        if self.interpolation == "nearest":
            return rs_ops.repeat_forward(x, self.size)
        return rs_ops.spatial_resize(
            x, [s * f for s, f in zip(x.shape[1:-1], self.size)], "bilinear"
        )

    def _backward(self, dz, cache, need_dx=True):
        if self.interpolation == "nearest":
            return rs_ops.repeat_backward(dz, cache), []
        return resize_backward(dz, cache), []

    def get_config(self):
        config = super().get_config()
        if self.rank == 1:
            return {**config, "size": self.size[0]}
        config.update({"size": self.size, "data_format": "channels_last"})
        if self.rank == 2:
            config["interpolation"] = self.interpolation
        return config


def _variant(base, name, rank, doc):
    return type(name, (base,), {"rank": rank, "__doc__": doc})


ZeroPadding1D = _variant(
    ZeroPadding, "ZeroPadding1D", 1, "Zero padding of (batch, steps, channels)."
)
ZeroPadding2D = _variant(
    ZeroPadding, "ZeroPadding2D", 2, "Zero padding of (batch, height, width, channels)."
)
ZeroPadding3D = _variant(
    ZeroPadding,
    "ZeroPadding3D",
    3,
    "Zero padding of (batch, depth, height, width, channels).",
)
Cropping1D = _variant(
    Cropping, "Cropping1D", 1, "Cropping of (batch, steps, channels)."
)


class Cropping2D(Cropping):
    """Cropping of (batch, height, width, channels); Keras's default here crops nothing."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


Cropping3D = _variant(
    Cropping, "Cropping3D", 3, "Cropping of (batch, depth, height, width, channels)."
)
UpSampling1D = _variant(
    UpSampling, "UpSampling1D", 1, "Nearest upsampling of (batch, steps, channels)."
)
UpSampling2D = _variant(
    UpSampling, "UpSampling2D", 2, "Nearest or bilinear upsampling of images."
)
UpSampling3D = _variant(UpSampling, "UpSampling3D", 3, "Nearest upsampling of volumes.")


class Resizing(Layer):
    """Images resized to ``(height, width)``, as Keras 3 resizes them (no antialiasing):
    ``crop_to_aspect_ratio`` first cuts the largest centred box of the target's aspect ratio,
    ``pad_to_aspect_ratio`` first pads with ``fill_value`` to it; then bilinear or nearest."""

    input_rank = 4
    rank_hint = "(batch, height, width, channels)"

    def __init__(
        self,
        height,
        width,
        interpolation="bilinear",
        crop_to_aspect_ratio=False,
        pad_to_aspect_ratio=False,
        fill_mode="constant",
        fill_value=0.0,
        antialias=False,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"{type(self).__name__} '{self.name}'"
        for key, value in (("height", height), ("width", width)):
            if (
                not isinstance(value, numbers.Integral)
                or isinstance(value, bool)
                or value < 1
            ):
                raise ShapeError(
                    f"{where}: `{key}` must be a positive integer. Received: {key}={value!r}"
                )
        if interpolation not in ("bilinear", "nearest"):
            raise ShapeError(
                f'{where}: cnnlab resizes with interpolation "bilinear" or "nearest". '
                f"Received: interpolation={interpolation!r}"
            )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ShapeError(
                f"{where}: Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be `True`. "
                f"Received: crop_to_aspect_ratio={crop_to_aspect_ratio}, "
                f"pad_to_aspect_ratio={pad_to_aspect_ratio}"
            )
        for key, value, allowed in (
            ("fill_mode", fill_mode, ("constant",)),
            ("antialias", bool(antialias), (False,)),
            ("data_format", data_format, (None, "channels_last")),
        ):
            if value not in allowed:
                raise ShapeError(
                    f"{where}: cnnlab supports only {key}={allowed[0]!r}. Received: {key}={value!r}"
                )
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = (
            bool(crop_to_aspect_ratio),
            bool(pad_to_aspect_ratio),
        )
        self.fill_value = float(fill_value)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def _boxes(self, h, w, mode):
        return (
            shapes.aspect_ratio_box(h, w, self.height, self.width, mode),
            shapes.aspect_ratio_box(w, h, self.width, self.height, mode),
        )

    def _forward(self, x, training):
        first = None
        if self.crop_to_aspect_ratio:
            (hs, hl), (ws, wl) = self._boxes(x.shape[1], x.shape[2], "crop")
            x, first = rs_ops.crop_forward(
                x, ((hs, x.shape[1] - hs - hl), (ws, x.shape[2] - ws - wl))
            )
            first = ("crop", first)
        elif self.pad_to_aspect_ratio:
            (hs, _), (ws, _) = self._boxes(x.shape[1], x.shape[2], "pad")
            x, first = rs_ops.pad_constant_forward(
                x, ((hs, hs), (ws, ws)), self.fill_value
            )
            first = ("pad", first)
        y, cache = rs_ops.spatial_resize(
            x, (self.height, self.width), self.interpolation
        )
        return y, (first, cache)

    def _backward(self, dz, cache, need_dx=True):
        first, resize_cache = cache
        dx = resize_backward(dz, resize_cache)
        if first is not None:
            kind, inner = first
            dx = (
                rs_ops.crop_backward(dx, inner)
                if kind == "crop"
                else rs_ops.zero_pad_backward(dx, inner)
            )
        return dx, []

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": "channels_last",
            "height": self.height,
            "width": self.width,
            "interpolation": self.interpolation,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "pad_to_aspect_ratio": self.pad_to_aspect_ratio,
            "fill_mode": "constant",
            "fill_value": self.fill_value,
            "antialias": False,
        }


class CenterCrop(Layer):
    """The centred ``(height, width)`` box of each image; an image smaller than that along
    either axis is first cropped to the target's aspect ratio and resized (Keras's ``smart_resize``)."""

    input_rank = 4
    rank_hint = "(batch, height, width, channels)"

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self._resize = Resizing(
            height,
            width,
            crop_to_aspect_ratio=True,
            data_format=data_format,
            name=f"{self.name}_resize",
        )
        self.height, self.width = self._resize.height, self._resize.width

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def _forward(self, x, training):
        h, w = x.shape[1], x.shape[2]
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            y, cache = rs_ops.crop_forward(
                x, ((top, h - top - self.height), (left, w - left - self.width))
            )
            return y, ("crop", cache)
        y, cache = self._resize._forward(x, training)
        return y, ("resize", cache)

    def _backward(self, dz, cache, need_dx=True):
        kind, inner = cache
        if kind == "crop":
            return rs_ops.crop_backward(dz, inner), []
        return self._resize._backward(dz, inner)

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": "channels_last",
            "height": self.height,
            "width": self.width,
        }


class Rescaling(Layer):
    """``x * scale + offset`` (``Rescaling(1/255)`` turns pixels into [0, 1]). ``scale`` and
    ``offset`` may also be a list, one value per channel (EfficientNet divides by the ImageNet
    standard deviations so), broadcast against the last axes as NumPy broadcasts."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = self._number_or_numbers("scale", scale)
        self.offset = self._number_or_numbers("offset", offset)

    def _number_or_numbers(self, key, value):
        numbers_given = (
            np.asarray(value) if not isinstance(value, (str, bytes)) else None
        )
        if (
            numbers_given is None
            or numbers_given.dtype.kind not in "iuf"
            or numbers_given.size == 0
            or not np.all(np.isfinite(numbers_given))
        ):
            raise ShapeError(
                f"Rescaling '{self.name}': cnnlab takes `{key}` as one finite number or a list of them "
                f"(one per channel). Received: {key}={value!r}"
            )
        if numbers_given.ndim == 0:
            return float(numbers_given)
        return numbers_given.astype(float).tolist()

    def check_input_shape(self, input_shape):
        for key in ("scale", "offset"):
            shape = np.shape(getattr(self, key))
            try:
                np.broadcast_shapes(
                    tuple(1 if s is None else s for s in input_shape[1:]), shape
                )
            except ValueError:
                raise ShapeError(
                    f"Rescaling '{self.name}': `{key}` of shape {shape} does not broadcast against one "
                    f"sample of shape {tuple(input_shape[1:])} (a list gives one value per channel, the "
                    f"last axis). Received: input shape={tuple(input_shape)}"
                ) from None

    def _forward(self, x, training):
        scale = np.asarray(self.scale, dtype=x.dtype)
        return x * scale + np.asarray(self.offset, dtype=x.dtype), scale

    def _backward(self, dz, scale, need_dx=True):
        return dz * scale, []

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


class Permute(Layer):
    """Reorders the axes after the batch: ``Permute((2, 1))`` swaps them (indices start at 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if not isinstance(dims, numbers.Integral) else (dims,)
        if sorted(dims) != list(range(1, len(dims) + 1)) or any(
            isinstance(d, bool) for d in dims
        ):
            raise ShapeError(
                f"Permute '{self.name}': Invalid permutation argument `dims` for Permute Layer. The set "
                f"of indices in `dims` must be consecutive and start from 1. Received: dims={dims!r}"
            )
        self.dims = tuple(int(d) for d in dims)

    def check_input_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ShapeError(
                f"Permute '{self.name}' with dims={self.dims} expects input of rank "
                f"{len(self.dims) + 1}. Received: input shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def _forward(self, x, training):
        return x.transpose(0, *self.dims), None

    def _backward(self, dz, cache, need_dx=True):
        return dz.transpose(0, *(int(i) + 1 for i in np.argsort(self.dims))), []

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """``(N, features) -> (N, n, features)``: the vector repeated ``n`` times."""

    input_rank = 2
    rank_hint = "(batch, features)"

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
            raise ShapeError(
                f"RepeatVector '{self.name}': `n` must be a positive integer. Received: n={n!r}"
            )
        self.n = int(n)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def _forward(self, x, training):
        return np.repeat(x[:, None, :], self.n, axis=1), None

    def _backward(self, dz, cache, need_dx=True):
        return dz.sum(axis=1), []

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Identity(Layer):
    """Passes its input through unchanged (a placeholder in a model)."""

    def _forward(self, x, training):
        return x, None
