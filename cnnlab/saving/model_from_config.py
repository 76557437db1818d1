"""A Keras 3 ``config.json`` object -> a built cnnlab ``Sequential`` (and compiled, when asked and possible)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import CnnlabError
from ..layers import InputLayer
from ..model.sequential import Sequential
from . import compile_config
from .layer_config import is_float32_policy, layer_from_config, parse_batch_shape
from .registration import check_custom_objects

_MODEL_OPTIONS = {"name", "trainable", "dtype", "layers", "build_input_shape"}


def model_from_config(obj, compile=True, max_weight_bytes=None, custom_objects=None):
    """``max_weight_bytes``: refuse (before allocating anything) an architecture whose weights
    would take more memory than this; the loaders pass ``limits.weight_budget`` of the
    weights the file actually holds, so a small file cannot declare a huge model."""
    custom_objects = check_custom_objects(custom_objects, "model_from_config()")
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
    items = []                       # the InputLayer (if any) and the layers, in order
    for position, entry in enumerate(entries):
        # Older files put `batch_input_shape` on the first layer instead of writing an InputLayer.
        cfg = entry.get("config") if isinstance(entry, dict) else None
        if isinstance(cfg, dict) and "batch_input_shape" in cfg and entry.get("class_name") != "InputLayer":
            cfg = dict(cfg)
            shape = cfg.pop("batch_input_shape")
            entry = {**entry, "config": cfg}
            if not items and shape is not None:
                items.append(InputLayer(batch_shape=parse_batch_shape(shape, f"Layer {position}")))
        items.append(layer_from_config(entry, position, custom_objects))
    build_shape = config.get("build_input_shape") or (obj.get("build_config") or {}).get("input_shape")
    has_input = bool(items) and (isinstance(items[0], InputLayer) or items[0].input_shape_arg is not None)
    # Only a model without an input of its own is built from build_input_shape.
    build_shape = None if has_input or build_shape is None else parse_batch_shape(
        build_shape, "Sequential model (build_input_shape)")
    check_weight_budget(items, build_shape, max_weight_bytes)
    model = Sequential(name=name, trainable=bool(config.get("trainable", True)))
    for item in items:
        model.add(item)
    if not model.built and build_shape is not None and model.layers:
        model.build(build_shape)
    if compile and obj.get("compile_config"):
        compile_config.restore(model, obj["compile_config"])
    return model


def _declared_weights(layer, input_shape):
    """The shapes of the weights ``layer.build(input_shape)`` would create, found without
    allocating them (``add_weight`` is stood in for by a recorder returning a zero-stride view)."""
    shapes = []

    def record(name, shape, initializer="zeros", dtype=None):
        shape = tuple(int(d) for d in shape)
        shapes.append((name, shape))
        try:
            return np.broadcast_to(np.float32(0), shape)
        except ValueError:                   # more dimensions or elements than NumPy can describe
            return None

    built, weights = layer.built, dict(layer._weights)
    layer.add_weight = record
    try:
        layer.build(input_shape)
    finally:
        del layer.add_weight
        layer.built, layer._weights = built, weights
    return shapes


def check_weight_budget(items, build_shape, budget):
    """Walk the layers' shapes and add up the weights they would create; refuse past ``budget`` bytes."""
    if budget is None:
        return
    shape, total = None, 0
    for item in items:
        if isinstance(item, InputLayer):
            if shape is None:
                shape = (None, *tuple(item.shape)[1:])
            continue
        if shape is None:
            shape = (None, *item.input_shape_arg) if item.input_shape_arg is not None else build_shape
            if shape is None:
                return                       # never built here, so nothing is allocated
        try:
            item.check_input_shape(shape)
            declared = _declared_weights(item, shape)
        except (ValueError, TypeError, ArithmeticError, IndexError, KeyError):
            return                           # building reports the problem, before allocating this layer
        total += sum(math.prod(s) for _, s in declared) * 4
        if total > budget:
            raise CnnlabError(
                f"Layer '{item.name}' ({type(item).__name__}) declares weights "
                f"{', '.join(f'{n} {s}' for n, s in declared)}: with the layers before it the model would need "
                f"{total:,} bytes of weights, but the file holds only enough for {budget:,}. Refusing to allocate "
                f"them: the configuration does not match the weights (a damaged or crafted file). "
                f"Received: input shape={shape}")
        try:
            shape = tuple(item.compute_output_shape(shape))
        except (ValueError, TypeError, ArithmeticError, IndexError, KeyError):
            return
