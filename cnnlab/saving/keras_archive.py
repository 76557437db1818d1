"""The ``.keras`` file: a zip archive, exactly as Keras 3 writes it (saving_lib.py, ``_save_model_to_fileobj``).

Members, stored uncompressed, in this order:

* ``metadata.json``: ``{"keras_version": ..., "date_saved": "%Y-%m-%d@%H:%M:%S"}``;
* ``config.json``: the serialized model (``keras_config``), with ``compile_config``;
* ``model.weights.h5``: the variables (``h5_store``).

Reading bounds everything before it is read: the number of members, the total
uncompressed size (2 GiB, and 50x the archive unless small), each member's
declared size, and then reads no more than that size. Only ``config.json`` and
``model.weights.h5`` are ever read; Keras's optional ``model.weights.npz``
(which Keras itself opens with pickle allowed) is refused.
"""

from __future__ import annotations

import datetime
import json
import os
import zipfile
import zlib

from ..errors import CnnlabError
from . import h5_store, limits
from .keras_config import serialize_model

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
#: metadata.json's ``keras_version``: the Keras release this layout was checked against (3.15.1 reads and
#: writes files identical in structure to these, both ways).
KERAS_FORMAT_VERSION = "3.15.1"


def write_archive(fileobj, model):
    config_json = json.dumps(serialize_model(model, include_compile=True))
    metadata_json = json.dumps(
        {
            "keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        }
    )
    weights = h5_store.write_weights(model)
    with zipfile.ZipFile(fileobj, "w") as zf:
        zf.writestr(METADATA, metadata_json)
        zf.writestr(CONFIG, config_json)
        zf.writestr(WEIGHTS, weights)


#: What a model file must be, for the error messages.
EXPECTED = (
    "a .keras file is a zip archive holding config.json, metadata.json and model.weights.h5, "
    "as model.save('model.keras') writes it"
)


def what_file_is(path):
    """A few words on what the file at ``path`` is, judged by its size and first bytes
    (for a file that zipfile cannot open)."""
    size = os.path.getsize(path)
    if size == 0:
        return "the file is empty (0 bytes)"
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        return (
            f"it starts as a zip archive but its end (the zip's central directory) is missing: the file was "
            f"cut short ({size:,} bytes), e.g. by an interrupted copy or download"
        )
    if head.startswith(b"\x89HDF"):
        return "it is an HDF5 file (a Keras 2 .h5 model or a .weights.h5 file), not a zip archive"
    if head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8"):
        return "it is an image (PNG or JPEG), not a model"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return f"it is a text file ({size:,} bytes) starting {head.decode('ascii')!r}"
    return f"it is not a zip archive ({size:,} bytes starting {head!r})"


class KerasArchive:
    """An opened, size-checked ``.keras`` file: ``config()`` and ``weights()``."""

    def __init__(self, path):
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            raise CnnlabError(
                f"{self.path} is a directory, not a model file: {EXPECTED}. "
                f"Received: filepath={self.path!r}"
            )
        if not os.path.exists(self.path):
            raise CnnlabError(
                f"no such model file: {self.path} ({EXPECTED}). Received: filepath={self.path!r}"
            )
        try:
            self._size = os.path.getsize(self.path)
            self._zf = zipfile.ZipFile(self.path, "r")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as e:
            raise CnnlabError(
                f"{self.path}: not a .keras file: {what_file_is(self.path)}; {EXPECTED}. "
                f"Received: {type(e).__name__}: {e}"
            ) from None
        try:
            self._members = self._check_members()
        except BaseException:
            self._zf.close()
            raise

    def _fail(self, what):
        raise CnnlabError(f"{self.path}: {what}")

    def _check_members(self):
        infos = self._zf.infolist()
        if len(infos) > limits.MAX_ARCHIVE_MEMBERS:
            self._fail(
                f"the archive has {len(infos)} members (limit {limits.MAX_ARCHIVE_MEMBERS})."
            )
        names = [i.filename for i in infos]
        if len(names) != len(set(names)):
            self._fail("the archive names a member twice; refusing an ambiguous file.")
        total = sum(i.file_size for i in infos)
        allowed = min(
            limits.MAX_ARCHIVE_UNCOMPRESSED,
            max(limits.MAX_COMPRESSION_RATIO * self._size, limits.RATIO_FLOOR),
        )
        if total > allowed:
            self._fail(
                f"the archive would expand to {total} bytes from {self._size} (limit {allowed}); "
                f"refusing what looks like a zip bomb."
            )
        members = {i.filename: i for i in infos}
        if CONFIG not in members:
            self._fail(
                f"no {CONFIG} in the archive: not a Keras 3 .keras file. Members: {sorted(members)[:10]}"
            )
        if WEIGHTS not in members:
            if "model.weights.npz" in members:
                self._fail(
                    "the weights are stored as model.weights.npz, which Keras reads with pickle enabled; "
                    "cnnlab never unpickles. Re-save the model with Keras's default weights_format='h5'."
                )
            self._fail(f"no {WEIGHTS} in the archive. Members: {sorted(members)[:10]}")
        return members

    def _read(self, name, limit):
        info = self._members[name]
        if info.file_size > limit:
            self._fail(f"{name} declares {info.file_size} bytes (limit {limit}).")
        try:
            with self._zf.open(info) as f:
                data = f.read(info.file_size + 1)
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            zlib.error,
            RuntimeError,
            NotImplementedError,
            ValueError,
        ) as e:
            self._fail(
                f"{name} could not be read ({e}); the file is damaged or truncated."
            )
        if len(data) != info.file_size:
            self._fail(
                f"{name} holds {len(data)} bytes, not the {info.file_size} it declares."
            )
        return data

    def config(self):
        raw = self._read(CONFIG, limits.MAX_CONFIG_BYTES)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            self._fail(f"{CONFIG} is not valid JSON ({e}).")

    def weights_size(self):
        """The size ``model.weights.h5`` declares (already bounded by the checks above)."""
        return self._members[WEIGHTS].file_size

    def weights(self):
        return self._read(WEIGHTS, limits.MAX_ARCHIVE_UNCOMPRESSED)

    def close(self):
        self._zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
