"""``keras.backend``: the few functions learners call."""

from ..backend import floatx as _floatx
from ..layers.base import clear_session


def floatx() -> str:
    return _floatx
