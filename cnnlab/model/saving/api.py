"""``save_model`` / ``load_model`` / ``save_weights`` / ``load_weights``: pick the format by file name.

=====================  =================================================  ==============================
file name              what                                               written by
=====================  =================================================  ==============================
``*.keras``            whole model: config, weights, optimizer state      ``save_model`` (Keras 3 format)
``*.weights.h5``       weights (+ optimizer state), Keras's layout        ``save_weights``
``*.safetensors``      weights + the architecture in its metadata         ``save_weights``
=====================  =================================================  ==============================

Every file is written atomically (``atomic``). Nothing read from a file is ever
imported, unpickled or evaluated.
"""
from __future__ import annotations

import os
import warnings

from ...errors import CnnlabError
from . import architecture, h5_store, keras_archive, limits, optimizer_state, safetensors_io
from ...atomic import atomic_write, atomic_write_bytes
from .model_from_config import model_from_config


def _path(filepath, what):
    if isinstance(filepath, (str, os.PathLike)):
        return os.fspath(filepath)
    raise TypeError(f"{what}: expected a file path (str or pathlib.Path). Received: filepath={filepath!r}")


def _restore_optimizer(model, values):
    if values is not None:
        optimizer_state.restore(model.optimizer, model.trainable_weights, values)


def save_model(model, filepath, overwrite=True, zipped=None):
    """Save the whole model as a Keras 3 ``.keras`` file."""
    path = _path(filepath, "save")
    if not path.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. cnnlab saves whole models in Keras 3's native "
                         "format: use a `.keras` extension (for weights alone use save_weights() with "
                         f"`.weights.h5` or `.safetensors`). Received: filepath={path}")
    if zipped not in (None, True):
        raise ValueError(f"save(): cnnlab writes zipped `.keras` files only. Received: zipped={zipped!r}")
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not contain any weights yet. "
                      "Consider building the model first by calling it on some data.", stacklevel=3)
    atomic_write(path, lambda f: keras_archive.write_archive(f, model), overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a ``.keras`` file (or a cnnlab ``.safetensors`` file, which carries its architecture).

    ``custom_objects`` must be empty: cnnlab builds only its own layers and never imports
    code named in a file, so ``safe_mode`` is always in force.
    """
    if custom_objects:
        raise CnnlabError(f"load_model(): cnnlab does not accept custom_objects: it builds only its own layers and "
                          f"never runs code named in a file. Received: custom_objects={sorted(custom_objects)}")
    path = _path(filepath, "load_model")
    if path.endswith(".keras"):
        with keras_archive.KerasArchive(path) as archive:
            model = model_from_config(archive.config(), compile=compile,
                                      max_weight_bytes=limits.weight_budget(archive.weights_size()))
            read = h5_store.read_weights(archive.weights(), model, path)
        architecture.assign(model, read.layers)
        _restore_optimizer(model, read.optimizer)
        return model
    if path.endswith(".safetensors"):
        with safetensors_io.SafetensorsFile(path) as st:
            model = model_from_config(safetensors_io.keras_config(st), compile=False,
                                      max_weight_bytes=limits.weight_budget(st.data_size))
            arrays = safetensors_io.read_weights(st, model)
        architecture.assign(model, arrays)
        return model
    if path.endswith(".weights.h5"):
        raise ValueError(f"{path} holds weights only: build the model in code and call model.load_weights(). "
                         f"Received: filepath={path}")
    if path.endswith((".h5", ".hdf5")):
        raise ValueError(f"Legacy Keras 2 HDF5 model files are not supported; re-save the model in Keras 3 as "
                         f"`.keras`. Received: filepath={path}")
    raise ValueError(f"Invalid filename: expected a `.keras` extension. Received: filepath={path}")


def save_weights(model, filepath, overwrite=True):
    """Save the weights as ``.weights.h5`` (Keras's layout, with the optimizer state) or ``.safetensors``."""
    path = _path(filepath, "save_weights")
    if not model.built:
        raise ValueError("You are saving a model that has not yet been built. Try building the model first by "
                         "calling it on some data or by using `build()`.")
    if path.endswith(".weights.h5"):
        atomic_write_bytes(path, h5_store.write_weights(model), overwrite)
    elif path.endswith(".safetensors"):
        atomic_write_bytes(path, safetensors_io.write_safetensors(model), overwrite)
    else:
        raise ValueError(f"The filename must end in `.weights.h5` (Keras's format) or `.safetensors`. "
                         f"Received: filepath={path}")


def load_weights(model, filepath):
    """Load weights saved by ``save_weights`` (or from a ``.keras`` file) into a built model.

    Every array is checked against the model before any is copied, so a file that
    does not fit leaves the model unchanged.
    """
    path = _path(filepath, "load_weights")
    if not model.built:
        raise ValueError("You are loading weights into a model that has not yet been built. Try building the "
                         "model first by calling it on some data or by using `build()`.")
    if path.endswith(".weights.h5"):
        read = h5_store.read_weights(path, model, path)
    elif path.endswith(".keras"):
        with keras_archive.KerasArchive(path) as archive:
            read = h5_store.read_weights(archive.weights(), model, path)
    elif path.endswith(".safetensors"):
        with safetensors_io.SafetensorsFile(path) as st:
            read = h5_store.WeightsRead(safetensors_io.read_weights(st, model), None)
    else:
        raise ValueError(f"load_weights(): the filename must end in `.weights.h5`, `.keras` or `.safetensors`. "
                         f"Received: filepath={path}")
    architecture.assign(model, read.layers)
    _restore_optimizer(model, read.optimizer)
