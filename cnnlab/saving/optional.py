"""The optional libraries, imported only when a format needs them, with a clear message if missing."""

from __future__ import annotations

from ..errors import CnnlabError


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


def open_h5(h5py, source, where):
    """``h5py.File(source, "r")``, or a clear error: a cut-off file (an interrupted download or copy)
    says how many bytes it holds of the size its header records."""
    import re

    try:
        return h5py.File(source, "r")
    except OSError as e:
        found = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(e))
        if found:
            have, want = int(found.group(1)), int(found.group(2))
            raise CnnlabError(
                f"{where}: the HDF5 file is truncated: it holds {have:,} bytes, but its header says "
                f"{want:,} (an interrupted download or copy). Download or copy it again. "
                f"Received: {have} of {want} bytes"
            ) from None
        raise CnnlabError(
            f"{where}: not a readable HDF5 file ({e}). Received: filepath={where}"
        ) from None
