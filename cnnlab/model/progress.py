"""Keras's progress bar: ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.9866 - loss: 0.0432``.

On a terminal the line redraws in place; in a log file (not a TTY) it is
written once, when the epoch ends, so logs stay readable.
"""
from __future__ import annotations

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
    return " - ".join(f"{k}: {format_value(logs[k], verbose)}" for k in keys if k in logs
                      and isinstance(logs[k], (int, float)) and not isinstance(logs[k], bool))


def format_time(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progbar:
    """``update(step, logs)`` after each step; ``verbose=1`` draws the bar, ``verbose=2`` one line per epoch."""

    width = 20

    def __init__(self, target, verbose=1, stream=None):
        self.target, self.verbose = target, verbose
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._order = []

    def _keys(self, logs):
        """Keys in first-seen order; the first update's sorted, as Keras's logs are."""
        self._order += [k for k in (sorted(logs) if not self._order else logs) if k not in self._order]
        return self._order

    def update(self, step, logs=None, finalize=False):
        if self.verbose == 0:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        logs = logs or {}
        order = self._keys(logs)
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{step}/{self.target} - {format_time(elapsed)} - "
                                  f"{format_per_step(elapsed / max(step, 1))}"
                                  + (f" - {format_logs(logs, order, 2)}" if logs else "") + "\n")
                self.stream.flush()
            return
        if not finalize and (not self.dynamic or now - self._last_draw < 0.05):
            return
        self._last_draw = now
        if self.target is None:      # a generator of unknown length: the count so far, as Keras shows it
            timing = f"{format_time(elapsed)} {format_per_step(elapsed / max(step, 1))}"
            line = f"{step}/Unknown {timing}" + (f" - {format_logs(logs)}" if logs else "")
            self.stream.write(("\r" if self.dynamic else "") + line + ("\n" if finalize else ""))
            self.stream.flush()
            return
        filled = int(self.width * step / self.target) if self.target else self.width
        bar = "━" * filled + " " * (self.width - filled)
        if finalize:
            timing = f"{format_time(elapsed)} {format_per_step(elapsed / max(step, 1))}"
        else:
            eta = elapsed / max(step, 1) * (self.target - step)
            timing = f"{format_time(eta)}"
        line = f"{step}/{self.target} {bar} {timing}" + (f" - {format_logs(logs, order)}" if logs else "")
        self.stream.write(("\r" if self.dynamic else "") + line + ("\n" if finalize else ""))
        self.stream.flush()
