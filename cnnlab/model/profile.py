"""Where training time goes: per layer and phase (forward, backward), the
optimizer, and the data handling between steps.

    with Profiler(model) as prof:
        model.fit(x, y, epochs=1)
    print(prof.report())

The profiler wraps the model's layers and optimizer for the duration of the
block. With the batch split across threads, layer times are summed over the
threads (thread-seconds), so they can add up to more than the wall time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict


class Profiler:
    def __init__(self, model):
        self.model = model
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self._lock = threading.Lock()
        self._saved = []

    def _add(self, key, seconds):
        with self._lock:
            self.seconds[key] += seconds
            self.calls[key] += 1

    def _wrap(self, obj, method, key):
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._add(key, time.perf_counter() - start)

        setattr(obj, method, timed)
        self._saved.append((obj, method))

    def __enter__(self):
        for layer in self.model.layers:
            label = f"{layer.name} ({type(layer).__name__})"
            # The fast engine may run a conv as two halves around the pooling (engine.ConvThenMaxPool).
            for method, phase in [
                ("forward", "forward"),
                ("forward_linear", "forward"),
                ("bias_activation", "forward"),
                ("backward", "backward"),
                ("backward_linear", "backward"),
                ("bias_activation_backward", "backward"),
            ]:
                if hasattr(layer, method):
                    self._wrap(layer, method, (phase, label))
        self._wrap(self.model, "_loss_and_grad", ("loss", "loss and its gradient"))
        self._wrap(
            self.model.optimizer,
            "apply_flat",
            ("optimizer", type(self.model.optimizer).__name__),
        )
        self._wrap(self.model, "_train_step", ("step", "whole training step (wall)"))
        self._wall_start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        for obj, method in self._saved:
            delattr(
                obj, method
            )  # the instance attribute goes; the class method shows again
        self.wall = time.perf_counter() - self._wall_start
        return False

    def rows(self):
        """``(phase, name, seconds, calls)``, the largest first; 'data' is the wall time outside the steps."""
        step = self.seconds.get(("step", "whole training step (wall)"), 0.0)
        rows = [
            (phase, name, s, self.calls[(phase, name)])
            for (phase, name), s in self.seconds.items()
            if phase != "step"
        ]
        rows.sort(key=lambda r: -r[2])
        rows.append(
            (
                "data",
                "shuffling, batching, metrics, callbacks",
                max(self.wall - step, 0.0),
                0,
            )
        )
        return rows

    def report(self):
        rows = self.rows()
        total = sum(r[2] for r in rows)
        lines = [f"{'phase':<10} {'where':<40} {'seconds':>9} {'share':>7}"]
        for phase, name, seconds, _ in rows:
            lines.append(
                f"{phase:<10} {name:<40} {seconds:9.3f} {100 * seconds / total:6.1f}%"
            )
        lines.append(
            f"wall time {self.wall:.3f} s; layer times are summed over threads"
        )
        return "\n".join(lines)
