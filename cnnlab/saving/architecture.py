"""What the model expects of a weights file, and the one place weights are copied in.

Every reader checks each array's shape and dtype against the model with
``check_array`` *before* anything is copied; ``assign`` then copies all of them,
so a file that does not fit leaves the model as it was.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError


def expected_weights(model):
    """``[(layer, [(weight name, shape, dtype), ...]), ...]`` in ``model.layers`` order."""
    return [(layer, [(name, tuple(w.shape), w.dtype) for name, w in zip(layer.weight_names, layer.weights)])
            for layer in model.layers]


def check_array(layer, weight_name, location, shape, dtype, expected_shape, expected_dtype):
    """Refuse an array that does not fit ``layer``'s weight, naming the layer and both shapes."""
    shape = tuple(int(d) for d in shape)
    if shape != tuple(expected_shape):
        raise ShapeError(f"Layer '{layer.name}' ({type(layer).__name__}): weight '{weight_name}' has shape "
                         f"{tuple(expected_shape)} in the model but {shape} in the file ({location}). The file was "
                         f"saved from a different architecture. Received: shape={shape}")
    if np.dtype(dtype).newbyteorder("=") != np.dtype(expected_dtype).newbyteorder("="):
        raise ShapeError(f"Layer '{layer.name}' ({type(layer).__name__}): weight '{weight_name}' is "
                         f"{np.dtype(expected_dtype)} in the model but {np.dtype(dtype)} in the file ({location}). "
                         f"Received: dtype={np.dtype(dtype)}")


def assign(model, per_layer):
    """Copy checked arrays in (``per_layer[i]`` lists ``model.layers[i]``'s weights)."""
    for layer, arrays in zip(model.layers, per_layer):
        if arrays:
            layer.set_weights(arrays)
