"""What every lesson shares: the lesson record, its result, seeding, data, figures.

A lesson is four functions and some words:

* ``measure(**settings) -> result``: trains or probes a small model and
  returns a dataclass of the numbers it measured (small settings make it fast
  enough for a test);
* ``plot(result, path)``: one figure (matplotlib, Agg canvas, imported lazily);
* ``text(result, lang) -> str``: the explanation in Korean (``"ko"``) or
  English (``"en"``), with the measured numbers filled in;
* a title and a one-line summary in both languages.

:func:`cnnlab.lessons.run` puts them together and writes the page.
"""

from __future__ import annotations

import dataclasses
import math
import random as _py_random
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

LANGS = ("ko", "en")


@dataclass
class Lesson:
    """One lesson: ``name`` is what ``cnnlab lesson NAME`` takes."""

    name: str
    title: dict  # {"ko": ..., "en": ...}
    summary: dict  # one line per language, for ``--list``
    measure: Callable  # (**settings) -> Result
    plot: Callable  # (result, path) -> path
    text: Callable  # (result, lang) -> Markdown
    seeds: str = ""  # which seed passages the lesson tests


class Result:
    """Mixin for the lessons' result dataclasses: :meth:`numbers` lists the
    measured values (scalars and short lists), leaving out arrays kept only for plots."""

    def numbers(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("plot_only"):
                continue
            value = _plain(getattr(self, f.name))
            if value is not _SKIP:
                out[f.name] = value
        return out


_SKIP = object()


def _plain(value, depth=0):
    """``value`` as JSON-friendly scalars, lists and dicts, or ``_SKIP`` for big arrays."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str) or value is None:
        return value
    if isinstance(value, np.ndarray):
        if value.size > 64 or depth > 2:
            return _SKIP
        return _plain(value.tolist(), depth)
    if isinstance(value, (list, tuple)):
        if len(value) > 64 or depth > 2:
            return _SKIP
        items = [_plain(v, depth + 1) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, dict):
        items = {str(k): _plain(v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not _SKIP}
    return _SKIP


def plot_only(default=None, factory=None):
    """A result field kept for the figure but not listed among the numbers."""
    if factory is not None:
        return field(default_factory=factory, metadata={"plot_only": True}, repr=False)
    return field(default=default, metadata={"plot_only": True}, repr=False)


# --------------------------------------------------------------------------- reproducibility


@contextmanager
def seeded(seed):
    """Seed cnnlab (and NumPy's and Python's global generators) for the block, then
    put every generator and the automatic layer names back as they were, so a
    lesson leaves the caller's session untouched."""
    from .. import random as cnn_random
    from ..layers import base as layer_base

    saved_rng = cnn_random.get_state()
    saved_np = np.random.get_state()
    saved_py = _py_random.getstate()
    uids = getattr(layer_base, "_uids", None)
    saved_uids = dict(uids) if isinstance(uids, dict) else None
    cnn_random.set_seed(seed)
    try:
        yield
    finally:
        cnn_random.set_state(saved_rng)
        np.random.set_state(saved_np)
        _py_random.setstate(saved_py)
        if saved_uids is not None:
            uids.clear()
            uids.update(saved_uids)


# --------------------------------------------------------------------------- data


def mnist(flat=False):
    """The MNIST sample bundled with cnnlab (2,000 training and 500 test images),
    scaled to [0, 1] as float32: images ``(N, 28, 28, 1)``, or ``(N, 784)`` with ``flat``."""
    from ..data.mnist import load_sample

    (x, y), (xt, yt) = load_sample()
    shape = (-1, 784) if flat else (-1, 28, 28, 1)
    return (
        (x.reshape(shape).astype(np.float32) / 255, y.astype(np.int64)),
        (xt.reshape(shape).astype(np.float32) / 255, yt.astype(np.int64)),
    )


def per_class(y, n, seed=0):
    """Indices of ``n // 10`` samples of each class (a small balanced sample)."""
    rng = np.random.default_rng(seed)
    return np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(y == c), n // 10, replace=False)
                for c in range(10)
            ]
        )
    )


def shift_images(x, dy, dx):
    """Move images ``(N, H, W, C)`` by ``dy`` rows and ``dx`` columns, filling with zeros."""
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


# --------------------------------------------------------------------------- training helpers


def batch_loss_recorder(batch_size, n_samples):
    """A callback that keeps every batch's own loss.

    ``fit`` logs the running mean of the epoch; the batch's loss is recovered
    from two consecutive means: ``(mean_b * seen_b - mean_{b-1} * seen_{b-1}) / n_b``.
    """
    from ..model.callbacks import Callback

    class BatchLosses(Callback):
        def __init__(self):
            super().__init__()
            self.losses = []

        def on_epoch_begin(self, epoch, logs=None):
            self._seen, self._mean = 0, 0.0

        def on_train_batch_end(self, batch, logs=None):
            size = min(batch_size, n_samples - batch * batch_size)
            mean = float((logs or {}).get("loss", float("nan")))
            seen = self._seen + size
            self.losses.append((mean * seen - self._mean * self._seen) / size)
            self._seen, self._mean = seen, mean

    return BatchLosses()


def smooth(values, window):
    """Moving average (for drawing noisy per-batch curves)."""
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


# --------------------------------------------------------------------------- figures


def new_figure(width, height):
    """A matplotlib Figure on the Agg canvas (no pyplot, no window)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path, dpi=90):
    fig.savefig(path, dpi=dpi)
    return path


def annotate_grid(
    ax,
    values,
    fmt="{:g}",
    cmap="RdBu_r",
    vmax=None,
    vmin=None,
    title=None,
    fontsize=9,
    hide_zero=False,
):
    """A small matrix drawn as coloured cells with its numbers written in
    (symmetric colour range around 0 unless ``vmin`` is given)."""
    values = np.asarray(values, dtype=float)
    vmax = vmax or max(float(np.abs(values).max()), 1e-9)
    vmin = -vmax if vmin is None else vmin
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(values):
        if hide_zero and v == 0:
            continue
        strong = abs(v - (vmin + vmax) / 2) > 0.35 * (vmax - vmin)
        ax.text(
            j,
            i,
            fmt.format(v).replace("-", "\u2212"),
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if strong else "black",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize + 1)


def fmt(value, digits=3):
    """A number for the prose, ``digits`` significant digits: ``0.8123`` -> ``"0.812"``,
    ``1.2e-06`` -> ``"1.2e-06"``, ``12345.6`` -> ``"12,346"``."""
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return f"{value:.{max(digits - 1, 1)}e}"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def pct(value, digits=1):
    return f"{100 * float(value):.{digits}f} %"


def markdown_table(header, rows):
    """A Markdown table from a header (a list of column titles) and rows (lists of cells)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
