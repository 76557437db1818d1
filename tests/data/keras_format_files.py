"""Tiny data files in the exact formats Keras's caches hold, for the loader tests.

CIFAR files are Python 2 ``cPickle`` protocol-2 streams (the originals were written
that way): written here opcode by opcode, with NumPy's array globals as Python 2's
NumPy names them. No pickle module is used to write them, so the tests check the
parser against the format itself.
"""

import gzip
import os
import struct

import numpy as np


def _str(b: bytes) -> bytes:
    """A Python 2 ``str``: SHORT_BINSTRING or BINSTRING."""
    return (
        b"U" + struct.pack("<B", len(b))
        if len(b) < 256
        else b"T" + struct.pack("<I", len(b))
    ) + b


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + struct.pack("<B", v)
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _array(a: np.ndarray) -> bytes:
    shape = b"(" + b"".join(_int(n) for n in a.shape) + b"t"
    dtype = (
        b"cnumpy\ndtype\n"
        + _str(b"u1")
        + _int(0)
        + _int(1)
        + b"\x87R"
        + b"("
        + _int(3)
        + _str(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
        + _int(0)
        + b"tb"
    )
    return (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        + _int(0)
        + b"\x85"
        + _str(b"b")
        + b"\x87R"
        + b"("
        + _int(1)
        + shape
        + dtype
        + b"\x89"
        + _str(a.tobytes())
        + b"tb"
    )


def _value(v) -> bytes:
    if isinstance(v, bytes):
        return _str(v)
    if isinstance(v, list):
        return b"](" + b"".join(_value(x) for x in v) + b"e"
    if isinstance(v, (int, np.integer)):
        return _int(int(v))
    if isinstance(v, np.ndarray):
        return _array(v)
    raise TypeError(type(v))


def py2_pickle(d: dict) -> bytes:
    """``cPickle.dumps(d, 2)`` of a dict of byte-string keys, as Python 2 wrote it."""
    body = b"".join(_str(k) + _value(v) for k, v in d.items())
    return b"\x80\x02}q\x01(" + body + b"u."


def cifar_batch(n, num_classes=10, seed=0, label_keys=("labels",), classes=(10,)):
    rng = np.random.default_rng(seed)
    d = {b"batch_label": b"testing batch 1 of 1"}
    for key, k in zip(label_keys, classes):
        d[key.encode()] = [int(v) for v in rng.integers(0, k, n)]
    d[b"data"] = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    d[b"filenames"] = [f"img_{i}.png".encode() for i in range(n)]
    return d


def write_cifar10(folder, n_per_batch=4, seed=0):
    """``cifar-10-batches-py/`` with five training batches and a test batch; returns the dicts."""
    folder = os.path.join(folder, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        d = cifar_batch(n_per_batch + (i == 5), seed=seed + i)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(py2_pickle(d))
        batches[name] = d
    return folder, batches


def write_cifar100(folder, n=5, seed=0):
    folder = os.path.join(folder, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    batches = {}
    for i, name in enumerate(["train", "test"]):
        d = cifar_batch(
            n + i,
            seed=seed + i,
            label_keys=("fine_labels", "coarse_labels"),
            classes=(100, 20),
        )
        with open(os.path.join(folder, name), "wb") as f:
            f.write(py2_pickle(d))
        batches[name] = d
    return folder, batches


def idx(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    return (
        struct.pack(">I", 0x0800 | arr.ndim)
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + arr.tobytes()
    )


def write_fashion(folder, n_train=6, n_test=4, seed=0):
    """The four gzipped IDX files Keras caches in ``~/.keras/datasets/fashion-mnist/``."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    names = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    for key, name in names.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(gzip.compress(idx(arrays[key]), mtime=0))
    return arrays
