"""Inverted dropout and the other noise layers' ops, each active only in training.

Dropout drops each unit with probability ``rate`` during training and scales the
survivors by ``1 / (1 - rate)``, so inference needs no change (seed 002's example:
rate 0.5 zeroes about half the units and doubles the rest). With a ``noise_shape``
(spatial dropout: ``(N, 1, ..., 1, C)``) one draw decides for a whole feature map.

Every op takes a ``numpy.random.Generator`` and returns what its backward needs.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..backend import Array, xp
from .activations import SELU_ALPHA, SELU_SCALE


def dropout_forward(
    x: Array,
    rate: float,
    rng: np.random.Generator,
    training: bool = True,
    noise_shape: Sequence[int] | None = None,
) -> tuple[Array, Array | None]:
    """``x (any shape)`` -> ``(y, mask)``; the mask (0 or ``1/(1-rate)``, of ``noise_shape``,
    broadcast against ``x``) is reused by backward.

    At inference (``training=False``) or with ``rate == 0``, ``y`` is ``x`` and the mask is ``None``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1). Received: rate={rate}")
    if not training or rate == 0.0:
        return x, None
    keep = (
        rng.random(x.shape if noise_shape is None else noise_shape, dtype=xp.float32)
        >= rate
    )
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - rate))
    return x * mask, mask


def dropout_backward(dy: Array, mask: Array | None) -> Array:
    """Gradient flows only through the units that were kept, scaled the same way."""
    return dy if mask is None else dy * mask


def spatial_noise_shape(x_shape: Sequence[int]) -> tuple[int, ...]:
    """Spatial dropout's mask: one draw per sample and channel, ``(N, 1, ..., 1, C)``."""
    return (x_shape[0],) + (1,) * (len(x_shape) - 2) + (x_shape[-1],)


def gaussian_noise_forward(
    x: Array, stddev: float, rng: np.random.Generator, training: bool = True
) -> tuple[Array, None]:
    """``x + N(0, stddev^2)`` in training, ``x`` otherwise; the gradient passes unchanged."""
    if not training or stddev == 0:
        return x, None
    return x + rng.standard_normal(x.shape, dtype=xp.float32).astype(
        x.dtype, copy=False
    ) * x.dtype.type(stddev), None


def gaussian_dropout_forward(
    x: Array, rate: float, rng: np.random.Generator, training: bool = True
) -> tuple[Array, Array | None]:
    """``x * N(1, rate / (1 - rate))`` in training (multiplicative noise with the variance of
    dropout at ``rate``); the mask is reused by :func:`dropout_backward`."""
    if not training or rate == 0:
        return x, None
    stddev = math.sqrt(rate / (1.0 - rate))
    mask = 1 + rng.standard_normal(x.shape, dtype=xp.float32).astype(
        x.dtype, copy=False
    ) * x.dtype.type(stddev)
    return x * mask, mask


def alpha_dropout_forward(
    x: Array,
    rate: float,
    rng: np.random.Generator,
    training: bool = True,
    noise_shape: Sequence[int] | None = None,
) -> tuple[Array, Array | None]:
    """Dropout that keeps SELU's self-normalization (Klambauer et al. 2017, as Keras computes it):
    dropped units are set to SELU's negative saturation ``alpha' = -scale * alpha``, then
    ``a * x + b`` restores mean 0 and variance 1, with ``a = ((1 - rate)(1 + rate alpha'^2))^-1/2``
    and ``b = -a alpha' rate``. Returns ``(y, a * keep)``: the gradient is ``dy * a * keep``."""
    if not training or rate == 0:
        return x, None
    alpha_p = -SELU_ALPHA * SELU_SCALE
    keep = (
        rng.random(x.shape if noise_shape is None else noise_shape, dtype=xp.float32)
        >= rate
    ).astype(x.dtype)
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    y = x.dtype.type(a) * (
        x * keep + x.dtype.type(alpha_p) * (1 - keep)
    ) + x.dtype.type(b)
    return y, keep * x.dtype.type(a)
