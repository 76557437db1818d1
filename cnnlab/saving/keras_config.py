"""A Sequential model as Keras 3 serializes it (``config.json`` of a ``.keras`` file).

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
"""
from __future__ import annotations

from ..backend import floatx
from . import compile_config, registration


def dtype_policy(name=floatx):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


#: The layers whose entry Keras 3 gives a ``build_config`` (those with a ``build()`` of their own, and
#: Flatten); pooling, Dropout, activations and Reshape have none (checked against Keras 3.15.1).
KERAS_BUILD_CONFIG = {"Conv1D", "Conv2D", "Conv3D", "Dense", "Flatten", "BatchNormalization"}
KERAS_BUILD_CONFIG |= {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D", "DepthwiseConv2D",
                       "SeparableConv1D", "SeparableConv2D", "PReLU", "Rescaling", "Resizing", "CenterCrop",
                       "Permute", "RepeatVector", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
                       "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D"}
KERAS_BUILD_CONFIG |= {"RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
                       "RandomBrightness", "RandomCrop"}
#: Initializers whose Keras 3.15 config also holds ``input_axes`` / ``output_axes`` (VarianceScaling's family).
AXES_INITIALIZERS = {"VarianceScaling", "GlorotUniform", "GlorotNormal", "LecunNormal", "LecunUniform", "HeNormal",
                     "HeUniform"}


def class_reference(obj, keras_module):
    """``module`` / ``class_name`` / ``registered_name`` as Keras writes them: a built-in class under its
    Keras module, a user's class under its own module and registered name ("package>Name", or
    the class name when not registered), which loading looks up and never imports."""
    cls = type(obj)
    if cls.__module__.split(".")[0] == "cnnlab":
        return {"module": keras_module, "class_name": cls.__name__, "registered_name": None}
    return {"module": cls.__module__, "class_name": cls.__name__,
            "registered_name": registration.get_registered_name(cls)}


def _keras_initializer(value):
    if isinstance(value, dict) and value.get("class_name") in AXES_INITIALIZERS:
        config = {**(value.get("config") or {})}
        config.setdefault("input_axes", None)
        config.setdefault("output_axes", None)
        return {**value, "config": config}
    return value


def layer_entry(layer):
    config = dict(layer.get_config())
    # (SpatialDropout's Keras config writes its dtype as a plain name)
    config["dtype"] = floatx if getattr(layer, "keras_plain_dtype", False) else dtype_policy()
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
    if layer.built and layer.input_shape is not None and type(layer).__name__ in KERAS_BUILD_CONFIG:
        entry["build_config"] = {"input_shape": list(layer.input_shape)}
    return entry


def input_layer_entry(model):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None, *model.input_shape[1:]], "dtype": floatx, "sparse": False,
                       "ragged": False, "name": "input_layer", "optional": False},
            "registered_name": None}


def serialize_model(model, include_compile=True):
    """The Keras 3 ``config.json`` object for ``model`` (JSON-ready: lists, not tuples)."""
    layers = []
    if model.input_shape is not None:
        layers.append(input_layer_entry(model))
    layers.extend(layer_entry(layer) for layer in model.layers)
    config = {"name": model.name, "trainable": model.trainable, "dtype": dtype_policy(), "layers": layers}
    obj = {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    if model.input_shape is not None:
        config["build_input_shape"] = list(model.input_shape)
        obj["build_config"] = {"input_shape": list(model.input_shape)}
    if include_compile and model.compiled:
        obj["compile_config"] = compile_config.serialize(model)
    return _jsonable(obj)


def _jsonable(value):
    """Tuples become lists and NumPy scalars Python numbers, as ``json.dumps`` would write them."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        return value.item()
    return value
