"""A model as Keras 3 serializes it (``config.json`` of a ``.keras`` file): Sequential, functional
and nested; the one serializer behind files, ``get_config`` and the CLI's specs.

``serialize_keras_object(model)`` in Keras 3 gives::

    {"module": "keras", "class_name": "Sequential",
     "config": {"name": ..., "trainable": ..., "dtype": <DTypePolicy>,
                "layers": [<InputLayer>, <layer>, ...], "build_input_shape": [null, ...]},
     "registered_name": null,
     "build_config": {"input_shape": [null, ...]},
     "compile_config": {...}}            # only once compiled

and each layer ``{"module": "keras.layers", "class_name": ..., "config": ...,
"registered_name": null, "build_config": {"input_shape": ...}}``, with the dtype
written as a ``DTypePolicy`` object (keras/src/layers/layer.py, ``get_config``).

A functional model (keras/src/models/functional.py, ``get_config``) is
``{"module": "keras.src.models.functional", "class_name": "Functional", "registered_name":
"Functional", "build_config": {"input_shape": null}, "config": {"name", "trainable",
"layers", "input_layers", "output_layers"}}``: each layer entry adds its ``name`` and its
``inbound_nodes``, one ``{"args": [tensor or [tensors]], "kwargs": {}}`` per call of the
layer within this model, a tensor written as ``__keras_tensor__`` with its shape, dtype
and ``keras_history`` ``[layer, call index within the model, output index]``. Keras's
one quirk is kept: ``input_layers`` / ``output_layers`` count a nested functional model's
calls from 1, its ``inbound_nodes`` references from 0. An uncompiled model has
``"compile_config": {}``.
"""

from __future__ import annotations

from ..backend import floatx
from ..errors import CnnlabError
from ..layers import InputLayer
from ..model.model import Model
from ..model.sequential import Sequential
from . import compile_config, registration


def dtype_policy(name=floatx):
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": name},
        "registered_name": None,
    }


#: The layers whose entry Keras 3 gives a ``build_config`` (those with a ``build()`` of their own, Flatten
#: and the merge layers); pooling, Dropout, activations and Reshape have none (checked against Keras 3.15.1).
KERAS_BUILD_CONFIG = {
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Dense",
    "Flatten",
    "BatchNormalization",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    "Dot",
}
KERAS_BUILD_CONFIG |= {
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "PReLU",
    "Rescaling",
    "Resizing",
    "CenterCrop",
    "Permute",
    "RepeatVector",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
}
KERAS_BUILD_CONFIG |= {
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
    "RandomCrop",
    "Normalization",
}
#: Initializers whose Keras 3.15 config also holds ``input_axes`` / ``output_axes`` (VarianceScaling's family).
AXES_INITIALIZERS = {
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "LecunNormal",
    "LecunUniform",
    "HeNormal",
    "HeUniform",
}


def class_reference(obj, keras_module):
    """``module`` / ``class_name`` / ``registered_name`` as Keras writes them: a built-in class under its
    Keras module, a user's class under its own module and registered name ("package>Name", or
    the class name when not registered), which loading looks up and never imports."""
    cls = type(obj)
    if cls.__module__.split(".")[0] == "cnnlab":
        return {
            "module": keras_module,
            "class_name": cls.__name__,
            "registered_name": None,
        }
    return {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "registered_name": registration.get_registered_name(cls),
    }


def _keras_initializer(value):
    if isinstance(value, dict) and value.get("class_name") in AXES_INITIALIZERS:
        config = {**(value.get("config") or {})}
        config.setdefault("input_axes", None)
        config.setdefault("output_axes", None)
        return {**value, "config": config}
    return value


def layer_entry(layer):
    if isinstance(layer, Model):
        return model_entry(layer, include_compile=False)
    config = dict(layer.get_config())
    # (SpatialDropout's Keras config writes its dtype as a plain name)
    config["dtype"] = (
        floatx if getattr(layer, "keras_plain_dtype", False) else dtype_policy()
    )
    # Keras 3 turns `input_shape=` into an InputLayer (written first); the layer keeps no copy.
    config.pop("batch_input_shape", None)
    for key in [k for k in config if k.endswith("_initializer")]:
        config[key] = _keras_initializer(config[key])
    if type(layer).__name__ == "Dense":
        # Keras 3's Dense has no activity_regularizer in its config, and a quantization_config.
        if config.get("activity_regularizer", None) is None:
            config.pop("activity_regularizer", None)
        config.setdefault("quantization_config", None)
    entry = {**class_reference(layer, "keras.layers"), "config": config}
    if (
        layer.built
        and layer.input_shape is not None
        and type(layer).__name__ in KERAS_BUILD_CONFIG
    ):
        shape = layer.input_shape
        entry["build_config"] = {
            "input_shape": [list(s) for s in shape]
            if isinstance(shape, list)
            else list(shape)
        }
    return entry


def input_layer_entry(model):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": [None, *model.input_shape[1:]],
            "dtype": floatx,
            "sparse": False,
            "ragged": False,
            "name": "input_layer",
            "optional": False,
        },
        "registered_name": None,
    }


def serialize_model(model, include_compile=True):
    """The Keras 3 ``config.json`` object for ``model`` (JSON-ready: lists, not tuples)."""
    return _jsonable(model_entry(model, include_compile))


def model_entry(model, include_compile=True):
    if isinstance(model, Sequential):
        obj = _sequential_entry(model)
    elif is_functional(model):
        obj = _functional_entry(model)
    else:
        raise CnnlabError(
            f"Model '{model.name}' ({type(model).__name__}) is a subclassed model: its structure is "
            f"its call() method, which a config cannot describe (Keras cannot either, without a "
            f"get_config of your own). Save its weights with save_weights(), or build it with the "
            f"functional API. Received: {type(model).__name__}"
        )
    obj["compile_config"] = (
        compile_config.serialize(model) if include_compile and model.compiled else {}
    )
    return obj


def is_functional(model):
    """A model made by ``Model(inputs, outputs)`` (a graph), not a subclass with its own call()."""
    return (
        isinstance(model, Model)
        and not isinstance(model, Sequential)
        and not model._subclassed
        and bool(getattr(model, "_nodes", None))
    )


def _sequential_entry(model):
    layers = []
    if model.input_shape is not None:
        layers.append(input_layer_entry(model))
    layers.extend(layer_entry(layer) for layer in model.layers)
    config = {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": dtype_policy(),
        "layers": layers,
    }
    obj = {
        "module": "keras",
        "class_name": "Sequential",
        "config": config,
        "registered_name": None,
    }
    if model.input_shape is not None:
        config["build_input_shape"] = list(model.input_shape)
        obj["build_config"] = {"input_shape": list(model.input_shape)}
    return obj


def _input_entry(layer):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": list(layer.shape),
            "dtype": floatx,
            "sparse": False,
            "ragged": False,
            "name": layer.name,
            "optional": False,
        },
        "registered_name": None,
    }


def _functional_entry(model):
    """Keras's functional config: the layers in ``model.layers`` order, each with its calls in this model."""

    def call_index(node):
        return model.layer_nodes(node.layer).index(node)

    def tensor(t):
        layer, _, index = t._keras_history
        return {
            "class_name": "__keras_tensor__",
            "config": {
                "shape": list(t.shape),
                "dtype": t.dtype if isinstance(t.dtype, str) else floatx,
                "keras_history": [layer.name, call_index(t.node), index],
            },
        }

    def reference(t):
        layer, _, index = t._keras_history
        shift = (
            1 if is_functional(layer) else 0
        )  # Keras's count from 1 for a nested functional model
        return [layer.name, call_index(t.node) + shift, index]

    def structure(kind, tensors):
        refs = [reference(t) for t in tensors]
        if isinstance(kind, dict):
            return dict(zip(kind, refs))
        return refs if isinstance(kind, list) else refs[0]

    layers = []
    for layer in model.layers:
        entry = (
            _input_entry(layer) if isinstance(layer, InputLayer) else layer_entry(layer)
        )
        nodes = []
        for node in model.layer_nodes(layer):
            if node.is_input:
                continue
            args = [tensor(t) for t in node.input_tensors]
            # Keras writes the training= given at the call, else a model call's (empty) mask.
            kwargs = (
                {"training": node.training}
                if node.training is not None
                else ({"mask": None} if isinstance(layer, Model) else {})
            )
            nodes.append(
                {
                    "args": [args if node.call_args == "list" else args[0]],
                    "kwargs": kwargs,
                }
            )
        entry["name"] = layer.name
        entry["inbound_nodes"] = nodes
        layers.append(entry)
    config = {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": structure(model._structure_in, model.inputs),
        "output_layers": structure(model._structure_out, model.outputs),
    }
    return {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": config,
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
    }


def _jsonable(value):
    """Tuples become lists and NumPy scalars Python numbers, as ``json.dumps`` would write them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if (
        hasattr(value, "item")
        and callable(value.item)
        and getattr(value, "ndim", None) == 0
    ):
        return value.item()
    return value
