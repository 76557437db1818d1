"""What the model expects of a weights file, and the one place weights are copied in.

A model's weights live in its *leaf* layers: the layers that are not models themselves.
``walk`` lists a model's layers depth first, a model used as a layer followed by its own
layers (Keras's saving order, ``saving_lib._save_state``), each with its HDF5 key path
(``layers/sequential/layers/conv2d``); ``leaves`` keeps the leaf layers, each once (a
shared layer is saved once, where it is first met), with a name path for formats that
name tensors (``conv2d``, or ``features/conv2d`` inside the nested model ``features``).

Every reader checks each array's shape and dtype against the model with ``check_array``
*before* anything is copied; ``assign`` then copies all of them, so a file that does not
fit leaves the model as it was.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..model.model import Model
from .naming import layer_keys


def walk(model):
    """``[(h5 path, name path, layer)]``: every layer under ``model``, depth first, a nested model
    followed by its own layers (an explicit stack, however deep the nesting)."""

    def children(path, names, parent):
        pairs = list(zip(layer_keys(parent.layers), parent.layers))
        return [
            (f"{path}layers/{key}", f"{names}{layer.name}", layer)
            for key, layer in reversed(pairs)
        ]

    out, stack = [], children("", "", model)
    while stack:
        path, name, layer = stack.pop()
        out.append((path, name, layer))
        if isinstance(layer, Model):
            stack.extend(children(f"{path}/", f"{name}/", layer))
    return out


def leaves(model):
    """``[(h5 path, name path, layer)]`` of the leaf layers (not models), each layer once."""
    seen, out = set(), []
    for path, name, layer in walk(model):
        if isinstance(layer, Model) or id(layer) in seen:
            continue
        seen.add(id(layer))
        out.append((path, name, layer))
    return out


def expected_weights(model):
    """``[(layer, [(weight name, shape, dtype), ...]), ...]`` for the leaf layers, in ``leaves`` order."""
    return [
        (
            layer,
            [
                (name, tuple(w.shape), w.dtype)
                for name, w in zip(layer.weight_names, layer.weights)
            ],
        )
        for _, _, layer in leaves(model)
    ]


def check_array(
    layer, weight_name, location, shape, dtype, expected_shape, expected_dtype
):
    """Refuse an array that does not fit ``layer``'s weight, naming the layer and both shapes."""
    shape = tuple(int(d) for d in shape)
    if shape != tuple(expected_shape):
        raise ShapeError(
            f"Layer '{layer.name}' ({type(layer).__name__}): weight '{weight_name}' has shape "
            f"{tuple(expected_shape)} in the model but {shape} in the file ({location}). The file was "
            f"saved from a different architecture. Received: shape={shape}"
        )
    found, wanted = (
        np.dtype(dtype).newbyteorder("="),
        np.dtype(expected_dtype).newbyteorder("="),
    )
    # An integer weight takes a file's integer of another width, as Keras's assign casts it: Keras 2
    # saved Normalization's count as int64 (EfficientNet's ImageNet files), Keras 3 keeps int32.
    if found != wanted and not (found.kind in "iu" and wanted.kind in "iu"):
        raise ShapeError(
            f"Layer '{layer.name}' ({type(layer).__name__}): weight '{weight_name}' is "
            f"{np.dtype(expected_dtype)} in the model but {np.dtype(dtype)} in the file ({location}). "
            f"Received: dtype={np.dtype(dtype)}"
        )


def assign(model, per_layer):
    """Copy checked arrays in (``per_layer[i]`` lists the weights of ``leaves(model)[i]``)."""
    for (_, _, layer), arrays in zip(leaves(model), per_layer):
        if arrays:
            layer.set_weights(arrays)
