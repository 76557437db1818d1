"""``keras.models``."""
from ..model import Sequential  # noqa: F401
