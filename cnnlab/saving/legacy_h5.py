"""Legacy whole-model HDF5 files (``.h5`` / ``.hdf5``), in both directions, as Keras 3 reads and
writes them (keras/src/legacy/saving/legacy_h5_format.py).

TensorFlow's save-and-load tutorial writes ``model.save("m.h5")``; Keras 3 still does (with a
warning). The layout::

    /                      attrs backend, keras_version, model_config (JSON: the model's config,
                           "legacy" form: layer entries without module / registered_name /
                           build_config), training_config (JSON, when compiled: compile()'s
                           arguments with "optimizer_config" = {class_name, config})
    /model_weights         attrs layer_names (every layer, in model.layers order), backend,
                           keras_version
    /model_weights/<layer name>       attrs weight_names: the variables' paths
                           ("conv2d/kernel"; a Sequential's layers "<model>/conv2d/kernel"), one
                           dataset at each path under the group; layers without weights too
    /model_weights/top_level_model_weights   the model's own variables (none in cnnlab)
    /optimizer_weights     attrs weight_names ("adam/iteration", "adam/learning_rate", then one
                           per slot and weight); the optimizer's variables in Keras's order

``save_weights("m.h5")`` writes the ``model_weights`` group alone, at the root (Keras 2's
weights file, which Keras 3's ``load_weights`` reads). Loading is by order, as Keras loads
it: the layers that have weights, in order, against the file's layers that have weights,
each layer's arrays in ``trainable + non-trainable`` order.

Reading trusts nothing: attributes are bounded (``limits.MAX_CONFIG_BYTES``) and must be
strings, groups and datasets are reached through hard links only, no dataset keeps data
outside the file, every dataset's shape and dtype is checked against the model before
any is read, and the model is built from its config by the same reader as ``.keras``
files (``model_from_config``: cnnlab's classes and the user's registered ones only).
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np

from ..errors import CnnlabError
from . import compile_config, limits, optimizer_state
from .architecture import check_array
from .keras_archive import KERAS_FORMAT_VERSION
from .optional import open_h5, require_h5py

BACKEND = "numpy"  # Keras 3 reads the backend attribute but needs no particular value
_STRIPPED = ("module", "registered_name", "build_config", "compile_config")


# ---- which arrays, in which order ----------------------------------------------
def weighted_layers(model):
    """``[(layer, [weight arrays in Keras's legacy order: trainable, then non-trainable])]`` for every
    layer of ``model.layers`` (a model used as a layer contributes its own weights, flattened)."""
    return [
        (layer, list(layer.trainable_weights) + list(layer.non_trainable_weights))
        for layer in model.layers
    ]


def _variable_paths(model, layer, count):
    """The paths Keras gives the variables: a Sequential builds its layers inside its own name scope."""
    names = list(getattr(layer, "weight_names", None) or [])
    if len(names) != count:
        names = [str(i) for i in range(count)]
    prefix = f"{model.name}/" if type(model).__name__ == "Sequential" else ""
    return [f"{prefix}{layer.name}/{name}" for name in names]


# ---- writing ------------------------------------------------------------------------
def legacy_config(obj):
    """The model's Keras config in the legacy form (Keras's ``use_legacy_config``)."""

    def strip(entry):
        entry = {k: v for k, v in entry.items() if k not in _STRIPPED}
        config = entry.get("config")
        if isinstance(config, dict) and isinstance(config.get("layers"), list):
            entry["config"] = {**config, "layers": [strip(e) for e in config["layers"]]}
        return entry

    return strip({"class_name": obj["class_name"], "config": obj["config"]})


def _string_list(group, name, values):
    group.attrs[name] = (
        np.array([v.encode("utf8") for v in values], dtype=object)
        if values
        else np.array([])
    )


def _write_weights_group(group, model):
    layers = weighted_layers(model)
    _string_list(group, "layer_names", [layer.name for layer, _ in layers])
    group.attrs["backend"] = BACKEND
    group.attrs["keras_version"] = KERAS_FORMAT_VERSION
    for layer, arrays in sorted(layers, key=lambda item: item[0].name):
        paths = _variable_paths(model, layer, len(arrays))
        sub = group.create_group(layer.name)
        _string_list(sub, "weight_names", paths)
        for path, array in zip(paths, arrays):
            sub.create_dataset(path, data=np.asarray(array))
    _string_list(group.create_group("top_level_model_weights"), "weight_names", [])


def _write_optimizer(f, model):
    optimizer = model.optimizer
    values = optimizer_state.to_keras_vars(optimizer)
    params = model.trainable_weights
    owners = [
        (layer, _variable_paths(model, layer, len(arrays)))
        for layer, arrays in weighted_layers(model)
        if layer.trainable and arrays
    ]
    param_paths = [p for _, paths in owners for p in paths]
    names = [f"{optimizer.name}/iteration", f"{optimizer.name}/learning_rate"]
    if len(values) > 2 and len(param_paths) == len(params):
        for s, p in optimizer_state._slot_order(optimizer, len(params)):
            names.append(
                f"{optimizer.name}/{param_paths[p].replace('/', '_')}_{optimizer.slot_names[s]}"
            )
    else:
        names += [f"{optimizer.name}/variable_{i}" for i in range(2, len(values))]
    group = f.create_group("optimizer_weights")
    _string_list(group, "weight_names", names)
    for name, value in zip(names, values):
        group.create_dataset(name, data=np.asarray(value))


def write_model(model, model_config, include_optimizer=True):
    """The bytes of a legacy whole-model ``.h5`` file; ``model_config`` is Keras's config object."""
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["backend"] = BACKEND
        f.attrs["keras_version"] = KERAS_FORMAT_VERSION
        f.attrs["model_config"] = json.dumps(legacy_config(model_config))
        if include_optimizer and model.compiled and model.optimizer is not None:
            training = dict(compile_config.serialize(model))
            optimizer = training.pop("optimizer")
            training["optimizer_config"] = {
                "class_name": optimizer["class_name"],
                "config": optimizer["config"],
            }
            f.attrs["training_config"] = json.dumps(training)
        _write_weights_group(f.create_group("model_weights"), model)
        if include_optimizer and model.compiled and model.optimizer is not None:
            _write_optimizer(f, model)
    return buf.getvalue()


def write_weights(model):
    """The bytes of a Keras 2 style weights file (``save_weights("m.h5")``): the weights group at the root."""
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _write_weights_group(f, model)
    return buf.getvalue()


# ---- reading ------------------------------------------------------------------------
class _Reader:
    def __init__(self, h5py, where):
        self.h5py, self.where = h5py, where

    def fail(self, what):
        raise CnnlabError(f"{self.where}: not a usable legacy Keras HDF5 file: {what}.")

    def child(self, group, name):
        link = group.get(name, getlink=True)
        if link is None:
            return None
        if not isinstance(link, self.h5py.HardLink):
            self.fail(
                f"'{group.name.rstrip('/')}/{name}' is a {type(link).__name__}; cnnlab follows no links"
            )
        return group[name]

    def group(self, parent, name):
        node = self.child(parent, name)
        if node is None:
            self.fail(f"no group '{parent.name.rstrip('/')}/{name}'")
        if not isinstance(node, self.h5py.Group):
            self.fail(f"'{node.name}' should be a group but is a {type(node).__name__}")
        return node

    def text_attr(self, node, name, limit=limits.MAX_CONFIG_BYTES):
        if name not in node.attrs:
            return None
        value = node.attrs[name]
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, bytes):
            if len(value) > limit:
                self.fail(f"attribute {name} holds {len(value)} bytes (limit {limit})")
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(f"attribute {name} is not UTF-8 text")
        if not isinstance(value, str):
            self.fail(f"attribute {name} should be text but is {type(value).__name__}")
        if len(value) > limit:
            self.fail(f"attribute {name} holds {len(value)} characters (limit {limit})")
        return value

    def json_attr(self, node, name):
        text = self.text_attr(node, name)
        if text is None:
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            self.fail(f"attribute {name} is not JSON ({e})")

    def names(self, node, name):
        """A list-of-strings attribute, also in Keras's chunked form (``name0``, ``name1``, ...)."""
        if name in node.attrs:
            chunks = [node.attrs[name]]
        else:
            chunks, k = [], 0
            while f"{name}{k}" in node.attrs and k < 1000:
                chunks.append(node.attrs[f"{name}{k}"])
                k += 1
        out = []
        for chunk in chunks:
            values = np.asarray(chunk)
            if values.ndim != 1 or values.size > limits.MAX_ARCHIVE_MEMBERS:
                self.fail(
                    f"attribute {name} of '{node.name}' should be a list of names"
                )
            if values.size == 0:
                continue
            for v in values.tolist():
                if isinstance(v, bytes):
                    try:
                        v = v.decode("utf-8")
                    except UnicodeDecodeError:
                        self.fail(
                            f"attribute {name} of '{node.name}' holds a name that is not UTF-8"
                        )
                if not isinstance(v, str) or not v or len(v) > 1000:
                    self.fail(
                        f"attribute {name} of '{node.name}' holds {str(v)[:50]!r}, not a name"
                    )
                out.append(v)
        return out

    def dataset(self, group, path):
        node = group
        for part in [p for p in path.split("/") if p]:
            if not isinstance(node, self.h5py.Group):
                self.fail(f"'{node.name}' should be a group")
            node = self.child(node, part)
            if node is None:
                self.fail(
                    f"weight '{path}' is listed in '{group.name}' but not stored there"
                )
        if not isinstance(node, self.h5py.Dataset):
            self.fail(
                f"'{node.name}' should be a dataset but is a {type(node).__name__}"
            )
        if node.is_virtual or node.external:
            self.fail(
                f"'{node.name}' keeps its data in other files (virtual or external storage)"
            )
        return node


def _weights_group(reader, f):
    """The group that holds the layers' weights: ``model_weights`` of a whole-model file, or the root."""
    if "model_weights" in f:
        return reader.group(f, "model_weights")
    if "layer_names" in f.attrs or "layer_names0" in f.attrs:
        return f
    reader.fail("it has neither a model_weights group nor a layer_names attribute")


def _check_layers(reader, group, model):
    """Match the file's layers with weights to the model's, by order; check every dataset; return
    ``[(layer's arrays in the model, [datasets])]``. Nothing is read yet."""
    file_layers = []
    for name in reader.names(group, "layer_names"):
        sub = reader.group(group, name)
        weight_names = reader.names(sub, "weight_names")
        if weight_names:
            file_layers.append((name, sub, weight_names))
    model_layers = [
        (layer, arrays) for layer, arrays in weighted_layers(model) if arrays
    ]
    if len(file_layers) != len(model_layers):
        raise CnnlabError(
            f"{reader.where}: layer count mismatch: the model has {len(model_layers)} layers with "
            f"weights ({[layer.name for layer, _ in model_layers]}), the file {len(file_layers)} "
            f"({[n for n, _, _ in file_layers][:20]}). It was saved from a different architecture. "
            f"Received: {len(file_layers)} saved layers"
        )
    plan = []
    for k, ((layer, arrays), (name, sub, weight_names)) in enumerate(
        zip(model_layers, file_layers)
    ):
        if len(weight_names) != len(arrays):
            raise CnnlabError(
                f"{reader.where}: weight count mismatch for layer #{k} (named {layer.name} in the "
                f"model, {name} in the file): the layer expects {len(arrays)} weight(s), the file "
                f"has {len(weight_names)}. Received: {len(weight_names)} saved weight(s)"
            )
        datasets = [reader.dataset(sub, path) for path in weight_names]
        for ds, array, path in zip(datasets, arrays, weight_names):
            check_array(
                layer,
                path,
                f"{reader.where}: {ds.name}",
                ds.shape,
                ds.dtype,
                array.shape,
                array.dtype,
            )
        plan.append((arrays, datasets))
    return plan


def _check_optimizer(reader, f, model):
    """The optimizer's datasets, checked, or None (absent, or not fitting: Keras warns and starts afresh)."""
    if "optimizer_weights" not in f or not model.compiled or model.optimizer is None:
        return None
    group = reader.group(f, "optimizer_weights")
    names = reader.names(group, "weight_names")
    optimizer, params = model.optimizer, model.trainable_weights
    specs = optimizer_state.expected_specs(optimizer, params)
    if len(names) not in ((len(specs), 2) if optimizer.slot_names else (2,)):
        warnings.warn(
            f"Error in loading the saved optimizer state: the file has {len(names)} variables, "
            f"optimizer '{optimizer.name}' needs {len(specs)}. As a result, your model is starting "
            f"with a freshly initialized optimizer.",
            stacklevel=4,
        )
        return None
    datasets = []
    for path, (what, shape, kind) in zip(names, specs):
        ds = reader.dataset(group, path)
        ok = (
            ds.dtype.kind == kind and ds.dtype.itemsize <= 8
            if isinstance(kind, str)
            else ds.dtype == kind
        )
        if tuple(ds.shape) != tuple(shape) or not ok:
            raise CnnlabError(
                f"{reader.where}: optimizer variable {path} ({what}) should have shape {tuple(shape)}, "
                f"it has shape {tuple(ds.shape)} and dtype {ds.dtype}. Received: shape={ds.shape}"
            )
        datasets.append(ds)
    return datasets


def _open(path):
    h5py = require_h5py()
    return h5py, open_h5(h5py, path, path)


def _guard(where, fn):
    try:
        return fn()
    except CnnlabError:
        raise
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        AttributeError,
    ) as e:
        raise CnnlabError(
            f"{where}: the HDF5 file is damaged or not a Keras file ({type(e).__name__}: {e})."
        ) from None


def _assign(plan, optimizer_datasets, model):
    """Read the checked datasets and copy them in (in place: the model's views stay valid)."""
    values = [[np.asarray(ds[()]) for ds in datasets] for _, datasets in plan]
    opt = (
        None
        if optimizer_datasets is None
        else [np.asarray(ds[()]) for ds in optimizer_datasets]
    )
    for (arrays, _), new in zip(plan, values):
        for array, value in zip(arrays, new):
            array[...] = value
    if opt is not None:
        optimizer_state.restore(model.optimizer, model.trainable_weights, opt)


def load_model(path, build, compile=True):
    """A model from a legacy ``.h5`` file; ``build(config_object)`` builds the (uncompiled) model."""
    h5py, f = _open(path)
    reader = _Reader(h5py, path)
    with f:

        def run():
            config = reader.json_attr(f, "model_config")
            if config is None:
                raise CnnlabError(
                    f"{path}: no model config found in the file (a weights-only file: build the "
                    f"model in code and call model.load_weights()). Received: filepath={path}"
                )
            model = build(config, _weights_bytes(f))
            if compile:
                training = reader.json_attr(f, "training_config")
                if training is None:
                    warnings.warn(
                        "No training configuration found in the save file, so the model was *not* "
                        "compiled. Compile it manually.",
                        stacklevel=4,
                    )
                elif isinstance(training, dict):
                    training = dict(training)
                    training["optimizer"] = training.pop("optimizer_config", None)
                    compile_config.restore(model, training)
                else:
                    warnings.warn(
                        "compile() was not restored: training_config is not an object.",
                        stacklevel=4,
                    )
            plan = _check_layers(reader, _weights_group(reader, f), model)
            opt = _check_optimizer(reader, f, model) if compile else None
            _assign(plan, opt, model)
            return model

        return _guard(path, run)


def _weights_bytes(f):
    """The bytes the file's datasets hold, for the weight budget of the architecture it declares."""
    total = []

    def visit(_, obj):
        if hasattr(obj, "nbytes") and hasattr(obj, "shape"):
            total.append(int(obj.id.get_storage_size()))

    f.visititems(visit)
    return sum(total)


def load_weights(path, model):
    """Load a legacy ``.h5`` file's weights (whole-model or weights-only) into ``model``, by order."""
    h5py, f = _open(path)
    reader = _Reader(h5py, path)
    with f:

        def run():
            # Keras's load_weights() reads the layers' weights of a legacy file, never its optimizer.
            _assign(
                _check_layers(reader, _weights_group(reader, f), model), None, model
            )

        _guard(path, run)
