#!/usr/bin/env python3
"""Build ``cnnlab/data/mnist_sample.npz``, the small real MNIST sample bundled in cnnlab.

Usage::

    python scripts/make_mnist_sample.py [SOURCE_DIR] [--train-per-class 200] [--test-per-class 50]

SOURCE_DIR holds the four standard MNIST IDX files (gzipped or not); the default
is ``../shared/data/mnist`` relative to the repository root. The selection is
deterministic: for each digit 0..9, the *first* ``train-per-class`` images of
that digit in the training file and the first ``test-per-class`` in the test
file, kept in their original order. So with the defaults the sample has 2,000
training images (200 per class) and 500 test images (50 per class).

The npz holds Keras's keys ``x_train, y_train, x_test, y_test`` (uint8) plus
``train_indices`` and ``test_indices`` (int64): the positions in the full
MNIST training and test sets of every image taken, so the sample can be
checked against, or rebuilt from, the real files. It is written with
``np.savez_compressed`` and no pickled objects.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from cnnlab.data import mnist  # noqa: E402


def first_per_class(labels, per_class, num_classes=10):
    """Indices of the first ``per_class`` examples of each class, sorted."""
    chosen = []
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)[:per_class]
        if len(idx) < per_class:
            raise SystemExit(
                f"class {c} has only {len(idx)} examples, {per_class} wanted"
            )
        chosen.append(idx)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source",
        nargs="?",
        default=os.path.join(REPO_ROOT, "..", "shared", "data", "mnist"),
        help="directory with the four MNIST IDX files (default: ../shared/data/mnist)",
    )
    parser.add_argument("--train-per-class", type=int, default=200)
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument(
        "--out",
        default=os.path.join(REPO_ROOT, "cnnlab", "data", mnist.SAMPLE_RESOURCE),
        help="output .npz (default: cnnlab/data/mnist_sample.npz)",
    )
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = mnist.load_data(
        path=os.path.normpath(args.source)
    )
    train_idx = first_per_class(y_train, args.train_per_class)
    test_idx = first_per_class(y_test, args.test_per_class)

    arrays = {
        "x_train": np.ascontiguousarray(x_train[train_idx]),
        "y_train": np.ascontiguousarray(y_train[train_idx]),
        "x_test": np.ascontiguousarray(x_test[test_idx]),
        "y_test": np.ascontiguousarray(y_test[test_idx]),
        "train_indices": train_idx,
        "test_indices": test_idx,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    # Fixed timestamps inside the zip so that rebuilding gives identical bytes.
    _normalise_zip_times(tmp)
    os.replace(tmp, args.out)

    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {size} bytes")
    print(
        f"  train {arrays['x_train'].shape} per class {np.bincount(arrays['y_train']).tolist()}"
    )
    print(
        f"  test  {arrays['x_test'].shape} per class {np.bincount(arrays['y_test']).tolist()}"
    )
    print(f"  train indices {train_idx[:5].tolist()}... last {int(train_idx[-1])}")
    print(f"  test indices {test_idx[:5].tolist()}... last {int(test_idx[-1])}")
    return 0


def _normalise_zip_times(path):
    """Rewrite the archive with every member dated 1980-01-01 (deterministic bytes)."""
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as dst:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data, compresslevel=9)


if __name__ == "__main__":
    sys.exit(main())
