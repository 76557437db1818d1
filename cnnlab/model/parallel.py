"""Split a batch across threads, each with a one-threaded BLAS, and add up the results.

NumPy releases the GIL inside ufuncs, copies and ``matmul``, so two Python
threads working on two halves of a batch keep both cores busy, including in
the memory-bound passes (col2im, pooling, ReLU) that a multi-threaded BLAS
does not speed up. The halves' weight gradients are summed, each weighted by
its share of the batch, so the result is the gradient of the whole batch.

Needs ``threadpoolctl`` (a dependency of cnnlab) to pin BLAS to one thread per
worker; with one thread everything runs on the caller's thread, and so it does
without threadpoolctl, with a warning that says how to get the split back.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

_settings: dict[str, int | None] = {"threads": None}
_pool = {"executor": None, "size": 0, "controller": None}

#: Below this many samples per part, splitting costs more than it saves.
MIN_PART = 8


def default_threads() -> int:
    for var in ("CNNLAB_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_num_threads(n: int | None) -> None:
    """Threads cnnlab uses for a batch (``None``: the CPUs this process may use)."""
    if n is not None and int(n) < 1:
        raise ValueError(
            f"set_num_threads: n must be a positive integer or None. Received: n={n}"
        )
    _settings["threads"] = None if n is None else int(n)


def get_num_threads() -> int:
    return _settings["threads"] or default_threads()


def _blas_controller():
    if _pool["controller"] is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _pool["controller"] = False
            # Two BLAS thread pools fighting over the cores would be slower than no split: say so, once.
            warnings.warn(
                "threadpoolctl is not installed, so cnnlab cannot split a batch across threads: "
                "training runs on one thread, about 1.5-2 times slower on 2 cores. "
                "Install it: pip install threadpoolctl",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            _pool["controller"] = ThreadpoolController()
    return _pool["controller"]


def split(n: int, whole: bool = False) -> list[slice]:
    """The parts a batch of ``n`` samples is cut into (one part when splitting does not pay, or
    when ``whole``: a layer needs the whole batch, ``Layer.needs_whole_batch``)."""
    threads = 1 if whole else min(get_num_threads(), n // MIN_PART)
    if threads < 2 or not _blas_controller():
        return [slice(0, n)]
    bounds = [round(i * n / threads) for i in range(threads + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def run(fn, parts):
    """``[fn(part) for part in parts]``, the parts on separate threads, BLAS one-threaded."""
    if len(parts) == 1:
        return [fn(parts[0])]
    if _pool["size"] < len(parts) - 1:
        if _pool["executor"] is not None:
            _pool["executor"].shutdown()
        _pool["executor"] = ThreadPoolExecutor(
            max_workers=len(parts) - 1, thread_name_prefix="cnnlab"
        )
        _pool["size"] = len(parts) - 1
    with _blas_controller().limit(limits=1, user_api="blas"):
        futures = [_pool["executor"].submit(fn, part) for part in parts[1:]]
        try:
            first = fn(parts[0])
        except Exception as error:
            # (waits for the other parts, which an aborted group releases)
            raise _root_cause([error] + [f.exception() for f in futures]) from None
        errors = [f.exception() for f in futures]
        if any(errors):
            raise _root_cause(errors)
        return [first] + [f.result() for f in futures]


def _root_cause(errors):
    """The error a part raised itself, rather than the others' being released from a wait
    for it (``threading.BrokenBarrierError``, cnnlab.part_sums)."""
    errors = [e for e in errors if e is not None]
    return next(
        (e for e in errors if not isinstance(e, threading.BrokenBarrierError)),
        errors[0],
    )
