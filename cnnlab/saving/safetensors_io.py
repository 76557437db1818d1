"""Weights as safetensors, self-describing: the architecture rides in the header's ``__metadata__``.

Tensor names are ``<layer name>/<weight name>`` (``conv2d/kernel``, ``conv2d/bias``).
``__metadata__`` holds ``format: "cnnlab"`` and ``keras_config``: the model's Keras 3
config (as in ``config.json``, without the compile part) as a JSON string, so
``load_model("m.safetensors")`` can rebuild the model.

Writing uses the safetensors library. Reading parses the file here, trusting
nothing: an 8-byte little-endian header length (bounded by the file size and
100 MB), a JSON header whose every entry is checked (known dtype, non-negative
shape, offsets inside the data, sizes that match, no overlaps or gaps), and only
then the tensors the model expects, after their shapes and dtypes have been
checked against it.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import CnnlabError
from .architecture import check_array, expected_weights, leaves
from .keras_config import serialize_model
from .limits import MAX_SAFETENSORS_HEADER
from .optional import require_safetensors

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


def tensor_name(layer_path, weight_name):
    """``conv2d/kernel``; a layer of a nested model ``features/conv2d/kernel`` (``architecture.leaves``)."""
    return f"{layer_path}/{weight_name}"


# ---- writing --------------------------------------------------------------
def write_safetensors(model):
    """The file's bytes."""
    st_numpy = require_safetensors()
    tensors = {tensor_name(path, name): np.ascontiguousarray(w)
               for _, path, layer in leaves(model) for name, w in zip(layer.weight_names, layer.weights)}
    metadata = {"format": "cnnlab", "keras_config": json.dumps(serialize_model(model, include_compile=False))}
    return st_numpy.save(tensors, metadata=metadata)


# ---- reading --------------------------------------------------------------
@dataclass
class Entry:
    dtype: np.dtype
    shape: tuple
    begin: int
    end: int


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise CnnlabError("The safetensors header names a key twice.")
    return dict(pairs)


class SafetensorsFile:
    """An open, validated safetensors file: ``metadata``, ``entries``, ``read(name)``."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._f = open(self.path, "rb")
        try:
            self._parse()
        except BaseException:
            self._f.close()
            raise

    def _fail(self, what):
        raise CnnlabError(f"{self.path}: not a valid safetensors file: {what}.")

    def _parse(self):
        size = os.fstat(self._f.fileno()).st_size
        if size < 8:
            self._fail(f"{size} bytes is shorter than the 8-byte header length")
        n = int.from_bytes(self._f.read(8), "little")
        if n > min(MAX_SAFETENSORS_HEADER, size - 8):
            self._fail(f"the header claims {n} bytes but the file has {size - 8} after the length "
                       f"(limit {MAX_SAFETENSORS_HEADER})")
        raw = self._f.read(n)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self._fail(f"the header is not JSON ({e})")
        if not isinstance(header, dict):
            self._fail("the header is not a JSON object")
        metadata = header.pop("__metadata__", None) or {}
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            self._fail("__metadata__ must map strings to strings")
        self.metadata = metadata
        self._data_start, data_len = 8 + n, size - 8 - n
        self.data_size = data_len
        self.entries = {name: self._entry(name, spec, data_len) for name, spec in header.items()}
        spans = sorted((e.begin, e.end, name) for name, e in self.entries.items())
        position = 0
        for begin, end, name in spans:
            if begin != position:
                self._fail(f"tensor {name!r} starts at byte {begin}, expected {position} (overlap or gap)")
            position = end
        if position != data_len:
            self._fail(f"the tensors cover {position} bytes of data but the file holds {data_len}")

    def _entry(self, name, spec, data_len):
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
            self._fail(f"entry {name!r} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            self._fail(f"tensor {name!r} has unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            self._fail(f"tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_len):
            self._fail(f"tensor {name!r} has data_offsets {offsets!r} outside the {data_len} data bytes")
        dt = np.dtype(_DTYPES[dtype])
        if math.prod(shape) * dt.itemsize != offsets[1] - offsets[0]:
            self._fail(f"tensor {name!r}: shape {shape} of {dtype} needs {math.prod(shape) * dt.itemsize} bytes, "
                       f"its offsets span {offsets[1] - offsets[0]}")
        return Entry(dt, tuple(shape), offsets[0], offsets[1])

    def read(self, name):
        e = self.entries[name]
        self._f.seek(self._data_start + e.begin)
        data = self._f.read(e.end - e.begin)
        if len(data) != e.end - e.begin:
            self._fail(f"tensor {name!r} is truncated")
        return np.frombuffer(data, dtype=e.dtype).reshape(e.shape).astype(e.dtype.newbyteorder("="))

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def keras_config(st):
    """The model config stored in a cnnlab safetensors file's metadata."""
    text = st.metadata.get("keras_config")
    if text is None:
        raise CnnlabError(f"{st.path}: this safetensors file has no model configuration in its metadata "
                          f"(`keras_config`), so it cannot rebuild a model. Build the model in code and call "
                          f"model.load_weights().")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise CnnlabError(f"{st.path}: the model configuration in the metadata is not JSON ({e}).") from None


def read_weights(st, model):
    """Check every tensor name, shape and dtype against ``model``, then read them: per-layer arrays."""
    expected = [(path, layer, ws) for (_, path, _), (layer, ws) in zip(leaves(model), expected_weights(model))]
    wanted = {tensor_name(path, name) for path, _, ws in expected for name, _, _ in ws}
    extra = sorted(set(st.entries) - wanted)
    if extra:
        raise CnnlabError(f"{st.path}: the file has tensors the model does not: {extra[:10]}. It was saved from a "
                          f"different architecture (or with other layer names).")
    for path, layer, ws in expected:
        for name, shape, dtype in ws:
            key = tensor_name(path, name)
            if key not in st.entries:
                raise CnnlabError(f"{st.path}: no tensor {key!r} for layer '{layer.name}' "
                                  f"({type(layer).__name__}). The file was saved from a different architecture "
                                  f"(or with other layer names).")
            e = st.entries[key]
            check_array(layer, name, f"tensor {key!r}", e.shape, e.dtype, shape, dtype)
    return [[st.read(tensor_name(path, name)) for name, _, _ in ws] for path, _, ws in expected]
