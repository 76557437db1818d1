"""One layer entry of a Keras ``config.json`` -> a cnnlab layer, or a clear refusal.

The class comes from cnnlab's own table (``cnnlab.layers.layer_class``) or from the
classes the user registered in this process (``registration``); the file's ``module``
is never imported. Keras 3's spellings are accepted: a
``DTypePolicy`` object or a dtype name, initializer objects, activation names.
An option cnnlab does not implement is refused by name, unless its value is
"off" (``None``/``False``), which is how Keras writes options left at their default.
"""

from __future__ import annotations

import inspect

from ..backend import floatx
from ..errors import CnnlabError
from ..layers import LAYER_CLASSES, InputLayer, layer_class
from ..layers import initializers as init_mod
from ..layers.base import Layer
from ..layers.outside import OUTSIDE, outside_message
from ..ops import activations as act_ops
from ..registry import lookup
from . import registration

#: Accepted spellings that a class's signature does not show.
_EXTRA_OPTIONS = {"LeakyReLU": {"alpha"}}
#: Options that are integers (or tuples of them); JSON's true/false would pass Python's isinstance(int).
_INTEGER_OPTIONS = {
    "filters",
    "units",
    "kernel_size",
    "strides",
    "pool_size",
    "dilation_rate",
    "target_shape",
    "groups",
    "axis",
    "depth_multiplier",
    "output_padding",
}
_INPUT_OPTIONS = {
    "batch_shape",
    "shape",
    "batch_size",
    "dtype",
    "sparse",
    "ragged",
    "optional",
    "name",
    "batch_input_shape",
    "input_shape",
}


def _off(value):
    return value is None or value is False


def _has_bool(value):
    if isinstance(value, (list, tuple)):
        return any(_has_bool(v) for v in value)
    return isinstance(value, bool)


def is_float32_policy(dtype):
    if dtype is None or dtype == floatx:
        return True
    if isinstance(dtype, dict) and dtype.get("class_name") in (
        "DTypePolicy",
        "FloatDTypePolicy",
    ):
        return (dtype.get("config") or {}).get("name") == floatx
    return False


def check_keras_object(entry, where):
    """A serialized object must name a built-in Keras class: module ``keras...`` (or none), no registered name."""
    module, registered = entry.get("module"), entry.get("registered_name")
    if module is not None and not (
        isinstance(module, str) and module.split(".")[0] == "keras"
    ):
        raise CnnlabError(
            f"{where}: class {entry.get('class_name')!r} comes from module {module!r}; cnnlab "
            f"builds only its own layers and never imports code named in a file. "
            f"Received: module={module!r}"
        )
    if registered is not None and registered != entry.get("class_name"):
        raise CnnlabError(
            f"{where}: {registered!r} is a custom registered class; cnnlab never imports code "
            f"named in a file. Received: registered_name={registered!r}"
        )


def accepted_options(cls):
    """The keyword arguments ``cls`` and the classes it builds on accept (a user's subclass that
    passes ``**kwargs`` on accepts its base's arguments too)."""
    names = set(_EXTRA_OPTIONS.get(cls.__name__, ()))
    for base in [
        c for c in cls.__mro__ if isinstance(c, type) and issubclass(c, Layer)
    ] or [cls]:
        if "__init__" not in vars(base):
            continue
        for p in inspect.signature(vars(base)["__init__"]).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return names


def _activation(value, where):
    if isinstance(value, dict):
        check_keras_object(value, where)
        if not isinstance(value.get("config"), str):
            raise CnnlabError(
                f"{where}: activation {value!r} is not a built-in activation name. "
                f"Received: activation={value!r}"
            )
        value = value["config"]
    try:
        lookup("activation", value, act_ops.ACTIVATIONS, "activation")
    except ValueError as e:
        raise CnnlabError(f"{where}: {e}") from None
    return value


def _initializer(value, key, where):
    if isinstance(value, dict):
        check_keras_object(value, f"{where}, {key}")
        if not isinstance(value.get("class_name"), str) or not isinstance(
            value.get("config") or {}, dict
        ):
            raise CnnlabError(
                f"{where}: {key} must name an initializer class and give its config as an object. "
                f"Received: {key}={str(value)[:200]}"
            )
        config = dict(value.get("config") or {})
        cls = init_mod.NAMES.get(value.get("class_name"))
        if cls is not None:
            # Options newer Keras versions add (GlorotUniform's input_axes/output_axes) are dropped when off.
            allowed = {
                p for p in inspect.signature(cls.__init__).parameters if p != "self"
            }
            extra = {k: v for k, v in config.items() if k not in allowed}
            if any(not _off(v) for v in extra.values()):
                raise CnnlabError(
                    f"{where}: {key} {value.get('class_name')} with unsupported option(s) "
                    f"{sorted(extra)}. Received: {extra}"
                )
            config = {k: v for k, v in config.items() if k in allowed}
        value = {"class_name": value.get("class_name"), "config": config}
    elif not isinstance(value, str):
        raise CnnlabError(
            f"{where}: {key} must be an initializer name or object. Received: {key}={value!r}"
        )
    try:
        init_mod.get(value)
    except (ValueError, TypeError) as e:
        raise CnnlabError(f"{where}: unsupported {key}: {e}") from None
    return value


def parse_batch_shape(value, where):
    if (
        not isinstance(value, (list, tuple))
        or len(value) < 2
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value[1:]
        )
        or not (value[0] is None or (isinstance(value[0], int) and value[0] > 0))
    ):
        raise CnnlabError(
            f"{where}: batch_shape must be [batch or null, d1, d2, ...] with positive sizes. "
            f"Received: batch_shape={value!r}"
        )
    return (None, *value[1:])


def input_layer_from_config(config, where):
    unknown = {k: v for k, v in config.items() if k not in _INPUT_OPTIONS}
    if unknown:
        raise CnnlabError(
            f"{where}: unsupported InputLayer options {sorted(unknown)}. Received: {unknown}"
        )
    for key in ("sparse", "ragged", "optional"):
        if not _off(config.get(key)):
            raise CnnlabError(
                f"{where}: cnnlab supports only dense inputs. Received: {key}={config[key]!r}"
            )
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if shape is None and config.get("shape") is not None:
        shape = [None, *config["shape"]]
    if shape is None:
        raise CnnlabError(
            f"{where}: the InputLayer has no batch_shape. Received: config={config!r}"
        )
    return InputLayer(
        batch_shape=parse_batch_shape(shape, where), name=config.get("name")
    )


def layer_from_config(entry, position, custom_objects=None):
    """``entry`` = ``{"module", "class_name", "config", "registered_name", ...}`` -> a cnnlab layer
    (a built-in one, or one of the classes the user registered or passed in ``custom_objects``)."""
    where = f"Layer {position} of the model"
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise CnnlabError(
            f"{where}: expected a serialized layer object. Received: {str(entry)[:200]}"
        )
    class_name = entry.get("class_name")
    config = dict(entry["config"])
    name = config.get("name")
    if not isinstance(class_name, str):
        raise CnnlabError(
            f"{where}: class_name must be a string. Received: class_name={str(class_name)[:100]}"
        )
    if name is not None and not isinstance(name, str):
        raise CnnlabError(
            f"{where} ({class_name}): the layer name must be a string. "
            f"Received: name={str(name)[:100]}"
        )
    where = f"Layer {name!r} ({class_name}, position {position})"
    cls = registration.resolve(entry, where, custom_objects)
    custom = cls is not None
    if custom and not (isinstance(cls, type) and hasattr(cls, "from_config")):
        raise CnnlabError(
            f"{where}: the registered object {cls!r} is not a class with from_config(). "
            f"Received: {cls!r}"
        )
    cls = cls or layer_class(class_name, missing=None)
    if cls is None:
        if class_name in OUTSIDE:
            raise CnnlabError(
                f"{where}: unknown layer class {class_name!r}. {outside_message(class_name)}"
            )
        raise CnnlabError(
            f"{where}: unknown layer class {class_name!r}. cnnlab builds its own layers "
            f"({', '.join(sorted(LAYER_CLASSES))}) and the classes you register with "
            f"@keras.saving.register_keras_serializable() or pass in custom_objects=. "
            f"Received: class_name={class_name!r}"
        )
    if class_name == "InputLayer" and not custom:
        return input_layer_from_config(config, where)
    for key in _INTEGER_OPTIONS & set(config):
        if _has_bool(config[key]):
            raise CnnlabError(
                f"{where}: `{key}` must hold integers, not booleans. Received: {key}={config[key]!r}"
            )
    dtype = config.pop("dtype", None)
    if not is_float32_policy(dtype):
        raise CnnlabError(
            f"{where}: cnnlab computes in float32 only. Received: dtype={dtype!r}"
        )
    if "activation" in config and config["activation"] is not None:
        config["activation"] = _activation(config["activation"], where)
    for key in [k for k in config if k.endswith("_initializer")]:
        config[key] = _initializer(config[key], key, where)
    for key in [
        k
        for k in config
        if k.endswith(("_regularizer", "_constraint")) and isinstance(config[k], dict)
    ]:
        check_keras_object(
            config[key], f"{where}, {key}"
        )  # the object itself: cnnlab's own table
    allowed = accepted_options(cls)
    unsupported = {}
    for key in [k for k in config if k not in allowed]:
        value = config.pop(key)
        if not _off(value):
            unsupported[key] = value
    if custom and unsupported:
        config.update(unsupported)  # the user's class reads its own keys in from_config
        unsupported = {}
    if unsupported:
        raise CnnlabError(
            f"{where}: cnnlab does not support the option(s) {sorted(unsupported)}. "
            f"Received: {unsupported}"
        )
    try:
        layer = cls.from_config(config)
    except CnnlabError as e:
        raise CnnlabError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise CnnlabError(
            f"{where}: {cls.__name__}.from_config() failed: {e}. Received: config={config}"
        ) from None
    return layer
