"""Weights in Keras 3's HDF5 layout: ``model.weights.h5`` inside a ``.keras`` file, and ``.weights.h5``.

Keras's ``_save_state`` walks the model (keras/src/saving/saving_lib.py): the model's
own variables, then ``layers`` (a Sequential's layers, InputLayer excluded), each
under its class name in snake case, then attributes such as ``optimizer``. Every
saveable gets a group ``<path>/vars`` with attribute ``name`` (``H5IOStore.make(path,
metadata={"name": ...})``) holding datasets ``"0"``, ``"1"``, ... For a Sequential::

    /vars                              attrs name=<model name>; empty
    /layers/conv2d/vars/0              kernel (kh, kw, c_in, filters) float32; attrs name=<layer name>
    /layers/conv2d/vars/1              bias (filters,)
    /layers/max_pooling2d/vars         empty (a layer without weights)
    /layers/conv2d_1/vars/0, 1         the second Conv2D
    /layers/dense/vars/0, 1            kernel (in, units), bias (units,)
    /optimizer/vars/0, 1, 2, ...       iterations, learning_rate, slots (see optimizer_state)

Reading follows no links (soft, external) and no external or virtual dataset
storage, reads only the datasets the model expects, and checks each one's shape
and dtype first. Keras 2.13-era files that say ``_layer_checkpoint_dependencies``
instead of ``layers`` are read too, as Keras reads them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import CnnlabError
from ..model.model import Model
from . import optimizer_state
from .architecture import check_array, expected_weights, leaves, walk
from .limits import MAX_SLOTS_PER_WEIGHT
from .optional import open_h5, require_h5py


# ---- writing --------------------------------------------------------------
def _vars_group(f, path, name):
    group = (
        f.create_group("vars")
        if not path
        else f.create_group(path).create_group("vars")
    )
    group.attrs["name"] = name
    return group


def write_weights(model, include_optimizer=True):
    """The HDF5 file's bytes."""
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _vars_group(f, "", model.name)
        seen = set()
        for path, _, layer in walk(model):
            if id(layer) in seen:
                continue  # a shared layer is saved once, where it is first met (as Keras)
            seen.add(id(layer))
            group = _vars_group(f, path, layer.name)
            if not isinstance(
                layer, Model
            ):  # a nested model's own group holds no variables
                for i, w in enumerate(layer.weights):
                    group[str(i)] = np.asarray(w)
        if include_optimizer and model.compiled and model.optimizer is not None:
            group = _vars_group(f, "optimizer", model.optimizer.name)
            for i, value in enumerate(optimizer_state.to_keras_vars(model.optimizer)):
                group[str(i)] = value
    return buf.getvalue()


# ---- reading --------------------------------------------------------------
@dataclass
class WeightsRead:
    layers: list  # per model layer, its arrays in layer.weights order
    optimizer: (
        list | None
    )  # Keras-ordered optimizer variables, or None (absent / not applicable)


def _child(h5py, group, name, where):
    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise CnnlabError(
            f"{where}: '{group.name.rstrip('/')}/{name}' is a {type(link).__name__}; cnnlab follows "
            f"no links in a weights file."
        )
    return group[name]


def _vars_at(h5py, f, path, where):
    """The ``<path>/vars`` group, or None when absent."""
    node = f
    for part in [p for p in path.split("/") if p] + ["vars"]:
        if not isinstance(node, h5py.Group):
            raise CnnlabError(
                f"{where}: '{node.name}' should be a group but is a {type(node).__name__}."
            )
        node = _child(h5py, node, part, where)
        if node is None:
            return None
    if not isinstance(node, h5py.Group):
        raise CnnlabError(
            f"{where}: '{path}/vars' should be a group but is a {type(node).__name__}."
        )
    return node


def _check_keys(group, count, what, where):
    keys = sorted(group.keys(), key=lambda k: (len(k), k))
    if keys != [str(i) for i in range(count)]:
        shown = keys if len(keys) <= 10 else keys[:10] + ["..."]
        raise CnnlabError(
            f"{where}: {what} expects {count} variable(s) (datasets 0..{count - 1}) in "
            f"'{group.name}', but the file has {len(keys)}: {shown}. The file was saved from a "
            f"different architecture."
        )


def _dataset(h5py, group, key, where):
    ds = _child(h5py, group, key, where)
    location = f"{group.name}/{key}"
    if not isinstance(ds, h5py.Dataset):
        raise CnnlabError(
            f"{where}: '{location}' should be a dataset but is a {type(ds).__name__}."
        )
    if ds.is_virtual or ds.external:
        raise CnnlabError(
            f"{where}: '{location}' keeps its data in other files (virtual or external storage); "
            f"cnnlab reads only data stored inside the file."
        )
    return ds, location


def _read_layers(h5py, f, model, where):
    root = "layers"
    if "layers" not in f and "_layer_checkpoint_dependencies" in f:
        root = "_layer_checkpoint_dependencies"
    per_layer = []
    for (path, _, _), (layer, expected) in zip(leaves(model), expected_weights(model)):
        path = root + path[len("layers") :]
        group = _vars_at(h5py, f, path, where)
        if group is None:
            if expected:
                wanted = ", ".join(f"{name} {shape}" for name, shape, _ in expected)
                raise CnnlabError(
                    f"{where}: no weights for layer '{layer.name}' ({type(layer).__name__}) at "
                    f"'{path}/vars': the model expects {wanted}, the file has no such group. The file was "
                    f"saved from a different architecture (or without this layer, e.g. without the top). "
                    f"Received: no group '{path}/vars'"
                )
            per_layer.append([])
            continue
        _check_keys(
            group,
            len(expected),
            f"layer '{layer.name}' ({type(layer).__name__})",
            where,
        )
        datasets = [_dataset(h5py, group, str(i), where) for i in range(len(expected))]
        for (ds, location), (name, shape, dtype) in zip(datasets, expected):
            check_array(
                layer, name, f"{where}: {location}", ds.shape, ds.dtype, shape, dtype
            )
        per_layer.append(datasets)
    # Every dataset has been checked; only now is any data read.
    return [[np.asarray(ds[()]) for ds, _ in datasets] for datasets in per_layer]


def _read_optimizer(h5py, f, model, where):
    optimizer = model.optimizer
    if not model.compiled or optimizer is None:
        return None
    group = _vars_at(h5py, f, "optimizer", where)
    if group is None:
        return None
    params = model.trainable_weights
    specs = optimizer_state.expected_specs(optimizer, params)
    count = len(group)
    # A built optimizer takes its full state; one not built yet (compiled, never trained) also takes the
    # two counters alone, which is what Keras saves before the first step.
    unbuilt = optimizer_state.unbuilt_count(optimizer)
    allowed = (
        (len(specs),)
        if optimizer.built and len(specs) > unbuilt
        else (unbuilt, len(specs))
    )
    if count > 3 + MAX_SLOTS_PER_WEIGHT * max(len(params), 1) or count not in allowed:
        warnings.warn(
            f"Skipping variable loading for optimizer '{optimizer.name}', because it has "
            f"{len(specs)} variables whereas the saved optimizer has {count} variables.",
            stacklevel=4,
        )
        return None
    _check_keys(group, count, f"optimizer '{optimizer.name}'", where)
    values = []
    for i, (what, shape, kind) in enumerate(specs[:count]):
        ds, location = _dataset(h5py, group, str(i), where)
        ok_dtype = (
            ds.dtype.kind == kind and ds.dtype.itemsize <= 8
            if isinstance(kind, str)
            else ds.dtype == kind
        )
        if tuple(ds.shape) != tuple(shape) or not ok_dtype:
            raise CnnlabError(
                f"{where}: optimizer '{optimizer.name}' variable {i} ({what}) should have shape "
                f"{tuple(shape)} but has shape {tuple(ds.shape)} and dtype {ds.dtype} in the file "
                f"({location})."
            )
        values.append(ds)
    return [np.asarray(ds[()]) for ds in values]


def read_weights(source, model, where, include_optimizer=True):
    """Read and check the weights for ``model`` from ``source`` (a path or bytes). Nothing is copied here."""
    h5py = require_h5py()
    f = open_h5(
        h5py,
        io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source,
        where,
    )
    try:
        with f:
            layers = _read_layers(h5py, f, model, where)
            opt = _read_optimizer(h5py, f, model, where) if include_optimizer else None
            return WeightsRead(layers, opt)
    except CnnlabError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise CnnlabError(
            f"{where}: the HDF5 file is damaged or not a Keras weights file ({e})."
        ) from None
