"""Finding the files Keras's applications download: ImageNet weights and the class index.

:func:`keras_file` looks where Keras keeps them and where a cnnlab user may have put them, in
this order, and returns the first copy whose checksum is Keras's:

1. the Keras cache, ``~/.keras/models/<fname>`` (``$KERAS_HOME/models/`` when ``KERAS_HOME`` is
   set; ``/tmp/.keras`` when the home folder is not writable, as Keras);
2. the cnnlab data folder ``$CNNLAB_DATA/<fname>`` or ``$CNNLAB_DATA/models/<fname>``;
3. a download from Keras's URL into the Keras cache, checked against Keras's hash before it is
   kept (``cnnlab.data.download``; ``CNNLAB_OFFLINE=1`` forbids it).

When all three fail, the error lists every place it looked and says how to put the file there.
"""

from __future__ import annotations

import os

from ..data.download import (
    DownloadFailed,
    download,
    hash_file,
    hasher_for,
    keras_home,
    offline,
)
from ..errors import CnnlabError

CACHE_SUBDIR = "models"  # Keras's get_file(..., cache_subdir="models")


def cache_path(fname: str) -> str:
    """Where Keras's ``get_file(fname, cache_subdir="models")`` keeps ``fname``."""
    return os.path.join(keras_home(), CACHE_SUBDIR, fname)


def _check(path, file_hash, looked):
    """True when ``path`` is a usable copy; otherwise say why in ``looked``."""
    if not os.path.isfile(path):
        looked.append(f"{path}: not there")
        return False
    if file_hash is None:
        return True
    _, algorithm, expected = hasher_for(file_hash, "keras_file")
    actual = hash_file(path, algorithm)
    if actual == expected:
        return True
    looked.append(
        f"{path}: present, but its {algorithm} is {actual}, not Keras's {expected} "
        f"(an incomplete download or a different file)"
    )
    return False


def keras_file(
    fname: str, origin: str, file_hash: str | None = None, what: str | None = None
) -> str:
    """The path of Keras's file ``fname`` (found locally or downloaded from ``origin``), checked
    against ``file_hash`` (MD5 or SHA-256 hex; None: Keras publishes no hash for it)."""
    what = what or fname
    looked: list[str] = []
    cached = cache_path(fname)
    if _check(cached, file_hash, looked):
        return cached
    data = os.environ.get("CNNLAB_DATA", "").strip()
    if data:
        for candidate in (
            os.path.join(data, fname),
            os.path.join(data, CACHE_SUBDIR, fname),
        ):
            if _check(candidate, file_hash, looked):
                return candidate
    else:
        looked.append("$CNNLAB_DATA: not set")
    if offline():
        reason = "no download was tried because CNNLAB_OFFLINE is set"
    else:
        try:
            return download(
                origin, cached, file_hash, where=f"{what} ({fname})", what=what
            )
        except DownloadFailed as e:
            reason = f"the download from {origin} failed: {e}"
    places = "\n".join(f"  - {line}" for line in looked)
    raise CnnlabError(
        f"{what} ({fname}) is not available: {reason}. cnnlab looked in:\n{places}\n"
        f"To use it without network access, download {origin} where you have network access and put it "
        f"at {cached} (the Keras cache; set KERAS_HOME to move it), or into a folder named by the "
        f"environment variable CNNLAB_DATA. Received: fname={fname!r}"
    )
