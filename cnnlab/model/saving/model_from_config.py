"""A Keras 3 ``config.json`` object -> a built cnnlab ``Sequential`` (and compiled, when asked and possible)."""
from __future__ import annotations

from ...errors import CnnlabError
from ...layers import InputLayer
from ..sequential import Sequential
from . import compile_config
from .layer_config import is_float32_policy, layer_from_config, parse_batch_shape

_MODEL_OPTIONS = {"name", "trainable", "dtype", "layers", "build_input_shape"}


def model_from_config(obj, compile=True):
    if not isinstance(obj, dict) or not isinstance(obj.get("config"), dict):
        raise CnnlabError(f"The model configuration is not a serialized Keras model object. "
                          f"Received: {str(obj)[:200]}")
    class_name = obj.get("class_name")
    if class_name != "Sequential" or obj.get("registered_name") not in (None, "Sequential") or \
            obj.get("module") not in (None, "keras", "keras.models", "keras.src.models.sequential"):
        raise CnnlabError(f"cnnlab loads Keras Sequential models only; this file holds a {class_name!r} "
                          f"(module {obj.get('module')!r}, registered_name {obj.get('registered_name')!r}). "
                          f"Received: class_name={class_name!r}")
    config = obj["config"]
    unknown = {k: v for k, v in config.items() if k not in _MODEL_OPTIONS and v not in (None, False)}
    if unknown:
        raise CnnlabError(f"Sequential model: unsupported option(s) {sorted(unknown)}. Received: {unknown}")
    if not is_float32_policy(config.get("dtype")):
        raise CnnlabError(f"Sequential model: cnnlab computes in float32 only. Received: dtype={config['dtype']!r}")
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise CnnlabError(f"Sequential model: name must be a string. Received: name={name!r}")
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise CnnlabError(f"Sequential model: `layers` must be a list. Received: layers={str(entries)[:200]}")
    model = Sequential(name=name, trainable=bool(config.get("trainable", True)))
    for position, entry in enumerate(entries):
        # Older files put `batch_input_shape` on the first layer instead of writing an InputLayer.
        cfg = entry.get("config") if isinstance(entry, dict) else None
        if isinstance(cfg, dict) and "batch_input_shape" in cfg and entry.get("class_name") != "InputLayer":
            cfg = dict(cfg)
            shape = cfg.pop("batch_input_shape")
            entry = {**entry, "config": cfg}
            if model.input_shape is None and not model.layers and shape is not None:
                model.add(InputLayer(batch_shape=parse_batch_shape(shape, f"Layer {position}")))
        model.add(layer_from_config(entry, position))
    if not model.built:
        shape = config.get("build_input_shape") or (obj.get("build_config") or {}).get("input_shape")
        if shape is not None and model.layers:
            model.build(parse_batch_shape(shape, "Sequential model (build_input_shape)"))
    if compile and obj.get("compile_config"):
        compile_config.restore(model, obj["compile_config"])
    return model
