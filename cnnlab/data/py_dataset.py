"""``keras.utils.PyDataset``: a data set of batches you index, ``ds[i] -> (x, y)``.

Subclass it, call ``super().__init__(**kwargs)``, and define ``__len__`` (the number
of batches; or a ``num_batches`` property returning ``None`` for an endless one) and
``__getitem__(index)`` returning ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.
``on_epoch_begin`` / ``on_epoch_end`` are called around every epoch of ``fit``.

``workers=N`` (N > 1) fetches batches in N background threads, in order, up to
``max_queue_size`` ahead, as Keras's ``OrderedEnqueuer`` does with threads.
``use_multiprocessing=True`` is refused with a clear error: cnnlab does not fork
worker processes (threads are enough when ``__getitem__`` reads files or calls
NumPy, which release the GIL).
"""

from __future__ import annotations

import itertools

from ..errors import CnnlabError


class PyDataset:
    """Base class for indexable data sets of batches (see the module docstring)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size

    def _settings(self):
        """``(workers, max_queue_size)``, checked; a subclass that skipped ``__init__`` gets Keras's defaults."""
        workers = getattr(self, "workers", 1)
        if getattr(self, "use_multiprocessing", False):
            raise CnnlabError(
                f"{type(self).__name__}: use_multiprocessing=True is not supported by cnnlab (it never "
                f"forks worker processes). Use threads instead: workers=N with "
                f"use_multiprocessing=False. Received: use_multiprocessing=True, workers={workers}"
            )
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise CnnlabError(
                f"{type(self).__name__}: workers must be a non-negative integer. "
                f"Received: workers={workers!r}"
            )
        queue = getattr(self, "max_queue_size", 10)
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
            raise CnnlabError(
                f"{type(self).__name__}: max_queue_size must be a positive integer. "
                f"Received: max_queue_size={queue!r}"
            )
        return workers, queue

    def __getitem__(self, index):
        raise NotImplementedError

    @property
    def num_batches(self):
        """The number of batches, or ``None`` for an endless data set (default: ``len(self)``)."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            "You need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ..."
        )

    def __iter__(self):
        n = self.num_batches
        for index in itertools.count() if n is None else range(n):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""
