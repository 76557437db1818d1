"""Fashion-MNIST as Keras loads it: ``(x_train, y_train), (x_test, y_test)``, ``uint8``
images ``(60000, 28, 28)`` / ``(10000, 28, 28)`` and ``uint8`` labels ``(N,)``.

The four files have MNIST's IDX format and names (``train-images-idx3-ubyte.gz``...)
and are read by MNIST's checked IDX parser (:mod:`cnnlab.data.mnist`). Looked for in
``path=`` (a folder with the four files), ``$CNNLAB_DATA`` (the folder, or its
``fashion-mnist/`` sub-folder), the Keras cache ``~/.keras/datasets/fashion-mnist/``,
then downloaded from Keras's address (``keras.utils.get_file``) and checked against
the MD5 sums the Fashion-MNIST authors publish (Keras itself checks none), unless
``CNNLAB_OFFLINE=1``.
"""

from __future__ import annotations

import os

from ..errors import CnnlabError
from . import mnist
from .download import get_file, offline

BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CACHE_SUBDIR = os.path.join("datasets", "fashion-mnist")
#: file -> MD5 published in github.com/zalandoresearch/fashion-mnist
FILES = {
    ("train", "labels"): (
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    ("train", "images"): (
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    ("test", "labels"): (
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
    ("test", "images"): (
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
}
WHERE = "fashion_mnist.load_data"


def _read_folder(folder):
    """The four IDX files of ``folder`` as Keras's tuples; ``None`` if none is there."""
    found = {key: mnist._find_idx(folder, *key) for key in FILES}
    if not any(found.values()):
        return None
    missing = [FILES[k][0] for k, v in found.items() if v is None]
    if missing:
        raise CnnlabError(
            f"{WHERE}: {folder} holds only some of the four Fashion-MNIST files; missing: "
            f"{', '.join(missing)}. Received: {sorted(os.listdir(folder))}"
        )
    try:
        arrays = {}
        for split in ("train", "test"):
            x = mnist._read_idx(found[(split, "images")], mnist.IDX_MAGIC_IMAGES)
            y = mnist._read_idx(found[(split, "labels")], mnist.IDX_MAGIC_LABELS)
            mnist._check_split(x, y, found[(split, "images")], found[(split, "labels")])
            arrays[split] = (x, y)
    except CnnlabError as e:  # the parser is MNIST's; the message names this loader
        raise CnnlabError(str(e).replace("mnist.load_data", WHERE, 1)) from None
    return arrays["train"], arrays["test"]


def load_data(path=None):
    """``keras.datasets.fashion_mnist.load_data()``."""
    looked = []
    candidates = []
    if path is not None:
        candidates.append(
            ("path=", os.path.abspath(os.path.expanduser(os.fspath(path))))
        )
    else:
        env = os.environ.get("CNNLAB_DATA")
        if env:
            env = os.path.abspath(os.path.expanduser(env))
            candidates += [
                ("$CNNLAB_DATA", env),
                ("$CNNLAB_DATA", os.path.join(env, "fashion-mnist")),
            ]
        else:
            looked.append("$CNNLAB_DATA: not set")
        candidates.append(
            ("Keras cache", os.path.join(keras_home_datasets(), "fashion-mnist"))
        )
    for what, folder in candidates:
        if os.path.isdir(folder):
            found = _read_folder(folder)
            if found is not None:
                return found
            looked.append(f"{what}: {folder} (no Fashion-MNIST files there)")
        else:
            looked.append(f"{what}: {folder} (does not exist)")
        if what == "path=":
            raise CnnlabError(
                f"{WHERE}: no Fashion-MNIST data at the path you gave.\n  - "
                + "\n  - ".join(looked)
                + f"\nGive a folder with {', '.join(f for f, _ in FILES.values())}. "
                f"Received: path={path!r}"
            )
    if offline():
        looked.append(f"download from {BASE}: skipped because CNNLAB_OFFLINE is set")
        raise CnnlabError(
            f"{WHERE}: could not find Fashion-MNIST anywhere.\n  - "
            + "\n  - ".join(looked)
            + f"\nPut the four files ({', '.join(f for f, _ in FILES.values())}) in one of these "
            f"places. Received: path={path!r}"
        )
    for name, md5 in FILES.values():
        get_file(name, origin=BASE + name, cache_subdir=CACHE_SUBDIR, file_hash=md5)
    return _read_folder(os.path.join(keras_home_datasets(), "fashion-mnist"))


def keras_home_datasets():
    return mnist.keras_cache_dir()
