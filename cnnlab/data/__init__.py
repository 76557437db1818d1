"""Data for cnnlab, loaded the way Keras loads it (NumPy and Pillow, never pickle).

* ``cnnlab.data.mnist.load_data()`` is ``keras.datasets.mnist.load_data()``;
  ``cnnlab.data.mnist.load_sample()`` is a small real MNIST sample bundled in the
  package that needs no file and no network.
* :func:`image_dataset_from_directory` reads a folder of class sub-folders as a
  streaming :class:`Dataset` (``tf.data``'s chains: ``take``, ``map``, ``batch``,
  ``shuffle``, ``cache``, ``prefetch``...).
* :mod:`.images`: ``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``.
"""

from . import mnist
from .dataset import AUTOTUNE, INFINITE, UNKNOWN, Dataset
from .directory import UnreadableImageWarning, image_dataset_from_directory
from .images import array_to_img, img_to_array, load_img, save_img
from .mnist import keras_cache_dir, load_data, load_sample

__all__ = [
    "mnist",
    "load_data",
    "load_sample",
    "keras_cache_dir",
    "Dataset",
    "AUTOTUNE",
    "INFINITE",
    "UNKNOWN",
    "image_dataset_from_directory",
    "UnreadableImageWarning",
    "load_img",
    "img_to_array",
    "array_to_img",
    "save_img",
]
