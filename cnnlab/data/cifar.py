"""CIFAR-10 and CIFAR-100 as Keras loads them, without unpickling.

``load_cifar10()`` and ``load_cifar100(label_mode)`` return
``(x_train, y_train), (x_test, y_test)`` exactly like ``keras.datasets.cifar10/100
.load_data()``: ``uint8`` images ``(N, 32, 32, 3)`` (channels last) and labels
``(N, 1)`` (``uint8`` for CIFAR-10, ``int64`` for CIFAR-100, as Keras gives them).

The files are the originals (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``;
``cifar-100-python/train``, ``test``), Python pickles. They are read by
:mod:`cnnlab.data.safe_pickle`, a parser of plain data that refuses every opcode
and global beyond dicts, lists, numbers, strings and NumPy's array globals, and
never calls any of them: a tampered file cannot run code.

Where they are looked for, first match wins:

1. ``path=``: a folder holding the files, or the folder above ``cifar-10-batches-py``;
2. ``$CNNLAB_DATA``: the same forms;
3. the Keras cache: ``~/.keras/datasets/cifar-10-batches-py-target/cifar-10-batches-py/``
   (Keras 3's layout; ``$KERAS_HOME`` honoured), the older ``~/.keras/datasets/
   cifar-10-batches-py/``, or a downloaded, not yet extracted archive there;
4. Keras's download (``keras.utils.get_file`` with Keras's SHA-256), unless
   ``CNNLAB_OFFLINE=1``.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import CnnlabError
from . import safe_pickle
from .download import extract_archive, get_file, offline
from .mnist import keras_cache_dir

#: name -> (Keras's cache name, folder inside the archive, origin, SHA-256, training files, test files)
SPECS = {
    "cifar10": (
        "cifar-10-batches-py-target",
        "cifar-10-batches-py",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
    ),
    "cifar100": (
        "cifar-100-python-target",
        "cifar-100-python",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        ["train"],
        ["test"],
    ),
}
SIDE, CHANNELS = 32, 3


def load_cifar10(path=None):
    """``keras.datasets.cifar10.load_data()``; ``path=`` a folder with the batch files."""
    return _load("cifar10", "labels", 10, np.uint8, path)


def load_cifar100(label_mode="fine", path=None):
    """``keras.datasets.cifar100.load_data(label_mode)``: ``"fine"`` (100 classes) or
    ``"coarse"`` (20 super-classes)."""
    if label_mode not in ("fine", "coarse"):
        raise CnnlabError(
            f'cifar100.load_data: `label_mode` must be one of `"fine"`, `"coarse"`. '
            f"Received: label_mode={label_mode}."
        )
    return _load(
        "cifar100",
        f"{label_mode}_labels",
        100 if label_mode == "fine" else 20,
        np.int64,
        path,
    )


def _where(name):
    return f"{name}.load_data"


def _folder_with_files(location, name):
    """The folder under ``location`` that holds the data files, or ``None``."""
    cache_name, inner, _, _, train, test = SPECS[name]
    for folder in (
        location,
        os.path.join(location, inner),
        os.path.join(location, cache_name, inner),
    ):
        if all(os.path.isfile(os.path.join(folder, f)) for f in train + test):
            return folder
        if any(os.path.isfile(os.path.join(folder, f)) for f in train + test):
            missing = [
                f for f in train + test if not os.path.isfile(os.path.join(folder, f))
            ]
            raise CnnlabError(
                f"{_where(name)}: {folder} holds only some of the {name} files; missing: "
                f"{', '.join(missing)}. Received: {sorted(os.listdir(folder))}"
            )
    return None


def _find(name, path):
    cache_name, inner, origin, sha256, _, _ = SPECS[name]
    looked = []
    places = (
        [("path=", path)]
        if path is not None
        else [("$CNNLAB_DATA", os.environ.get("CNNLAB_DATA"))]
    )
    for what, location in places:
        if not location:
            looked.append(f"{what}: not set")
            continue
        location = os.path.abspath(os.path.expanduser(os.fspath(location)))
        folder = _folder_with_files(location, name) if os.path.isdir(location) else None
        if folder:
            return folder
        looked.append(
            f"{what}: {location} ({'no ' + name + ' files there' if os.path.isdir(location) else 'does not exist'})"
        )
        if what == "path=":
            raise CnnlabError(
                f"{_where(name)}: no {name} data at the path you gave.\n  - "
                + "\n  - ".join(looked)
                + f"\nGive the folder {inner}/ (or the one above it). Received: path={path!r}"
            )
    cache = keras_cache_dir()
    for location in (cache, os.path.join(cache, cache_name)):
        folder = _folder_with_files(location, name) if os.path.isdir(location) else None
        if folder:
            return folder
    looked.append(f"Keras cache: {os.path.join(cache, cache_name, inner)} (not found)")
    archive = os.path.join(cache, cache_name + "_archive")
    if os.path.isfile(archive):  # downloaded by Keras, extraction not finished
        extract_archive(archive, os.path.join(cache, cache_name))
        folder = _folder_with_files(os.path.join(cache, cache_name), name)
        if folder:
            return folder
        looked.append(f"Keras cache: {archive} (an archive without the {name} files)")
    if offline():
        looked.append(f"download from {origin}: skipped because CNNLAB_OFFLINE is set")
        raise CnnlabError(
            f"{_where(name)}: could not find {name} anywhere.\n  - "
            + "\n  - ".join(looked)
            + f"\nPut the folder {inner}/ in one of these places. Received: path={path!r}"
        )
    extracted = get_file(
        fname=cache_name, origin=origin, extract=True, file_hash=sha256
    )
    folder = _folder_with_files(extracted, name)
    if folder is None:
        raise CnnlabError(
            f"{_where(name)}: the archive from {origin} does not hold the {name} files. "
            f"Received: {sorted(os.listdir(extracted))}"
        )
    return folder


def load_batch(fpath, label_key="labels", num_classes=10, where="cifar10.load_data"):
    """One CIFAR file as ``(data (N, 3, 32, 32) uint8, labels list)``, checked."""
    d = safe_pickle.read_file(fpath)
    if not isinstance(d, dict):
        raise CnnlabError(
            f"{where}: {fpath} does not hold a dict of arrays; it is not a CIFAR file. "
            f"Received: {type(d).__name__}"
        )
    d = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in d.items()}
    if "data" not in d or label_key not in d:
        raise CnnlabError(
            f"{where}: {fpath} lacks the key(s) "
            f"{[k for k in ('data', label_key) if k not in d]}. Received keys: {sorted(map(str, d))}"
        )
    data, labels = d["data"], d[label_key]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != CHANNELS * SIDE * SIDE
    ):
        raise CnnlabError(
            f"{where}: {fpath} key 'data' must be a uint8 array (N, 3072). "
            f"Received: {getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        )
    if (
        not isinstance(labels, list)
        or len(labels) != len(data)
        or not all(isinstance(v, int) for v in labels)
    ):
        raise CnnlabError(
            f"{where}: {fpath} key {label_key!r} must be a list of {len(data)} integers. "
            f"Received: {type(labels).__name__} of length {len(labels) if hasattr(labels, '__len__') else '?'}"
        )
    if labels and not 0 <= min(labels) <= max(labels) < num_classes:
        raise CnnlabError(
            f"{where}: {fpath} has labels outside 0..{num_classes - 1}. "
            f"Received: labels in [{min(labels)}, {max(labels)}]"
        )
    return data.reshape(len(data), CHANNELS, SIDE, SIDE), labels


def _load(name, label_key, num_classes, label_dtype, path):
    folder = _find(name, path)
    _, _, _, _, train, test = SPECS[name]

    def read(files):
        parts = [
            load_batch(os.path.join(folder, f), label_key, num_classes, _where(name))
            for f in files
        ]
        x = np.concatenate([p[0] for p in parts]).transpose(
            0, 2, 3, 1
        )  # channels last, as Keras
        y = np.concatenate(
            [np.asarray(p[1], dtype=label_dtype) for p in parts]
        ).reshape(-1, 1)
        return np.ascontiguousarray(x), y

    return read(train), read(test)
