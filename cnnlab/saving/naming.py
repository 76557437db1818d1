"""Keras's ``naming.to_snake_case`` (keras/src/utils/naming.py): ``MaxPooling2D`` -> ``max_pooling2d``.

Keras names each layer's group in the weights file by its class, not by the
layer's own name: ``layers/conv2d``, ``layers/conv2d_1``, ... (saving_lib.py,
``_save_container_state``).
"""

from __future__ import annotations

import re


def to_snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_keys(layers):
    """The key of each layer under ``layers/`` in Keras's HDF5 file: its class in snake case
    (a functional model's is ``Functional``), ``_1``, ``_2``... for the second and later layers of
    the same class."""
    used, keys = {}, []
    for layer in layers:
        key = to_snake_case(getattr(layer, "keras_class_name", type(layer).__name__))
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        keys.append(key)
    return keys
