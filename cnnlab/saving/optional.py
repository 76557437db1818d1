"""The optional libraries, imported only when a format needs them, with a clear message if missing."""

from __future__ import annotations


def require_h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading and writing `.keras` and `.weights.h5` files needs h5py, as Keras does. "
            "Install it with `pip install cnnlab[h5]` (or `pip install h5py`)."
        ) from None
    return h5py


def require_safetensors():
    try:
        import safetensors.numpy as st_numpy
    except ImportError:
        raise ImportError(
            "Writing `.safetensors` files needs the safetensors library. Install it with "
            "`pip install safetensors`."
        ) from None
    return st_numpy


def require_safetensors_reader():
    """The safetensors package (``safe_open``, ``SafetensorError``), for reading."""
    try:
        import safetensors
    except ImportError:
        raise ImportError(
            "Reading `.safetensors` files needs the safetensors library. Install it with "
            "`pip install safetensors`."
        ) from None
    return safetensors
