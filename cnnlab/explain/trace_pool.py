"""One pooling window, step by step: the cells it covers and which one won.

Seed 000: 2x2 max pooling of ``[[1, 3], [2, 4]]`` keeps 4. Max pooling keeps the
largest cell of each window; when several cells tie, cnnlab (as TensorFlow and
PyTorch) counts the *first* maximum in row-major order as the winner, the cell the
gradient goes back to. Padded cells (``padding="same"``) never win a max and are
not counted in an average. The window comes from the same geometry as the layer's
(:func:`cnnlab.ops.pool.pool_geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ops.pool import pool_geometry
from .common import (
    ExplainError,
    as_single_batch,
    describe,
    find_layer,
    is_pool,
    layer_input,
)
from .trace import _position, input_window


@dataclass
class PoolTrace:
    """What :func:`trace_pool` found. ``window`` and ``padded`` have the pool's shape."""

    layer: str
    mode: str  # "max" or "average"
    position: tuple
    channel: int
    window: np.ndarray  # the channel's input cells under the window (padding: -inf for max, 0 for average)
    padded: np.ndarray  # True where the window lies on padding
    winner: (
        tuple | None
    )  # max pooling: the window cell (row-major first maximum) that won
    value: float  # max, or mean of the real cells, computed here
    pool_value: float  # what the layer computed
    strides: tuple
    pads: tuple

    @property
    def matches(self):
        return abs(self.value - self.pool_value) <= 1e-5 * max(
            1.0, abs(self.pool_value)
        )


def max_winner(window: np.ndarray) -> tuple:
    """The index (a tuple) of the first maximum of ``window`` in row-major order."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(window)), window.shape))


def trace_pool(
    model: Any, x: Any, layer: Any, position: Any, channel: int = 0
) -> PoolTrace:
    """Trace pooling layer ``layer`` (name, index or object) at output ``position``
    for ``channel`` on the image ``x``. Returns a :class:`PoolTrace`."""
    where = "trace_pool"
    batch = as_single_batch(model, x, where)
    index, target = find_layer(model, layer, where)
    if not is_pool(target):
        raise ExplainError(
            f"{where}: layer {describe(target)} is not a pooling layer. Received: layer={layer!r}"
        )
    outputs, _ = model.layer_outputs(batch)
    x_in, y = layer_input(batch, outputs, index)[0], outputs[index][0]
    position = _position(position, y.shape[:-1], target)
    if not (isinstance(channel, (int, np.integer)) and 0 <= channel < y.shape[-1]):
        raise ExplainError(
            f"{where}: layer {describe(target)} has {y.shape[-1]} channels (0 to {y.shape[-1] - 1}). "
            f"Received: channel={channel!r}"
        )
    pool, strides, pads, _ = pool_geometry(
        (1, *x_in.shape), target.pool_size, target.strides, target.padding, where
    )
    mode = "max" if "Max" in type(target).__name__ else "average"
    ones = (1,) * len(pool)
    fill = -np.inf if mode == "max" else 0.0
    window, padded, _ = input_window(
        x_in[..., channel : channel + 1], position, pool, strides, ones, pads, fill
    )
    window = window[..., 0]
    if mode == "max":
        winner = max_winner(window)
        value = float(window[winner])
    else:
        winner, value = None, float(window[~padded].mean())
    return PoolTrace(
        layer=target.name,
        mode=mode,
        position=position,
        channel=int(channel),
        window=window,
        padded=np.array(padded),
        winner=winner,
        value=value,
        pool_value=float(y[(*position, channel)]),
        strides=tuple(strides),
        pads=tuple(pads),
    )
