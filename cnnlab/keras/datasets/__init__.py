"""``keras.datasets``."""
from . import mnist  # noqa: F401
