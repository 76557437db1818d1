"""Inverted dropout: drop each unit with probability ``rate`` during training
and scale the survivors by ``1 / (1 - rate)``, so inference needs no change.

Seed 002's example: rate 0.5 zeroes about half the units and doubles the rest.
"""
from __future__ import annotations

from ..backend import xp


def dropout_forward(x, rate, rng, training=True):
    """``x (any shape)`` -> ``(y, mask)``; the mask (0 or ``1/(1-rate)``) is reused by backward.

    ``rng`` is a ``numpy.random.Generator``. At inference (``training=False``)
    or with ``rate == 0``, ``y`` is ``x`` and the mask is ``None``.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1). Received: rate={rate}")
    if not training or rate == 0.0:
        return x, None
    keep = rng.random(x.shape, dtype=xp.float32) >= rate
    mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - rate))
    return x * mask, mask


def dropout_backward(dy, mask):
    """Gradient flows only through the units that were kept, scaled the same way."""
    return dy if mask is None else dy * mask
