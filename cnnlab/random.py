"""One seeded random generator for the whole library.

``keras.utils.set_random_seed(s)`` calls :func:`set_seed`; initializers,
dropout and shuffling then draw from generators derived from it, so a run
is reproducible.
"""
from __future__ import annotations

import random as _py_random

import numpy as np

_state = {"rng": np.random.default_rng()}


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
