"""``save_model`` / ``load_model`` / ``save_weights`` / ``load_weights``: pick the format by file name.

=====================  =================================================  ==============================
file name              what                                               written by
=====================  =================================================  ==============================
``*.keras``            whole model: config, weights, optimizer state      ``save_model`` (Keras 3 format)
``*.weights.h5``       weights (+ optimizer state), Keras's layout        ``save_weights``
``*.safetensors``      weights + the architecture in its metadata         ``save_weights``
``*.h5`` / ``*.hdf5``  legacy whole model (Keras 2's format, ``legacy_h5``) ``save_model``; weights only:
                                                                          ``save_weights``
=====================  =================================================  ==============================

Every file is written atomically (``atomic``). Nothing read from a file is ever
imported, unpickled or evaluated.
"""

from __future__ import annotations

import json
import os
import warnings

from ..atomic import atomic_write, atomic_write_bytes
from ..errors import CnnlabError
from . import (
    architecture,
    h5_store,
    keras_archive,
    keras_config,
    legacy_h5,
    limits,
    optimizer_state,
    safetensors_io,
)
from .model_from_config import model_from_config
from .registration import check_custom_objects


def _path(filepath, what):
    if isinstance(filepath, (str, os.PathLike)):
        return os.fspath(filepath)
    raise TypeError(
        f"{what}: expected a file path (str or pathlib.Path). Received: filepath={filepath!r}"
    )


def _restore_optimizer(model, values):
    if values is not None:
        optimizer_state.restore(model.optimizer, model.trainable_weights, values)


def _is_legacy_h5(path):
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def save_model(model, filepath, overwrite=True, zipped=None, include_optimizer=True):
    """Save the whole model as a Keras 3 ``.keras`` file, or a legacy ``.h5`` file."""
    path = _path(filepath, "save")
    if _is_legacy_h5(path):
        warnings.warn(
            "You are saving your model as an HDF5 file via `model.save()` or "
            "`keras.saving.save_model(model)`. This file format is considered legacy. We recommend using "
            "instead the native Keras format, e.g. `model.save('my_model.keras')` or "
            "`keras.saving.save_model(model, 'my_model.keras')`.",
            UserWarning,
            stacklevel=3,
        )
        config = keras_config.serialize_model(model, include_compile=False)
        atomic_write_bytes(
            path, legacy_h5.write_model(model, config, include_optimizer), overwrite
        )
        return
    if not path.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension for the "
            "native Keras format (recommended) or a `.h5` extension (legacy). For weights alone use "
            f"save_weights() with `.weights.h5` or `.safetensors`. Received: filepath={path}"
        )
    if zipped not in (None, True):
        raise ValueError(
            f"save(): cnnlab writes zipped `.keras` files only. Received: zipped={zipped!r}"
        )
    if not model.built:
        warnings.warn(
            "You are saving a model that has not yet been built. It might not contain any weights yet. "
            "Consider building the model first by calling it on some data.",
            stacklevel=3,
        )
    atomic_write(path, lambda f: keras_archive.write_archive(f, model), overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a ``.keras`` file (or a cnnlab ``.safetensors`` file, which carries its architecture).

    ``custom_objects``: ``{name: class}`` for the user's own classes that the file names (as
    do classes registered with ``register_keras_serializable``). cnnlab never imports code
    named in a file, so ``safe_mode`` is always in force.
    """
    custom_objects = check_custom_objects(custom_objects, "load_model()")
    path = _path(filepath, "load_model")
    if path.endswith(".keras"):
        with keras_archive.KerasArchive(path) as archive:
            model = model_from_config(
                archive.config(),
                compile=compile,
                custom_objects=custom_objects,
                max_weight_bytes=limits.weight_budget(archive.weights_size()),
            )
            read = h5_store.read_weights(archive.weights(), model, path)
        architecture.assign(model, read.layers)
        _restore_optimizer(model, read.optimizer)
        return model
    if path.endswith(".safetensors"):
        with safetensors_io.SafetensorsFile(path) as st:
            model = model_from_config(
                safetensors_io.keras_config(st),
                compile=False,
                custom_objects=custom_objects,
                max_weight_bytes=limits.weight_budget(st.data_size),
            )
            arrays = safetensors_io.read_weights(st, model)
        architecture.assign(model, arrays)
        return model
    if path.endswith(".weights.h5"):
        raise ValueError(
            f"{path} holds weights only: build the model in code and call model.load_weights(). "
            f"Received: filepath={path}"
        )
    if _is_legacy_h5(path):

        def build(config, stored_bytes):
            return model_from_config(
                config,
                compile=False,
                custom_objects=custom_objects,
                max_weight_bytes=limits.weight_budget(stored_bytes),
            )

        return legacy_h5.load_model(path, build, compile=compile)
    raise ValueError(
        f"Invalid filename: expected a `.keras` extension (or a legacy `.h5`). "
        f"Received: filepath={path}"
    )


def save_weights(model, filepath, overwrite=True):
    """Save the weights as ``.weights.h5`` (Keras's layout, with the optimizer state) or ``.safetensors``."""
    path = _path(filepath, "save_weights")
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model first by "
            "calling it on some data or by using `build()`."
        )
    if path.endswith(".weights.h5"):
        atomic_write_bytes(path, h5_store.write_weights(model), overwrite)
    elif path.endswith(".safetensors"):
        atomic_write_bytes(path, safetensors_io.write_safetensors(model), overwrite)
    elif _is_legacy_h5(path):
        # Keras 3 writes weights only as `.weights.h5`; a plain `.h5` gets Keras 2's weights layout, which
        # Keras 3's load_weights() still reads (TensorFlow's tutorials write such files).
        atomic_write_bytes(path, legacy_h5.write_weights(model), overwrite)
    else:
        raise ValueError(
            f"The filename must end in `.weights.h5` (Keras's format), `.safetensors` or a legacy "
            f"`.h5`. Received: filepath={path}"
        )


def load_weights(model, filepath):
    """Load weights saved by ``save_weights`` (or from a ``.keras`` file) into a built model.

    Every array is checked against the model before any is copied, so a file that
    does not fit leaves the model unchanged.
    """
    path = _path(filepath, "load_weights")
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building the "
            "model first by calling it on some data or by using `build()`."
        )
    if path.endswith(".weights.h5"):
        read = h5_store.read_weights(path, model, path)
    elif path.endswith(".keras"):
        with keras_archive.KerasArchive(path) as archive:
            read = h5_store.read_weights(archive.weights(), model, path)
    elif path.endswith(".safetensors"):
        with safetensors_io.SafetensorsFile(path) as st:
            read = h5_store.WeightsRead(safetensors_io.read_weights(st, model), None)
    elif _is_legacy_h5(path):
        legacy_h5.load_weights(path, model)
        return
    else:
        raise ValueError(
            f"load_weights(): the filename must end in `.weights.h5`, `.keras`, `.safetensors` or a "
            f"legacy `.h5`. Received: filepath={path}"
        )
    architecture.assign(model, read.layers)
    _restore_optimizer(model, read.optimizer)


# ---- configs as JSON, and copies of a model ----------------------------------------
def to_json(model, **kwargs):
    """``model.to_json()``: the model's Keras config (with ``compile_config``) as JSON text."""
    return json.dumps(
        keras_config.serialize_model(model, include_compile=True), **kwargs
    )


def model_from_json(json_string, custom_objects=None):
    """``keras.models.model_from_json``: the model a JSON config describes (compiled when it says how)."""
    if isinstance(json_string, bytes):
        json_string = json_string.decode("utf-8", "replace")
    if not isinstance(json_string, str):
        raise CnnlabError(
            f"model_from_json(): expected a JSON string. Received: {type(json_string).__name__}"
        )
    if len(json_string) > limits.MAX_CONFIG_BYTES:
        raise CnnlabError(
            f"model_from_json(): {len(json_string):,} characters is more than cnnlab reads as a "
            f"model config ({limits.MAX_CONFIG_BYTES:,}). Received: {len(json_string):,} characters"
        )
    try:
        obj = json.loads(json_string)
    except (ValueError, RecursionError) as e:
        raise CnnlabError(
            f"model_from_json(): not valid JSON ({e}). Received: {json_string[:80]!r}"
        ) from None
    return model_from_config(obj, compile=True, custom_objects=custom_objects)


def model_config_from_dict(config, custom_objects=None):
    """``keras.models.model_from_config``: ``{"class_name", "config"}`` -> a model (uncompiled)."""
    return model_from_config(config, compile=False, custom_objects=custom_objects)


def _own_classes(model):
    """The user's classes a model holds, by the name its config gives them (so a copy finds them)."""
    found = {}
    for _, _, layer in architecture.walk(model):
        cls = type(layer)
        if cls.__module__.split(".")[0] != "cnnlab":
            found[keras_config.registration.get_registered_name(cls)] = cls
    return found


def clone_model(
    model,
    input_tensors=None,
    clone_function=None,
    call_function=None,
    recursive=False,
    **kwargs,
):
    """``keras.models.clone_model``: the same architecture with the same layer names and freshly drawn
    weights (each layer built again from its config, as Keras does); not compiled."""
    for name, value in (
        ("input_tensors", input_tensors),
        ("clone_function", clone_function),
        ("call_function", call_function),
        *kwargs.items(),
    ):
        if value is not None:
            raise CnnlabError(
                f"clone_model(): cnnlab clones a Sequential or functional model as it is; "
                f"`{name}` is not supported. Received: {name}={value!r}"
            )
    return model_from_config(
        keras_config.serialize_model(model, include_compile=False),
        compile=False,
        custom_objects=_own_classes(model),
    )
