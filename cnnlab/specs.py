"""Model specs: a small JSON (or YAML) description of a Sequential model.

::

    {"input_shape": [28, 28, 1],
     "layers": [{"class_name": "Conv2D", "config": {"filters": 32, "kernel_size": 3, "activation": "relu"}},
                {"class_name": "MaxPooling2D", "config": {"pool_size": 2}},
                {"class_name": "Flatten"},
                {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}],
     "optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

A spec is a short form of Keras's own model config: ``build_model`` turns it into the
``config.json`` object of a ``Sequential`` (an ``InputLayer`` entry for ``input_shape``, one
entry per layer) and builds it with the same reader as ``load_model``
(``cnnlab.saving.model_from_config``), so a spec accepts exactly what a Keras file may
say. Layer classes are Keras's names (``cnnlab.layers.layer_class``, with aliases such as
``MaxPool2D``); nothing is ever imported by a name read from a file.
"""

from __future__ import annotations

import copy
import json
import os

from .errors import CnnlabError
from .layers import layer_class
from .layers.base import clear_session
from .saving.model_from_config import model_from_config

#: The seed-004 CNN: 225,034 parameters.
SEED_004 = {
    "name": "sequential",
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 32, "kernel_size": [3, 3], "activation": "relu"},
        },
        {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}},
        {
            "class_name": "Conv2D",
            "config": {"filters": 64, "kernel_size": [3, 3], "activation": "relu"},
        },
        {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": 128, "activation": "relu"}},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
}

KEYS = {"name", "input_shape", "layers", "optimizer", "loss", "metrics", "fit"}
#: What a spec's optional ``"fit"`` object may set (``cnnlab train`` uses them unless its options say otherwise).
FIT_KEYS = {"batch_size", "epochs", "seed"}


def default_spec():
    """A copy of the seed-004 spec."""
    return copy.deepcopy(SEED_004)


def read_json_or_yaml(path, what="spec", error=CnnlabError):
    """The data in a ``.json`` file, or a ``.yaml``/``.yml`` file when PyYAML is
    installed (``safe_load``: plain data only, nothing is constructed or run)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise error(
            f"cannot read the {what} file {path}: {e.strerror}. Received: {path!r}"
        ) from None
    if path.lower().endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise error(
                f"{path} is YAML but PyYAML is not installed: `pip install pyyaml`, "
                f"or write the {what} as JSON. Received: {path!r}"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise error(f"{path} is not valid YAML: {e}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}. "
            f"Received: {text[max(e.pos - 20, 0) : e.pos + 20]!r}"
        ) from None


def load_spec(path):
    """Read a spec from a ``.json`` file, or ``.yaml``/``.yml`` when PyYAML is installed."""
    spec = read_json_or_yaml(path, "spec")
    check_spec(spec, path)
    return spec


def check_spec(spec, where="spec"):
    """Raise a :class:`CnnlabError` naming the problem if ``spec`` is not a usable spec."""
    if not isinstance(spec, dict):
        raise CnnlabError(
            f"{where}: a spec is an object with a 'layers' list. Received: {type(spec).__name__}"
        )
    unknown = sorted(set(spec) - KEYS)
    if unknown:
        raise CnnlabError(
            f"{where}: unknown key(s) {unknown}; a spec has {sorted(KEYS)}. Received: {unknown}"
        )
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise CnnlabError(
            f"{where}: 'layers' must be a non-empty list. Received: layers={layers!r}"
        )
    for i, entry in enumerate(layers):
        name = entry.get("class_name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise CnnlabError(
                f"{where}: layer {i} needs a 'class_name'. Received: {entry!r}"
            )
        try:
            layer_class(name)
        except CnnlabError as e:
            raise CnnlabError(f"{where}: layer {i}: {e}") from None
        if not isinstance(entry.get("config", {}), dict):
            raise CnnlabError(
                f"{where}: layer {i} ({name}): 'config' must be an object. "
                f"Received: {entry['config']!r}"
            )
    fit = spec.get("fit", {})
    if (
        not isinstance(fit, dict)
        or set(fit) - FIT_KEYS
        or not all(
            isinstance(v, int)
            and not isinstance(v, bool)
            and (v >= 0 if k == "seed" else v > 0)
            for k, v in fit.items()
        )
    ):
        raise CnnlabError(
            f"{where}: 'fit' must be an object of {sorted(FIT_KEYS)} with positive integers "
            f'(seed: 0 or more), such as {{"batch_size": 64, "epochs": 3}}. Received: fit={fit!r}'
        )
    shape = spec.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and shape
        and all(isinstance(s, int) and s > 0 for s in shape)
    ):
        raise CnnlabError(
            f"{where}: 'input_shape' must be a list of positive integers such as [28, 28, 1]. "
            f"Received: input_shape={shape!r}"
        )


def keras_config(spec):
    """The Keras 3 ``config.json`` object of the Sequential that ``spec`` describes."""
    layers = []
    if spec.get("input_shape"):
        layers.append(
            {
                "class_name": "InputLayer",
                "config": {"batch_shape": [None, *spec["input_shape"]]},
            }
        )
    for entry in spec["layers"]:
        name = entry["class_name"]
        layers.append(
            {
                "class_name": layer_class(name).__name__,
                "config": dict(entry.get("config") or {}),
            }
        )
    config = {"layers": layers}
    if spec.get("name") is not None:
        config["name"] = spec["name"]
    return {"module": "keras", "class_name": "Sequential", "config": config}


def build_model(spec, where="spec"):
    """A :class:`Sequential` built from ``spec`` (not compiled: see :func:`compile_args`)."""
    check_spec(spec, where)
    clear_session()  # layer names start again at conv2d, dense, ... as in a fresh Keras program
    try:
        return model_from_config(keras_config(spec), compile=False)
    except CnnlabError as e:
        raise CnnlabError(f"{where}: {e}") from None


def compile_args(spec, optimizer=None, learning_rate=None):
    """``model.compile`` keyword arguments from ``spec``; ``optimizer`` and
    ``learning_rate`` (from the command line) override the spec."""
    opt = optimizer or spec.get("optimizer") or "adam"
    if learning_rate is not None:
        name = opt.get("class_name") if isinstance(opt, dict) else opt
        config = dict(opt.get("config", {})) if isinstance(opt, dict) else {}
        opt = {
            "class_name": name,
            "config": {**config, "learning_rate": float(learning_rate)},
        }
    return {
        "optimizer": opt,
        "loss": spec.get("loss") or "sparse_categorical_crossentropy",
        "metrics": spec.get("metrics", ["accuracy"]),
    }
