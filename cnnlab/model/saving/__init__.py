"""Saving and loading models: Keras 3 ``.keras`` files, ``.weights.h5`` and safetensors.

One job per module:

* ``atomic``: write a file so that it is never seen half-written;
* ``limits``: bounds on sizes read from files; ``optional``: lazy h5py / safetensors imports;
* ``keras_config``: a model -> Keras 3's ``config.json``; ``compile_config``: compile() both ways;
* ``layer_config`` / ``model_from_config``: ``config.json`` -> a cnnlab model, through
  cnnlab's own class table (nothing named in a file is imported);
* ``naming``: Keras's snake-case layer keys; ``architecture``: check arrays against the model, copy them in;
* ``optimizer_state``: optimizer state <-> Keras's ``optimizer/vars`` order;
* ``h5_store``: Keras's HDF5 layout; ``keras_archive``: the ``.keras`` zip; ``safetensors_io``: safetensors;
* ``api``: the four public functions.
"""
from .api import load_model, load_weights, save_model, save_weights

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]
