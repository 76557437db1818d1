"""Saving and loading models: Keras 3 ``.keras`` files, ``.weights.h5``, legacy ``.h5`` and safetensors.

``saving/`` sits beside ``model/``: it builds models from configs, so it imports
``model/``; ``model/`` reaches it only through ``model/files.py``, on first use.

One job per module:

* ``limits``: bounds on sizes read from files; ``optional``: lazy h5py / safetensors imports;
* ``keras_config``: a model -> Keras 3's config (the one serializer: files, ``get_config``,
  specs); ``compile_config``: compile() both ways;
* ``layer_config`` / ``model_from_config``: a Keras config -> a cnnlab model, through
  cnnlab's own class table and the user's registered classes (``registration``);
  nothing named in a file is imported;
* ``naming``: Keras's snake-case layer keys; ``architecture``: check arrays against the model, copy them in;
* ``optimizer_state``: optimizer state <-> Keras's ``optimizer/vars`` order;
* ``h5_store``: Keras's HDF5 layout; ``keras_archive``: the ``.keras`` zip; ``safetensors_io``: safetensors;
* ``backup``: ``BackupAndRestore``'s training state;
* ``api``: the public functions.

(Atomic writes are ``cnnlab.atomic``, shared with the data downloads.)
"""

from . import backup, keras_config, model_from_config, registration
from .api import (
    clone_model,
    load_model,
    load_weights,
    model_config_from_dict,
    model_from_json,
    save_model,
    save_weights,
    to_json,
)
from .registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)

__all__ = [
    "CustomObjectScope",
    "backup",
    "clone_model",
    "model_config_from_dict",
    "model_from_json",
    "to_json",
    "custom_object_scope",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "keras_config",
    "load_model",
    "load_weights",
    "model_from_config",
    "register_keras_serializable",
    "registration",
    "save_model",
    "save_weights",
]
