"""One seeded random generator for the whole library.

``keras.utils.set_random_seed(s)`` calls :func:`set_seed`; initializers,
dropout and shuffling then draw from generators derived from it, so a run
is reproducible.
"""

from __future__ import annotations

import random as _py_random
import threading
from contextlib import contextmanager

import numpy as np

_state = {"rng": np.random.default_rng()}
_thread = threading.local()


def set_seed(seed: int) -> None:
    """Seed cnnlab, NumPy's global generator and Python's ``random``, as Keras does."""
    _state["rng"] = np.random.default_rng(seed)
    np.random.seed(seed)
    _py_random.seed(seed)


def generator() -> np.random.Generator:
    """The library-wide generator."""
    return _state["rng"]


def make_generator(seed=None) -> np.random.Generator:
    """A generator of its own: from ``seed`` if given, else drawn from the library-wide one."""
    if seed is None:
        seed = int(generator().integers(2**63))
    return np.random.default_rng(seed)


def get_state():
    return _state["rng"].bit_generator.state


def set_state(state) -> None:
    _state["rng"].bit_generator.state = state


def stream(default: np.random.Generator) -> np.random.Generator:
    """The generator a random layer should draw from: its own, unless the
    current thread was given one (one part of a batch split across threads)."""
    return getattr(_thread, "rng", None) or default


@contextmanager
def thread_stream(rng: np.random.Generator):
    """Within the block, random layers on this thread draw from ``rng``."""
    _thread.rng = rng
    try:
        yield
    finally:
        _thread.rng = None
