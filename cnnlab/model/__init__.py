"""Models and training: Sequential, losses, optimizers, metrics, callbacks, summary."""
from .sequential import Sequential
