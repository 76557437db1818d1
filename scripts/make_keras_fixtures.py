"""Write the real-Keras fixtures of tests/model/test_keras_fixtures.py into tests/fixtures/keras/.

Run once, with real Keras 3 (the test suite itself never needs Keras)::

    pip install --target /tmp/kpkgs keras          # Keras 3.15.1 was used; torch (from the venv) is the backend
    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_keras_fixtures.py

Why the torch backend and not TensorFlow: Keras 3 writes the ``.keras`` format in its
backend-independent saving code (keras/src/saving/saving_lib.py: a zip of ``metadata.json``,
``config.json`` and ``model.weights.h5`` written by ``H5IOStore``), and stores every variable
as a NumPy array through ``backend.convert_to_numpy``. The file a torch-backed Keras writes is
the same file a TensorFlow-backed Keras writes for the same model; only the optimizer's
``module`` string in ``compile_config`` names the backend's optimizer class
(``keras.src.backend.torch.optimizers.torch_adam``), and the optimizer's ``iterations`` counter is
int32 (Keras's ``dtype="int"``: int64 under TensorFlow, int32 under torch and JAX; cnnlab reads
either and writes int64). Loading such a file back in Keras needs no particular backend.

The reverse direction was checked by hand with the same Keras: a model built and trained in
cnnlab, saved as ``.keras``, loads in Keras 3.15.1 with the same predictions (within 3e-8) and
optimizer state (one more step in Keras gives cnnlab's next weights within 1.2e-7).

What is written (all small; inputs are fixed, predictions are Keras's):

* ``seed004.keras``: the seed-004 MNIST CNN (225,034 parameters), compiled with Adam and
  never trained (random weights from ``keras.utils.set_random_seed(4)``);
  ``seed004_io.npz``: ``x`` (the first 4 test images of cnnlab's bundled MNIST sample,
  /255, with a channel axis) and ``y`` (Keras's ``predict``).
* ``conv1d.keras``: Conv1D, MaxPooling1D, Conv1D(same), AveragePooling1D,
  GlobalAveragePooling1D, Dropout, Dense(softmax), trained 3 steps with Adam (so the file holds
  Adam's slots); ``conv1d.weights.h5``: the same weights saved with ``save_weights``;
  ``conv1d_io.npz``: ``x``, ``y`` (predictions), ``train_x``, ``train_y`` (a batch) and, after
  one more ``train_on_batch`` on that batch in Keras (Dropout's rate set to 0 for it, so that
  Keras's random numbers do not enter), ``next_<i>`` (every weight).
* ``rmsprop_cnn.keras``: Conv2D(same, strides 2), AveragePooling2D, Conv2D, GlobalMaxPooling2D,
  Dense(sigmoid), trained 2 steps with RMSprop(momentum=0.5) (its slots are grouped, not
  interleaved); ``rmsprop_cnn_io.npz`` as above.

* graphs (functional API; architectures in ``tests/fixtures/keras/fixture_models.py``):
  ``residual.keras`` (a residual block with ``Add``; compiled with Adam), ``two_branch.keras``
  (two branches joined by ``Concatenate``), ``two_io.keras`` (two inputs, two outputs),
  ``nested.keras`` (a ``Sequential`` used as a layer of a functional model); each with
  ``<name>_io.npz``: ``x_0``, ``x_1``, ... (the inputs) and ``y_0``, ``y_1``, ... (Keras's
  predictions, one per output);
* legacy whole-model HDF5 (``keras.saving.save_model(model, "x.h5")``): ``legacy_sequential.h5``
  (compiled with Adam, trained 2 steps, so the file holds the optimizer's weights) and
  ``legacy_residual.h5`` (the residual graph), with ``legacy_<name>_io.npz``;
* ``<name>_summary_<line_length>.txt``: the text ``model.summary(print_fn=...)`` gives for the
  residual, two-branch and nested graphs, at Keras's default width (``default``, with
  ``COLUMNS=200``: 108 columns for a graph) and at ``line_length=100``.

``--check`` runs the reverse direction: cnnlab (imported from this repository) builds the
graph fixtures' architectures and the legacy Sequential, saves them as ``.keras`` and legacy
``.h5`` into a temporary folder with its own predictions, and real Keras loads each file and
predicts; the script prints the largest difference per file and fails above 1e-5::

    PYTHONPATH=/tmp/kpkgs:. KERAS_BACKEND=torch .venv/bin/python scripts/make_keras_fixtures.py --check

Every ``.npz`` holds plain numeric arrays: the tests read them with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402  (real Keras 3, not cnnlab)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras"
sys.path.insert(0, str(OUT))
import fixture_models  # noqa: E402  (the architectures, shared with the tests)
from fixture_models import conv1d_model  # noqa: E402


def mnist_inputs(n=4):
    with np.load(
        ROOT / "cnnlab" / "data" / "mnist_sample.npz", allow_pickle=False
    ) as data:
        return (data["x_test"][:n, :, :, None] / 255.0).astype("float32")


def seed004():
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x = mnist_inputs()
    model.save(OUT / "seed004.keras")
    np.savez(OUT / "seed004_io.npz", x=x, y=np.asarray(model.predict(x, verbose=0)))


def trained(name, model, x, train_x, train_y, steps, weights_file=False):
    for _ in range(steps):
        model.train_on_batch(train_x, train_y)
    model.save(OUT / f"{name}.keras")
    if weights_file:
        model.save_weights(OUT / f"{name}.weights.h5")
    prediction = np.asarray(model.predict(x, verbose=0))
    for layer in model.layers:  # the extra step must not depend on Keras's dropout RNG
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    model.train_on_batch(
        train_x, train_y
    )  # one more step: what a resumed run must reproduce
    after = {f"next_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(
        OUT / f"{name}_io.npz",
        x=x,
        y=prediction,
        train_x=train_x,
        train_y=train_y,
        **after,
    )


def conv1d():
    keras.utils.set_random_seed(5)
    model = conv1d_model(keras)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, 32, 3)).astype("float32")
    train_x = rng.normal(size=(16, 32, 3)).astype("float32")
    train_y = rng.integers(0, 4, 16)
    trained("conv1d", model, x, train_x, train_y, steps=3, weights_file=True)


def rmsprop_cnn():
    keras.utils.set_random_seed(6)
    model = keras.Sequential(
        [
            keras.Input(shape=(12, 12, 2)),
            keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(5, 2, activation="relu"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(6)
    x = rng.random((4, 12, 12, 2)).astype("float32")
    train_x = rng.random((8, 12, 12, 2)).astype("float32")
    train_y = rng.integers(0, 2, (8, 1)).astype("float32")
    trained("rmsprop_cnn", model, x, train_x, train_y, steps=2)


def as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def io_npz(path, xs, ys):
    np.savez(
        path,
        **{f"x_{i}": x for i, x in enumerate(xs)},
        **{f"y_{i}": np.asarray(y) for i, y in enumerate(ys)},
    )


def graphs():
    for k, (name, (build, _)) in enumerate(fixture_models.GRAPHS.items()):
        keras.backend.clear_session()
        keras.utils.set_random_seed(20 + k)
        model = build(keras)
        xs = fixture_models.graph_inputs(name)
        model.save(OUT / f"{name}.keras")
        io_npz(
            OUT / f"{name}_io.npz",
            xs,
            as_list(model.predict(xs if len(xs) > 1 else xs[0], verbose=0)),
        )
        if name in fixture_models.SUMMARIES:
            for line_length in fixture_models.SUMMARY_LINE_LENGTHS:
                lines = []
                model.summary(line_length=line_length, print_fn=lines.append)
                (OUT / f"{name}_summary_{line_length or 'default'}.txt").write_text(
                    "".join(lines), encoding="utf-8"
                )


def legacy_h5():
    keras.backend.clear_session()
    keras.utils.set_random_seed(30)
    model = fixture_models.legacy_sequential_model(keras)
    rng = np.random.default_rng(30)
    x = rng.random((4, 8, 8, 1)).astype("float32")
    model.train_on_batch(
        rng.random((8, 8, 8, 1)).astype("float32"), rng.integers(0, 4, 8)
    )
    model.train_on_batch(
        rng.random((8, 8, 8, 1)).astype("float32"), rng.integers(0, 4, 8)
    )
    keras.saving.save_model(model, OUT / "legacy_sequential.h5")
    io_npz(OUT / "legacy_sequential_io.npz", [x], [model.predict(x, verbose=0)])
    keras.backend.clear_session()
    keras.utils.set_random_seed(31)
    model = fixture_models.residual_model(keras)
    xs = fixture_models.graph_inputs("residual", seed=31)
    keras.saving.save_model(model, OUT / "legacy_residual.h5")
    io_npz(OUT / "legacy_residual_io.npz", xs, [model.predict(xs[0], verbose=0)])


def check():
    """cnnlab writes, real Keras reads: the largest |difference| of the predictions per file."""
    import tempfile

    from cnnlab import keras as ck
    from cnnlab.layers import clear_session

    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (name, build, fixture_models.graph_inputs(name, seed=40))
            for name, (build, _) in fixture_models.GRAPHS.items()
        ]
        cases.append(
            (
                "legacy_sequential",
                fixture_models.legacy_sequential_model,
                [np.random.default_rng(41).random((4, 8, 8, 1)).astype("float32")],
            )
        )
        for name, build, xs in cases:
            clear_session()
            ck.utils.set_random_seed(50)
            model = build(ck)
            feed = xs if len(xs) > 1 else xs[0]
            ours = as_list(model.predict(feed, verbose=0))
            for ext in (
                [".keras", ".h5"]
                if name in ("residual", "legacy_sequential")
                else [".keras"]
            ):
                path = os.path.join(tmp, name + ext)
                model.save(path)
                keras.backend.clear_session()
                theirs = as_list(keras.saving.load_model(path).predict(feed, verbose=0))
                diff = max(
                    float(np.max(np.abs(np.asarray(t) - o)))
                    for t, o in zip(theirs, ours)
                )
                worst = max(worst, diff)
                print(
                    f"  cnnlab -> Keras  {name + ext:24s} max |difference| {diff:.3g}"
                )
    print(f"largest difference {worst:.3g}")
    return 0 if worst <= 1e-5 else 1


def main():
    if "--check" in sys.argv[1:]:
        print(
            f"Keras {keras.__version__}, backend {keras.backend.backend()}: loading cnnlab's files"
        )
        return check()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ["COLUMNS"] = (
        "200"  # the summary fixtures' default width (shutil reads COLUMNS)
    )
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()} -> {OUT}")
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for step in (seed004, conv1d, rmsprop_cnn, graphs, legacy_h5):
        if not only or step.__name__ in only:
            step()
    for path in sorted(OUT.iterdir()):
        print(f"  {path.name}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
