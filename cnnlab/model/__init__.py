"""Models and training: the graph model (functional, Sequential, subclassed), losses, optimizers,
metrics, callbacks, summary."""

from .model import Model
from .sequential import Sequential
