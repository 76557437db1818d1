"""Image augmentation layers with Keras 3's arguments: random in training, identity in inference.

Each layer draws one random transformation per image of the batch (``RandomCrop``:
one window per batch, as Keras) from its own seeded generator, then applies a pure
op (``cnnlab.ops.warp``, ``cnnlab.ops.augment``) that has a backward pass, so an
augmentation layer may sit anywhere in a model, not only first.

Keras's meanings, easy to get wrong:

* ``RandomRotation(factor)``: a fraction of a full turn, 2π; ``0.1`` draws angles in
  ``[-36°, 36°]``, a pair ``(low, high)`` in ``[low·360°, high·360°]``;
* ``RandomZoom(height_factor)``: zoom ``1 + u`` with ``u`` drawn in the factor's range; a
  positive ``u`` zooms *out* (the image shrinks); ``width_factor=None`` uses the height's zoom;
* ``RandomTranslation``: fractions of the height and width;
* ``RandomContrast(factor)``: a number ``f`` draws the contrast in ``[1, 1 + f]`` (Keras 3's
  range: ``factor`` becomes ``(0, f)`` and the draw is in ``[1 - 0, 1 + f]``), a pair ``(a, b)``
  in ``[1 - a, 1 + b]``; results clipped to ``value_range``;
* ``RandomBrightness(factor, value_range)``: adds ``u · (high - low)`` with ``u`` drawn in
  ``[-f, f]``, clipped to ``value_range``;
* ``RandomFlip("horizontal_and_vertical")``: one coin per image flips both axes together;
* ``RandomCrop(height, width)``: in training a random window (one per batch) when the image is
  larger than it in both axes, else the centred window of the target's aspect ratio resized to
  the target; in inference Keras 3.15 returns the input *uncropped* (its ``transform_images``
  does nothing when not training), and so does cnnlab, although the layer's output shape
  says ``(height, width)``: later layers that need that size fail in ``predict``, as in Keras.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import random as cnn_random
from ..errors import ShapeError
from ..ops import augment as aug_ops
from ..ops import resize as resize_ops
from ..ops import warp as warp_ops
from .base import Layer


def _is_number(v):
    return (
        isinstance(v, numbers.Real)
        and not isinstance(v, (bool, np.bool_))
        and math.isfinite(v)
    )


def factor_range(value, name, where, low, high, low_open=False):
    """Keras's factor argument: a number ``f`` means ``(-|f|, |f|)`` clipped below at ``low``; a
    pair ``(a, b)`` means ``(min, max)``. Every number must lie in ``[low, high]`` (``(low, high]``
    with ``low_open``). Returns ``(lower, upper)``."""
    bounds = f"({low}, {high}]" if low_open else f"[{low}, {high}]"

    def check(v):
        if not _is_number(v) or v > high or v < low or (low_open and v == low):
            raise ShapeError(
                f"{where}: `{name}` must be a number or a pair (low, high) of numbers in {bounds}. "
                f"Received: {name}={value!r}"
            )
        return float(v) if isinstance(v, float) else v

    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            check(None)
        return tuple(sorted(check(v) for v in value))
    f = abs(check(value))
    return max(-f, low), f


class RandomImageLayer(Layer):
    """Base: images ``(batch, height, width, channels)``, a seeded generator, identity in inference."""

    input_rank = 4
    rank_hint = "(batch, height, width, channels)"
    stochastic = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ShapeError(
                f"{self._where}: cnnlab supports only data_format='channels_last'. "
                f"Received: data_format={data_format!r}"
            )
        if seed is not None and (
            not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
        ):
            raise ShapeError(
                f"{self._where}: `seed` must be an integer or None. Received: seed={seed!r}"
            )
        self.seed = seed
        self.rng = cnn_random.make_generator(seed)

    @property
    def _where(self):
        return f"{type(self).__name__} '{self.name}'"

    def _forward(self, x, training):
        if not training:
            return x, None
        return self._augment(x, cnn_random.stream(self.rng))

    def _backward(self, dz, cache, need_dx=True):
        return (dz if cache is None else self._augment_backward(dz, cache)), []

    def get_config(self):
        return {
            **super().get_config(),
            "data_format": "channels_last",
            "seed": self.seed,
        }


class RandomFlip(RandomImageLayer):
    """Flip each image with probability 1/2: ``"horizontal"`` (left-right), ``"vertical"``
    (up-down) or ``"horizontal_and_vertical"`` (both, with the same coin)."""

    MODES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}

    def __init__(
        self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in self.MODES:
            raise ShapeError(
                f"{self._where}: `mode` must be one of {sorted(self.MODES)}. Received: mode={mode!r}"
            )
        self.mode = mode

    def _augment(self, x, rng):
        flips = rng.random(len(x)) <= 0.5
        return aug_ops.flip_forward(x, flips, self.MODES[self.mode]), flips

    def _augment_backward(self, dz, flips):
        return aug_ops.flip_forward(dz, flips, self.MODES[self.mode])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _WarpLayer(RandomImageLayer):
    """A random warp per image (rotation, zoom, translation) through ``ops.warp``."""

    def __init__(
        self,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in warp_ops.FILL_MODES:
            raise ShapeError(
                f"{self._where}: `fill_mode` must be one of {warp_ops.FILL_MODES}. "
                f"Received: fill_mode={fill_mode!r}"
            )
        if interpolation not in warp_ops.INTERPOLATIONS:
            raise ShapeError(
                f"{self._where}: `interpolation` must be one of {warp_ops.INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        if not _is_number(fill_value):
            raise ShapeError(
                f"{self._where}: `fill_value` must be a number. Received: fill_value={fill_value!r}"
            )
        self.fill_mode, self.interpolation, self.fill_value = (
            fill_mode,
            interpolation,
            fill_value,
        )

    def _augment(self, x, rng):
        transforms = self.transforms(rng, *x.shape[:3])
        return warp_ops.warp_forward(
            x, transforms, None, self.interpolation, self.fill_mode, self.fill_value
        )

    def _augment_backward(self, dz, cache):
        return warp_ops.warp_backward(dz, cache)

    def get_config(self):
        return {
            **super().get_config(),
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
        }


class RandomRotation(_WarpLayer):
    """Rotate each image about its centre by a random angle: ``factor`` is a fraction of 2π."""

    def __init__(
        self,
        factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            fill_mode, interpolation, seed, fill_value, data_format, **kwargs
        )
        self.factor = factor_range(factor, "factor", self._where, -1, 1)

    def transforms(self, rng, n, height, width):
        turns = rng.uniform(self.factor[0], self.factor[1], n)
        return warp_ops.rotation_transforms(turns * 2 * math.pi, height, width)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomZoom(_WarpLayer):
    """Zoom each image about its centre by ``1 + u``, ``u`` in the factor's range (positive: out)."""

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            fill_mode, interpolation, seed, fill_value, data_format, **kwargs
        )
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = factor_range(
            height_factor, "height_factor", self._where, -1, 1, low_open=True
        )
        self.width_range = (
            None
            if width_factor is None
            else factor_range(
                width_factor, "width_factor", self._where, -1, 1, low_open=True
            )
        )

    def transforms(self, rng, n, height, width):
        zh = 1 + rng.uniform(self.height_range[0], self.height_range[1], n)
        zw = (
            zh
            if self.width_range is None
            else 1 + rng.uniform(self.width_range[0], self.width_range[1], n)
        )
        return warp_ops.zoom_transforms(zh, zw, height, width)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


class RandomTranslation(_WarpLayer):
    """Shift each image by fractions of its height and width drawn in the factors' ranges."""

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode="reflect",
        interpolation="bilinear",
        seed=None,
        fill_value=0.0,
        data_format=None,
        **kwargs,
    ):
        super().__init__(
            fill_mode, interpolation, seed, fill_value, data_format, **kwargs
        )
        self.height_factor, self.width_factor = height_factor, width_factor
        self.height_range = factor_range(
            height_factor, "height_factor", self._where, -1, 1
        )
        self.width_range = factor_range(
            width_factor, "width_factor", self._where, -1, 1
        )

    def transforms(self, rng, n, height, width):
        ty = rng.uniform(self.height_range[0], self.height_range[1], n) * height
        tx = rng.uniform(self.width_range[0], self.width_range[1], n) * width
        return warp_ops.translation_transforms(ty, tx)

    def get_config(self):
        return {
            **super().get_config(),
            "height_factor": self.height_factor,
            "width_factor": self.width_factor,
        }


def _value_range(value, where):
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise ShapeError(
            f"{where}: `value_range` must be a pair of numbers (low, high). "
            f"Received: value_range={value!r}"
        )
    return value


class RandomContrast(RandomImageLayer):
    """Scale each image's deviation from its mean (per channel) by a random contrast factor."""

    def __init__(
        self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "factor", self._where, 0, 1)
        self.value_range = _value_range(value_range, self._where)

    def _augment(self, x, rng):
        factors = rng.uniform(1.0 - self.factor[0], 1.0 + self.factor[1], len(x))
        return aug_ops.contrast_forward(x, factors, sorted(self.value_range))

    def _augment_backward(self, dz, cache):
        return aug_ops.contrast_backward(dz, cache)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
        }


class RandomBrightness(RandomImageLayer):
    """Add ``u · (high - low)`` to each image, ``u`` drawn in the factor's range, then clip."""

    def __init__(
        self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs
    ):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = factor_range(factor, "factor", self._where, -1, 1)
        self.value_range = sorted(_value_range(value_range, self._where))

    def _augment(self, x, rng):
        deltas = rng.uniform(self.factor[0], self.factor[1], len(x)) * (
            self.value_range[1] - self.value_range[0]
        )
        return aug_ops.brightness_forward(x, deltas, self.value_range)

    def _augment_backward(self, dz, cache):
        return aug_ops.brightness_backward(dz, cache)

    def get_config(self):
        return {
            **super().get_config(),
            "factor": self.factor,
            "value_range": self.value_range,
        }


class RandomCrop(RandomImageLayer):
    """A random ``height x width`` window in training; the input unchanged in inference (Keras 3.15)."""

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        for key, value in (("height", height), ("width", width)):
            if (
                not isinstance(value, numbers.Integral)
                or isinstance(value, bool)
                or value < 1
            ):
                raise ShapeError(
                    f"{self._where}: `{key}` must be a positive integer. Received: {key}={value!r}"
                )
        self.height, self.width = int(height), int(width)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def _augment(self, x, rng):
        in_h, in_w = x.shape[1:3]
        if in_h > self.height and in_w > self.width:
            top = int(rng.uniform(0, in_h - self.height + 1))
            left = int(rng.uniform(0, in_w - self.width + 1))
        else:  # Keras: the centred window of the target's aspect ratio
            crop_h = max(min(in_h, int(in_w * self.height / self.width)), 1)
            crop_w = max(min(in_w, int(in_h * self.width / self.height)), 1)
            top, left = int((in_h - crop_h) / 2), int((in_w - crop_w) / 2)
        y, crop_cache = aug_ops.crop_forward(x, top, left, self.height, self.width)
        if y.shape[1:3] == (self.height, self.width):
            return y, ("crop", crop_cache)
        # Keras slices height x width from (top, left) and resizes what it got (TensorFlow's bilinear resize).
        z, resize_cache = resize_ops.resize(
            y, (self.height, self.width), axes=(1, 2), interpolation="bilinear"
        )
        return z, ("resize", crop_cache, resize_cache)

    def _augment_backward(self, dz, cache):
        if cache[0] == "resize":
            dz = resize_ops.resize_backward(dz, cache[2])
        return aug_ops.crop_backward(dz, cache[1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
