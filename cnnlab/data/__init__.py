"""Data sets for cnnlab, loaded the way Keras loads them (NumPy only, never pickle).

``cnnlab.data.mnist.load_data()`` is ``keras.datasets.mnist.load_data()``;
``cnnlab.data.mnist.load_sample()`` is a small real MNIST sample bundled in the
package that needs no file and no network.
"""
from . import mnist
from .mnist import keras_cache_dir, load_data, load_sample

__all__ = ["mnist", "load_data", "load_sample", "keras_cache_dir"]
