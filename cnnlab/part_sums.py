"""Sums over the whole batch while a batch runs as parts on threads.

The fast engine cuts a training batch into parts and runs each on its own
thread (``cnnlab.model.parallel``). A layer whose output depends on statistics
of the whole batch (BatchNormalization's mean and variance) computes each
part's sums, and :meth:`Part.total` adds them over the parts: every thread
waits until all parts have given theirs, then each gets the same totals (added
in part order, so all parts see identical numbers). The result equals the
plain whole-batch computation up to float rounding.

Every part must ask for totals the same number of times in the same order;
the parts run the same program, so they do. When one part fails, the group is
aborted and the others stop waiting (``threading.BrokenBarrierError``).

Outside a split batch, :func:`current` is None and a layer uses its own batch.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

_thread = threading.local()


class PartGroup:
    """The ``n`` parts of one batch; :meth:`total` is called by all of them together."""

    def __init__(self, n: int):
        self.n = n
        self._barrier = threading.Barrier(n)
        self._given = [None] * n

    def total(self, index: int, values: list) -> list:
        """Each of ``values`` (arrays or numbers) summed over the parts, in part order."""
        self._given[index] = values
        self._barrier.wait()  # every part has given its sums
        sums = list(self._given[0])
        for given in self._given[1:]:
            sums = [a + b for a, b in zip(sums, given)]
        self._barrier.wait()  # every part has read them: the slots may be reused
        return sums

    def abort(self) -> None:
        """Release the parts waiting in :meth:`total` (one part failed)."""
        self._barrier.abort()


class Part:
    """One part of a split batch, as a layer on its thread sees it."""

    def __init__(self, group: PartGroup, index: int):
        self.group, self.index = group, index

    @property
    def first(self) -> bool:
        """True for part 0, which does the once-per-batch work (moving averages)."""
        return self.index == 0

    def total(self, values: list) -> list:
        return self.group.total(self.index, values)


@contextmanager
def running_part(group: PartGroup | None, index: int):
    """Within the block, this thread runs part ``index`` of ``group`` (None: a whole batch).
    An exception aborts the group, so the other parts do not wait for this one forever."""
    previous = getattr(_thread, "part", None)
    _thread.part = None if group is None else Part(group, index)
    try:
        yield
    except BaseException:
        if group is not None:
            group.abort()
        raise
    finally:
        _thread.part = previous


def current() -> Part | None:
    """The part this thread is running, or None (the batch is whole)."""
    return getattr(_thread, "part", None)
