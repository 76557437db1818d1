"""Keras-compatible names: ``from cnnlab import keras`` and the seed-004 program runs unchanged.

Every name here is an alias of a cnnlab object with Keras's signature.
"""

from ..layers import Input, KerasTensor
from ..model import Model, Sequential
from . import (
    activations,
    applications,
    backend,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    ops,
    optimizers,
    preprocessing,
    regularizers,
    saving,
    utils,
)

__all__ = [
    "Input",
    "KerasTensor",
    "Model",
    "Sequential",
    "activations",
    "applications",
    "backend",
    "callbacks",
    "constraints",
    "datasets",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "preprocessing",
    "regularizers",
    "saving",
    "utils",
]
