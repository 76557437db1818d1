"""Seed-004 speed of one cnnlab tree against another (no PyTorch): training img/s at batch 32 and 128
(``train_on_batch``) and inference img/s at batch 128, printed on one line.

Run it alternately for two checkouts, so that the machine's noise falls on both::

    git worktree add /tmp/old <commit>
    for r in 1 2 3 4; do for t in /tmp/old .; do PYTHONPATH=$t python benchmarks/version_speed.py; done; done

Used to check that a redesign did not slow the seed model down (the closing note of issues 12-16).
"""

import gzip
import os
import sys
import time

import numpy as np

from cnnlab import keras

DATA = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
)


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28, 1)


x = (idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:8192] / 255.0).astype(
    np.float32
)
y = np.random.default_rng(0).integers(0, 10, len(x))
keras.utils.set_random_seed(0) if hasattr(keras.utils, "set_random_seed") else None
m = keras.Sequential(
    [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ]
)
m.compile("adam", "sparse_categorical_crossentropy")
out = []
for b in (32, 128):
    steps = 4096 // b
    for i in range(10):
        m.train_on_batch(x[i * b : (i + 1) * b], y[i * b : (i + 1) * b])
    t = time.perf_counter()
    for i in range(steps):
        m.train_on_batch(x[i * b : (i + 1) * b], y[i * b : (i + 1) * b])
    out.append(steps * b / (time.perf_counter() - t))
t = time.perf_counter()
m.predict(x, batch_size=128, verbose=0)
out.append(len(x) / (time.perf_counter() - t))
print(" ".join(f"{v:.0f}" for v in out))
