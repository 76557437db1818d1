"""Weights as safetensors, self-describing: the architecture rides in the header's ``__metadata__``.

Tensor names are ``<layer name>/<weight name>`` (``conv2d/kernel``, ``conv2d/bias``).
``__metadata__`` holds ``format: "cnnlab"`` and ``keras_config``: the model's Keras 3
config (as in ``config.json``, without the compile part) as a JSON string, so
``load_model("m.safetensors")`` can rebuild the model.

Writing and reading use the safetensors library, trusting nothing: cnnlab first
bounds the 8-byte header length (by the file size and 100 MB) and refuses a
header that names a key twice; the library then checks every entry (known dtype,
shape, offsets inside the data, sizes that match, no overlaps or gaps); and only
then are the tensors the model expects read, after their shapes and dtypes have
been checked against it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from ..errors import CnnlabError
from .architecture import check_array, expected_weights, leaves
from .keras_config import serialize_model
from .limits import MAX_SAFETENSORS_HEADER
from .optional import require_safetensors, require_safetensors_reader

_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "?",
}


def tensor_name(layer_path, weight_name):
    """``conv2d/kernel``; a layer of a nested model ``features/conv2d/kernel`` (``architecture.leaves``)."""
    return f"{layer_path}/{weight_name}"


# ---- writing --------------------------------------------------------------
def write_safetensors(model):
    """The file's bytes."""
    st_numpy = require_safetensors()
    tensors = {
        tensor_name(path, name): np.ascontiguousarray(w)
        for _, path, layer in leaves(model)
        for name, w in zip(layer.weight_names, layer.weights)
    }
    metadata = {
        "format": "cnnlab",
        "keras_config": json.dumps(serialize_model(model, include_compile=False)),
    }
    return st_numpy.save(tensors, metadata=metadata)


# ---- reading --------------------------------------------------------------
@dataclass
class Entry:
    dtype: np.dtype
    shape: tuple


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("the header names a key twice")
    return dict(pairs)


class SafetensorsFile:
    """An open, validated safetensors file: ``metadata``, ``entries`` (dtype and shape), ``read(name)``.

    The safetensors library reads the file: it checks the header (JSON, known dtypes, offsets inside the
    data, contiguous, no overlaps or gaps, sizes that match the shapes) and gives shapes and dtypes before any
    tensor data is read. Before it opens the file, cnnlab bounds the header length (by the file size and
    :data:`~cnnlab.saving.limits.MAX_SAFETENSORS_HEADER`), and refuses a header that names a key twice (JSON
    readers keep one of the two silently) or an entry with keys besides dtype, shape and data_offsets (the
    library ignores them); after, it refuses dtypes NumPy cannot hold.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._check_header()
        safetensors = require_safetensors_reader()
        try:
            self._st = safetensors.safe_open(self.path, framework="numpy")
            self.metadata = self._st.metadata() or {}
            self.entries = {name: self._entry(name) for name in self._st.keys()}
        except (safetensors.SafetensorError, OSError, ValueError, TypeError) as e:
            self._fail(str(e) or type(e).__name__)

    def _fail(self, what):
        raise CnnlabError(
            f"{self.path}: not a valid safetensors file: {what}."
        ) from None

    def _check_header(self):
        """The size limits, and one header key per name, before the library sees the file."""
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:
                self._fail(f"{size} bytes is shorter than the 8-byte header length")
            n = int.from_bytes(f.read(8), "little")
            if n > min(MAX_SAFETENSORS_HEADER, size - 8):
                self._fail(
                    f"the header claims {n} bytes but the file has {size - 8} after the length "
                    f"(limit {MAX_SAFETENSORS_HEADER})"
                )
            raw = f.read(n)
        self.data_size = size - 8 - n
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self._fail(f"the header is not valid JSON ({e})")
        if not isinstance(header, dict):
            self._fail("the header is not a JSON object")
        for (
            name,
            spec,
        ) in (
            header.items()
        ):  # the library ignores keys it does not know; a writer did not
            if name != "__metadata__" and (
                not isinstance(spec, dict)
                or set(spec) != {"dtype", "shape", "data_offsets"}
            ):
                self._fail(
                    f"entry {name!r} must have exactly dtype, shape and data_offsets"
                )

    def _entry(self, name):
        piece = self._st.get_slice(name)
        dtype = piece.get_dtype()
        if dtype not in _DTYPES:
            self._fail(
                f"tensor {name!r} has dtype {dtype!r}, which NumPy cannot hold "
                f"(supported: {', '.join(_DTYPES)})"
            )
        return Entry(np.dtype(_DTYPES[dtype]), tuple(piece.get_shape()))

    def read(self, name):
        e = self.entries[name]
        array = self._st.get_tensor(name)
        if array.shape != e.shape:
            self._fail(
                f"tensor {name!r} read as {array.shape}, its header says {e.shape}"
            )
        return array.astype(e.dtype.newbyteorder("="), copy=False)

    def close(self):
        self._st = None  # safe_open has no close: dropping it releases the file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def keras_config(st):
    """The model config stored in a cnnlab safetensors file's metadata."""
    text = st.metadata.get("keras_config")
    if text is None:
        raise CnnlabError(
            f"{st.path}: this safetensors file has no model configuration in its metadata "
            f"(`keras_config`), so it cannot rebuild a model. Build the model in code and call "
            f"model.load_weights()."
        )
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CnnlabError(
            f"{st.path}: the model configuration in the metadata is not JSON ({e})."
        ) from None


def read_weights(st, model):
    """Check every tensor name, shape and dtype against ``model``, then read them: per-layer arrays."""
    expected = [
        (path, layer, ws)
        for (_, path, _), (layer, ws) in zip(leaves(model), expected_weights(model))
    ]
    wanted = {tensor_name(path, name) for path, _, ws in expected for name, _, _ in ws}
    extra = sorted(set(st.entries) - wanted)
    if extra:
        raise CnnlabError(
            f"{st.path}: the file has tensors the model does not: {extra[:10]}. It was saved from a "
            f"different architecture (or with other layer names)."
        )
    for path, layer, ws in expected:
        for name, shape, dtype in ws:
            key = tensor_name(path, name)
            if key not in st.entries:
                raise CnnlabError(
                    f"{st.path}: no tensor {key!r} for layer '{layer.name}' "
                    f"({type(layer).__name__}). The file was saved from a different architecture "
                    f"(or with other layer names)."
                )
            e = st.entries[key]
            check_array(layer, name, f"tensor {key!r}", e.shape, e.dtype, shape, dtype)
    return [
        [st.read(tensor_name(path, name)) for name, _, _ in ws]
        for path, _, ws in expected
    ]
