"""Keras's progress bar: ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.9866 - loss: 0.0432``.

The one progress display of the package: training, evaluation and the dataset
downloads all draw with :class:`Progbar`. On a terminal the line redraws in
place; in a Jupyter notebook it redraws in place too, through an IPython
display handle (one output that is updated, not thousands of lines); in a log
file (not a TTY) it is written once, when the epoch ends, so logs stay readable.
"""

from __future__ import annotations

import html
import sys
import time


def format_value(value, verbose=1):
    """Keras's progbar: 4 decimals above 1e-3, else scientific (``learning_rate: 1.0000e-03``). The one-line
    form (``verbose=2``) compares the signed value, as Keras does."""
    big = (abs(value) if verbose != 2 else value) > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


def format_logs(logs, order=None, verbose=1):
    """``k: v - k: v`` in ``order`` (Keras keeps the order in which each key first appeared)."""
    keys = order if order is not None else sorted(logs)
    return " - ".join(
        f"{k}: {format_value(logs[k], verbose)}"
        for k in keys
        if k in logs
        and isinstance(logs[k], (int, float))
        and not isinstance(logs[k], bool)
    )


def format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds, unit="step"):
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def in_notebook():
    """True inside a Jupyter kernel (a shell with a notebook front end), where ``display`` updates outputs."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    # A kernel's shell has a ``kernel`` (Jupyter's ZMQInteractiveShell, Colab's); terminal IPython has none.
    return getattr(get_ipython(), "kernel", None) is not None


class _Line:
    """The bar as a notebook output: plain text, and HTML that keeps the spacing."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text

    def _repr_html_(self):
        return f'<pre style="margin:0">{html.escape(self.text)}</pre>'


class Progbar:
    """``update(step, logs)`` after each step; ``verbose=1`` draws the bar, ``verbose=2`` one line per epoch.

    ``unit_name``: what a step is called in the timing (``"step"``, or ``"B"`` for a download).
    ``count``: how the count is written (default ``step/target``), e.g. in megabytes for a download.
    """

    width = 20

    def __init__(self, target, verbose=1, stream=None, unit_name="step", count=None):
        self.target, self.verbose, self.unit_name = target, verbose, unit_name
        self.count = count or (
            lambda step, target: f"{step}/{'Unknown' if target is None else target}"
        )
        self.stream = stream or sys.stdout
        # A notebook only for the default stream: a caller's own stream gets exactly what it asked for.
        self.notebook = stream is None and in_notebook()
        self.dynamic = self.notebook or (
            hasattr(self.stream, "isatty") and self.stream.isatty()
        )
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._handle = None
        self._order = []

    def _keys(self, logs):
        """Keys in first-seen order; the first update's sorted, as Keras's logs are."""
        self._order += [
            k
            for k in (sorted(logs) if not self._order else logs)
            if k not in self._order
        ]
        return self._order

    def line(self, step, logs=None, finalize=False, now=None, order=None):
        """The text of the bar after ``step`` steps (what :meth:`update` draws)."""
        elapsed = (time.perf_counter() if now is None else now) - self.start
        logs = logs or {}
        per = format_per_step(elapsed / max(step, 1), self.unit_name)
        if (
            self.target is None
        ):  # a generator of unknown length: the count so far, as Keras shows it
            return f"{self.count(step, None)} {format_time(elapsed)} {per}" + (
                f" - {format_logs(logs)}" if logs else ""
            )
        tail = f" - {format_logs(logs, order)}" if logs else ""
        filled = (
            min(int(self.width * step / self.target), self.width)
            if self.target
            else self.width
        )
        bar = "━" * filled + " " * (self.width - filled)
        if finalize:
            timing = f"{format_time(elapsed)} {per}"
        else:
            timing = format_time(elapsed / max(step, 1) * max(self.target - step, 0))
        return f"{self.count(step, self.target)} {bar} {timing}{tail}"

    def update(self, step, logs=None, finalize=False, force=False):
        """Draw the bar after ``step`` steps; at most every 0.05 s unless ``finalize`` or ``force`` (the
        caller printed a line of its own over the bar, which must come back at once)."""
        if self.verbose == 0:
            return
        now = time.perf_counter()
        logs = logs or {}
        order = self._keys(logs)
        if self.verbose == 2:
            if finalize:
                elapsed = now - self.start
                self._write(
                    f"{self.count(step, self.target)} - {format_time(elapsed)} - "
                    f"{format_per_step(elapsed / max(step, 1), self.unit_name)}"
                    + (f" - {format_logs(logs, order, 2)}" if logs else ""),
                    final=True,
                    redraw=False,
                )
            return
        if not (finalize or force) and (
            not self.dynamic or now - self._last_draw < 0.05
        ):
            return
        self._last_draw = now
        self._write(
            self.line(step, logs, finalize, now, order),
            final=finalize,
            redraw=self.dynamic,
        )

    def _write(self, line, final, redraw):
        if self.notebook:
            self._show(line)
            if final:
                self._handle = None  # the next epoch gets an output of its own
            return
        self.stream.write(("\r" if redraw else "") + line + ("\n" if final else ""))
        self.stream.flush()

    def _show(self, line):
        from IPython.display import display

        if self._handle is None:
            self._handle = display(_Line(line), display_id=True)
        else:
            self._handle.update(_Line(line))
