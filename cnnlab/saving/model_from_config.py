"""A Keras 3 model config -> a built cnnlab model: a ``Sequential``, a functional ``Model``, and
the models nested in them (compiled too, when asked and possible).

Everything is checked before anything is built: ``graph_config.check_all`` walks the whole
config (every nested model, from an explicit stack) and refuses a graph that cannot be
right; then the layers are made from cnnlab's own classes and the user's registered ones
(``layer_config``) and called on ``keras.Input`` tensors in a runnable order. The weights a
config declares are added up as it is built (``WeightBudget``): a small file cannot make
cnnlab allocate terabytes.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import CnnlabError
from ..layers import InputLayer
from ..layers.core import Input
from ..model.model import Model
from ..model.sequential import Sequential
from . import compile_config, graph_config
from .layer_config import (
    input_layer_from_config,
    is_float32_policy,
    layer_from_config,
    parse_batch_shape,
)
from .registration import check_custom_objects, resolve

_MODEL_OPTIONS = {"name", "trainable", "dtype", "layers", "build_input_shape"}
#: The modules Keras writes for its model classes.
_MODEL_MODULES = (
    None,
    "keras",
    "keras.models",
    "keras.src.models.sequential",
    "keras.src.models.functional",
    "keras.src.models.model",
)


class WeightBudget:
    """The bytes of weights a config may still declare (None: no limit)."""

    def __init__(self, limit):
        self.limit, self.total = limit, 0

    def spend(self, layer, declared, shape):
        if self.limit is None:
            return
        self.total += sum(math.prod(s) for _, s in declared) * 4
        if self.total > self.limit:
            raise CnnlabError(
                f"Layer '{layer.name}' ({type(layer).__name__}) declares weights "
                f"{', '.join(f'{n} {s}' for n, s in declared)}: with the layers before it the model would need "
                f"{self.total:,} bytes of weights, but the file holds only enough for {self.limit:,}. Refusing to "
                f"allocate them: the configuration does not match the weights (a damaged or crafted file). "
                f"Received: input shape={shape}"
            )


def model_from_config(obj, compile=True, max_weight_bytes=None, custom_objects=None):
    """``max_weight_bytes``: refuse (before allocating anything) an architecture whose weights
    would take more memory than this; the loaders pass ``limits.weight_budget`` of the
    weights the file actually holds, so a small file cannot declare a huge model."""
    custom_objects = check_custom_objects(custom_objects, "model_from_config()")
    _check_model_object(obj, "The model configuration")
    graph_config.check_all(
        obj, f"{obj['class_name']} model {str(obj['config'].get('name'))[:60]!r}"
    )
    model = build_model(obj, custom_objects, WeightBudget(max_weight_bytes))
    if compile and obj.get("compile_config"):
        compile_config.restore(model, obj["compile_config"])
    return model


def _check_model_object(obj, where):
    if not isinstance(obj, dict) or not isinstance(obj.get("config"), dict):
        raise CnnlabError(
            f"{where} is not a serialized Keras model object. Received: {str(obj)[:200]}"
        )
    class_name = obj.get("class_name")
    if (
        class_name not in graph_config.MODEL_CLASSES
        or obj.get("registered_name") not in (None, class_name)
        or obj.get("module") not in _MODEL_MODULES
    ):
        raise CnnlabError(
            f"{where}: cnnlab loads Keras's Sequential and functional models (Functional, Model); "
            f"this is a {class_name!r} (module {obj.get('module')!r}, registered_name "
            f"{obj.get('registered_name')!r}): a subclassed model is rebuilt in your own code. "
            f"Received: class_name={class_name!r}"
        )


def build_model(obj, custom_objects, budget, where=None):
    """A checked model object -> the model (nested models are built the same way)."""
    _check_model_object(obj, where or "The model configuration")
    if obj["class_name"] == "Sequential":
        return _sequential(obj, custom_objects, budget)
    return _functional(obj, custom_objects, budget)


def _layer(entry, position, custom_objects, budget):
    if graph_config.is_model_entry(entry):
        return build_model(
            entry, custom_objects, budget, f"Layer {position} of the model"
        )
    return layer_from_config(entry, position, custom_objects)


def _sequential(obj, custom_objects, budget):
    config = obj["config"]
    unknown = {
        k: v
        for k, v in config.items()
        if k not in _MODEL_OPTIONS and v not in (None, False)
    }
    if unknown:
        raise CnnlabError(
            f"Sequential model: unsupported option(s) {sorted(unknown)}. Received: {unknown}"
        )
    if not is_float32_policy(config.get("dtype")):
        raise CnnlabError(
            f"Sequential model: cnnlab computes in float32 only. Received: dtype={config['dtype']!r}"
        )
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        raise CnnlabError(
            f"Sequential model: name must be a string. Received: name={name!r}"
        )
    entries = config.get("layers")
    if not isinstance(entries, list):
        raise CnnlabError(
            f"Sequential model: `layers` must be a list. Received: layers={str(entries)[:200]}"
        )
    items = []  # the InputLayer (if any) and the layers, in order
    for position, entry in enumerate(entries):
        # Older files put `batch_input_shape` on the first layer instead of writing an InputLayer.
        cfg = entry.get("config") if isinstance(entry, dict) else None
        if (
            isinstance(cfg, dict)
            and "batch_input_shape" in cfg
            and entry.get("class_name") != "InputLayer"
        ):
            cfg = dict(cfg)
            shape = cfg.pop("batch_input_shape")
            entry = {**entry, "config": cfg}
            if not items and shape is not None:
                items.append(
                    InputLayer(
                        batch_shape=parse_batch_shape(shape, f"Layer {position}")
                    )
                )
        items.append(_layer(entry, position, custom_objects, budget))
    build_shape = config.get("build_input_shape") or (
        obj.get("build_config") or {}
    ).get("input_shape")
    has_input = bool(items) and (
        isinstance(items[0], InputLayer)
        or getattr(items[0], "input_shape_arg", None) is not None
    )
    # Only a model without an input of its own is built from build_input_shape.
    build_shape = (
        None
        if has_input or build_shape is None
        else parse_batch_shape(build_shape, "Sequential model (build_input_shape)")
    )
    check_weight_budget(items, build_shape, budget)
    model = Sequential(name=name, trainable=bool(config.get("trainable", True)))
    for item in items:
        model.add(item)
    if not model.built and build_shape is not None and model.layers:
        model.build(build_shape)
    return model


def _functional(obj, custom_objects, budget):
    """Build the graph: layers from their entries, Inputs, then each call in a runnable order."""
    config = obj["config"]
    where = f"Functional model {str(config.get('name'))[:60]!r}"
    plan = graph_config.parse(config, where)
    layers, tensors = {}, {}
    for position, (name, entry) in enumerate(plan.entries.items()):
        if (
            entry.get("class_name") == "InputLayer"
            and resolve(entry, where, custom_objects) is None
        ):
            cfg = entry.get("config")
            if not isinstance(cfg, dict):
                raise CnnlabError(
                    f"{where}: the InputLayer {name!r} has no config. Received: {str(entry)[:200]}"
                )
            declared = input_layer_from_config(
                {**cfg, "name": name}, f"{where}, InputLayer {name!r}"
            )
            tensors[(name, 0, 0)] = Input(batch_shape=declared.shape, name=name)
            continue
        layer = _layer(
            {**entry, "config": {**(entry.get("config") or {}), "name": name}}
            if isinstance(entry.get("config"), dict)
            else entry,
            position,
            custom_objects,
            budget,
        )
        layers[name] = layer
    for call in plan.calls:
        layer = layers[call.layer]
        args = [tensors[(r.layer, r.node, r.tensor)] for r in call.refs]
        at = f"{where}, layer {call.layer!r} ({type(layer).__name__}), call {call.node}"
        shapes = [tuple(t.shape) for t in args]
        if not getattr(layer, "built", False) and not isinstance(layer, Model):
            check_weight_budget(
                [layer], shapes if isinstance(call.args, list) else shapes[0], budget
            )
        try:
            given = args if isinstance(call.args, list) else args[0]
            out = (
                layer(given)
                if call.training is None
                else layer(given, training=call.training)
            )
        except (
            CnnlabError,
            TypeError,
            ValueError,
            IndexError,
            KeyError,
            ArithmeticError,
        ) as e:
            raise CnnlabError(
                f"{at}: the layer cannot be called on its inputs {shapes}: {e}"
            ) from None
        outs = out if isinstance(out, (list, tuple)) else [out]
        for i, t in enumerate(outs):
            tensors[(call.layer, call.node, i)] = t

    def tensor(ref):
        found = tensors.get((ref.layer, ref.node, ref.tensor))
        if found is None:
            raise CnnlabError(
                f"{where}: layer {ref.layer!r} gives no output {ref.tensor} at call {ref.node}. "
                f"Received: [{ref.layer!r}, {ref.node}, {ref.tensor}]"
            )
        return found

    def structure(value):
        if isinstance(value, dict):
            return {k: tensor(v) for k, v in value.items()}
        if isinstance(value, list):
            return [tensor(v) for v in value]
        return tensor(value)

    try:
        return Model(
            structure(plan.inputs),
            structure(plan.outputs),
            name=plan.name,
            trainable=plan.trainable,
        )
    except (TypeError, ValueError) as e:
        raise CnnlabError(f"{where}: the graph cannot make a model: {e}") from None


def _declared_weights(layer, input_shape):
    """The shapes of the weights ``layer.build(input_shape)`` would create, found without
    allocating them (``add_weight`` is stood in for by a recorder returning a zero-stride view)."""
    shapes = []

    def record(name, shape, initializer="zeros", dtype=None):
        shape = tuple(int(d) for d in shape)
        shapes.append((name, shape))
        try:
            return np.broadcast_to(np.float32(0), shape)
        except ValueError:  # more dimensions or elements than NumPy can describe
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
    """Walk the layers' shapes and add up the weights they would create; refuse past the budget.
    ``items`` is a chain (a Sequential's layers, or one layer with its input shape ``build_shape``)."""
    if budget is None or budget.limit is None:
        return
    shape = None
    for item in items:
        if isinstance(item, InputLayer):
            if shape is None:
                shape = (None, *tuple(item.shape)[1:])
            continue
        if shape is None:
            shape = (
                (None, *item.input_shape_arg)
                if getattr(item, "input_shape_arg", None) is not None
                else build_shape
            )
            if shape is None:
                return  # never built here, so nothing is allocated
        if isinstance(item, Model):
            return  # a nested model spent its own weights when it was built
        try:
            item.check_input_shape(shape)
            declared = _declared_weights(item, shape)
        except (
            ValueError,
            TypeError,
            ArithmeticError,
            IndexError,
            KeyError,
            AttributeError,
        ):
            return  # building reports the problem, before allocating this layer
        budget.spend(item, declared, shape)
        try:
            shape = tuple(item.compute_output_shape(shape))
        except (
            ValueError,
            TypeError,
            ArithmeticError,
            IndexError,
            KeyError,
            AttributeError,
        ):
            return
