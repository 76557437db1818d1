"""Noise layers, active only in training (identity at inference): SpatialDropout1D/2D/3D,
GaussianNoise, GaussianDropout, AlphaDropout.

They draw their numbers as Dropout does: from the layer's own generator (seeded by
``seed``, else from ``keras.utils.set_random_seed``), or from the stream of the thread
that runs this part of a split batch (``cnnlab.random.stream``).
"""

from __future__ import annotations

from .. import random as cnn_random
from ..backend import floatx
from ..errors import ShapeError
from ..ops import dropout as dropout_ops
from .base import Layer, SpatialLayer


def _check_rate(layer, rate, high_open=True, name="rate"):
    ok = (
        isinstance(rate, (int, float))
        and not isinstance(rate, bool)
        and 0 <= rate
        and (rate < 1 if high_open else rate <= 1)
    )
    if not ok:
        interval = "[0, 1)" if high_open else "[0, 1]"
        raise ShapeError(
            f"{type(layer).__name__} '{layer.name}': `{name}` must be a number in {interval}. "
            f"Received: {name}={rate!r}"
        )
    return float(rate)


class _Noise(Layer):
    stochastic = True

    def _seeded(self, seed):
        self.seed = seed
        self.rng = cnn_random.make_generator(seed)

    def _stream(self):
        return cnn_random.stream(self.rng)

    def _backward(self, dz, mask, need_dx=True):
        return dropout_ops.dropout_backward(dz, mask), []


class SpatialDropout(_Noise, SpatialLayer):
    """Drops whole feature maps (channels) of a sample: ``rate`` of them, the rest scaled by ``1/(1-rate)``."""

    keras_plain_dtype = True

    def __init__(
        self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs
    ):
        super().__init__(name=name, **kwargs)
        if data_format not in (None, "channels_last"):
            raise ShapeError(
                f"{type(self).__name__} '{self.name}': cnnlab supports only data_format='channels_last'. "
                f"Received: data_format={data_format!r}"
            )
        self.rate = _check_rate(self, rate)
        self._seeded(seed)

    def _forward(self, x, training):
        return dropout_ops.dropout_forward(
            x,
            self.rate,
            self._stream(),
            training,
            dropout_ops.spatial_noise_shape(x.shape),
        )

    def get_config(self):
        # Keras's SpatialDropout writes only these (its __init__ takes no `trainable`)
        config = {
            "rate": self.rate,
            "seed": self.seed,
            "name": self.name,
            "dtype": floatx,
        }
        if self.rank > 1:
            config["data_format"] = "channels_last"
        return config


class SpatialDropout1D(SpatialDropout):
    """Spatial dropout over ``(batch, steps, channels)``."""

    rank = 1

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(SpatialDropout):
    """Spatial dropout over ``(batch, height, width, channels)``."""

    rank = 2


class SpatialDropout3D(SpatialDropout):
    """Spatial dropout over ``(batch, depth, height, width, channels)``."""

    rank = 3


class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training."""

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _check_rate(self, stddev, high_open=False, name="stddev")
        self._seeded(seed)

    def _forward(self, x, training):
        return dropout_ops.gaussian_noise_forward(
            x, self.stddev, self._stream(), training
        )

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 and variance ``rate / (1 - rate)`` in training."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(self, rate)
        self._seeded(seed)

    def _forward(self, x, training):
        return dropout_ops.gaussian_dropout_forward(
            x, self.rate, self._stream(), training
        )

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_Noise):
    """Dropout for SELU networks: keeps the activations' mean and variance (see ``ops.dropout``)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(self, rate)
        if noise_shape is not None:
            raise ShapeError(
                f"AlphaDropout '{self.name}': cnnlab supports only noise_shape=None. "
                f"Received: noise_shape={noise_shape!r}"
            )
        self._seeded(seed)

    def _forward(self, x, training):
        return dropout_ops.alpha_dropout_forward(x, self.rate, self._stream(), training)

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": None,
        }
