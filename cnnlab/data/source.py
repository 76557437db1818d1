"""Which MNIST a command uses: ``--data``, then ``CNNLAB_DATA``, then the Keras cache, then the sample.

Every command of the CLI that reads data (``train``, ``evaluate``, ``explain``, ``tune``)
goes through :func:`choose_mnist`, so they all look in the same places, in the same
order, and can say which data they used (:meth:`MnistChoice.describe`). Unlike
:func:`cnnlab.data.mnist.load_data`, nothing is downloaded: with no data anywhere the
commands fall back to the real sample bundled in the package, and say so.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ..errors import CnnlabError
from . import mnist

#: ``MnistChoice.origin`` values, in the order they are tried.
FROM_ARGUMENT, FROM_ENVIRONMENT, FROM_CACHE, FROM_SAMPLE = (
    "--data",
    "$CNNLAB_DATA",
    "the Keras cache",
    "sample",
)


@dataclass
class MnistChoice:
    """The data chosen: ``train`` and ``test`` as ``(x uint8 (N, 28, 28), y)``, where they came
    from (``origin``, one of the ``FROM_*`` names) and the file or folder (``None`` for the sample)."""

    train: tuple
    test: tuple
    origin: str
    path: str | None

    def describe(self) -> str:
        counts = (
            f"{len(self.train[0]):,} training and {len(self.test[0]):,} test images"
        )
        if self.origin == FROM_SAMPLE:
            return f"{counts} (the MNIST sample bundled with cnnlab; --data DIR or CNNLAB_DATA=DIR for the full set)"
        return f"{counts} (MNIST from {self.origin}: {self.path})"

    def fingerprint(self) -> str:
        """A short SHA-256 of every image and label: two choices with the same fingerprint are the same data."""
        h = hashlib.sha256()
        for x, y in (self.train, self.test):
            for a in (x, y):
                a = np.ascontiguousarray(a)
                h.update(f"{a.dtype.str}{a.shape}".encode())
                h.update(memoryview(a).cast("B"))
        return h.hexdigest()[:16]


def choose_mnist(data=None) -> MnistChoice:
    """MNIST from ``data`` (a directory or ``.npz``; it must hold MNIST), else from the
    ``CNNLAB_DATA`` directory or file (it must hold MNIST when set), else Keras's cached
    ``mnist.npz``, else the bundled sample. A broken file in any of these places raises
    :class:`~cnnlab.errors.CnnlabError` naming it; it is never skipped for the next place."""
    if data:
        path = os.path.abspath(os.path.expanduser(os.fspath(data)))
        train, test = mnist.load_data(path=path)
        return MnistChoice(train, test, FROM_ARGUMENT, path)
    env = os.environ.get("CNNLAB_DATA", "").strip()
    if env:
        path = os.path.abspath(os.path.expanduser(env))
        try:
            train, test = mnist.load_data(path=path)
        except (
            CnnlabError
        ) as e:  # set but wrong: an error, never a silent fall back to other data
            raise CnnlabError(
                f"the environment variable CNNLAB_DATA={env} names no usable MNIST (unset it to use "
                f"the Keras cache or the bundled sample): {e}"
            ) from None
        return MnistChoice(train, test, FROM_ENVIRONMENT, path)
    cache = os.path.join(mnist.keras_cache_dir(), mnist.NPZ_NAME)
    if os.path.isfile(cache):
        train, test = mnist.load_data(path=cache)
        return MnistChoice(train, test, FROM_CACHE, cache)
    return sample_choice()


def sample_choice() -> MnistChoice:
    """The sample bundled with cnnlab, as a :class:`MnistChoice`."""
    train, test = mnist.load_sample()
    return MnistChoice(train, test, FROM_SAMPLE, None)
