"""Write (or, with ``--check``, verify against) the real-Keras BatchNormalization fixtures of
tests/model/test_bn_keras_fixtures.py, in tests/fixtures/keras/::

    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_bn_fixtures.py
    PYTHONPATH=/tmp/kpkgs:. KERAS_BACKEND=torch .venv/bin/python scripts/make_bn_fixtures.py --check

Keras 3.15.1 (torch backend, see scripts/make_keras_fixtures.py for why that file is the same as
TensorFlow's). Written: ``bn_cnn.keras`` (tests/fixtures/keras/bn_models.py's model, trained 3
steps with Adam, so its moving statistics have moved and the file holds Adam's slots and a
frozen BN), ``bn_cnn_io.npz`` (``x``, Keras's inference ``y``; ``train_x``, ``train_y``;
``train_out``, the training-mode output on that batch before the extra step; ``next_<i>``,
every weight after one more ``train_on_batch``: training-mode forward, the full backward
through the batch statistics, the moving-average update, a frozen BN left alone) and
``bn_cnn_summary.txt`` (Keras's ``summary()`` at 88 columns); ``regularized.keras`` and
``regularized_io.npz`` (every regularizer and constraint: see ``write_regularized``);
``warp_cases.npz``, ``augment.keras``, ``augment_io.npz`` (see ``write_augmentation``).

``--check`` goes the other way and writes nothing: the same architecture built and trained
3 steps in cnnlab, saved as ``.keras``, loaded in real Keras; it prints the largest
differences between Keras's and cnnlab's predictions and the weights after one more step in
each, and fails above 1e-5 (the biases feeding BN apart: cnnlab keeps them exactly zero, Keras
moves them by its float-noise gradient, about 1e-4 a step with Adam; printed, not compared).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["COLUMNS"] = (
    "200"  # summary(): a wide console, so that the table is its 88 columns
)
import keras  # noqa: E402  (real Keras 3, not cnnlab)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras"
sys.path.insert(0, str(OUT))
from bn_models import (
    augmented_model,
    bn_model,
    bn_transpose_separable_model,
    regularized_model,
)  # noqa: E402


def data():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(4, 10, 10, 3)).astype("float32")
    train_x = (rng.normal(size=(16, 10, 10, 3)) * 2 + 0.5).astype("float32")
    train_y = rng.integers(0, 3, 16)
    return x, train_x, train_y


def write():
    keras.utils.set_random_seed(14)
    model = bn_model(keras)
    x, train_x, train_y = data()
    for _ in range(3):
        model.train_on_batch(train_x, train_y)
    model.save(OUT / "bn_cnn.keras")
    y = np.asarray(model.predict(x, verbose=0))
    text = io.StringIO()
    with redirect_stdout(text):
        model.summary(line_length=88)
    (OUT / "bn_cnn_summary.txt").write_text(text.getvalue())
    train_out = np.asarray(
        model(train_x, training=True).detach().cpu()
    )  # (moves the statistics once more:
    model = keras.models.load_model(OUT / "bn_cnn.keras")  # reload the saved state)
    model.train_on_batch(train_x, train_y)
    after = {f"next_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(
        OUT / "bn_cnn_io.npz",
        x=x,
        y=y,
        train_x=train_x,
        train_y=train_y,
        train_out=train_out,
        **after,
    )


def write_regularized():
    """The regularized model untrained (``regularized.keras``); ``regularized_io.npz``: the losses
    ``train_on_batch`` reported on 3 steps (penalties included), ``evaluate``'s loss after them
    (on ``x``, labels ``y``), and every weight after the 3 steps (``after_<i>``, constraints applied)."""
    keras.utils.set_random_seed(15)
    model = regularized_model(keras)
    model.save(OUT / "regularized.keras")
    rng = np.random.default_rng(15)
    train_x = (rng.normal(size=(16, 6, 6, 2)) + 0.3).astype("float32")
    train_y = rng.integers(0, 3, 16)
    x, y = rng.normal(size=(6, 6, 6, 2)).astype("float32"), rng.integers(0, 3, 6)
    losses = [float(model.train_on_batch(train_x, train_y)) for _ in range(3)]
    evaluated = float(model.evaluate(x, y, verbose=0, batch_size=6))
    penalty = float(
        sum(np.asarray(loss.detach().cpu()) for loss in model.losses)
    )  # after the last forward
    after = {f"after_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(
        OUT / "regularized_io.npz",
        train_x=train_x,
        train_y=train_y,
        x=x,
        y=y,
        losses=np.array(losses),
        evaluated=np.array(evaluated),
        penalty=np.array(penalty),
        **after,
    )


def write_augmentation():
    """``warp_cases.npz``: images ``x``, rotation, zoom and translation ``transforms`` (Keras's
    8-number form) and Keras's ``affine_transform`` of them (``<fill_mode>_<interpolation>``, the
    torch backend, fill_value 0.5); ``augment.keras`` and ``augment_io.npz``: every augmentation
    layer in a model (configs as Keras writes them) and its inference output ``y`` on ``x``."""
    from keras.src.backend.torch.image import affine_transform

    rng = np.random.default_rng(16)
    x = rng.random((3, 7, 9, 2)).astype("float32")
    angles = np.deg2rad([-130.0, 20.0, 75.0])
    cx, cy = 4.0, 3.0
    cos, sin = np.cos(angles), np.sin(angles)
    rotations = np.stack(
        [
            cos,
            -sin,
            cx - cx * cos + cy * sin,
            sin,
            cos,
            cy - cx * sin - cy * cos,
            0 * cos,
            0 * cos,
        ],
        axis=1,
    )
    zh, zw = np.array([0.5, 1.0, 2.2]), np.array([0.7, 1.6, 0.9])
    zooms = np.stack(
        [zw, 0 * zh, cx * (1 - zw), 0 * zh, zh, cy * (1 - zh), 0 * zh, 0 * zh], axis=1
    )
    ty, tx = np.array([-2.5, 3.0, 8.2]), np.array([4.4, -10.0, 0.3])
    shifts = np.stack(
        [1 + 0 * ty, 0 * ty, -tx, 0 * ty, 1 + 0 * ty, -ty, 0 * ty, 0 * ty], axis=1
    )
    transforms = np.concatenate([rotations, zooms, shifts]).astype("float32")
    xs = np.concatenate([x, x, x])
    cases = {}
    for fill_mode in ("reflect", "wrap", "constant", "nearest"):
        for interpolation in ("bilinear", "nearest"):
            cases[f"{fill_mode}_{interpolation}"] = np.asarray(
                affine_transform(
                    xs,
                    transforms.copy(),
                    interpolation=interpolation,
                    fill_mode=fill_mode,
                    fill_value=0.5,
                )
            )
    np.savez(OUT / "warp_cases.npz", x=xs, transforms=transforms, **cases)
    keras.utils.set_random_seed(16)
    model = augmented_model(keras)
    model.save(OUT / "augment.keras")
    images = rng.random((4, 8, 8, 3)).astype("float32")
    np.savez(
        OUT / "augment_io.npz", x=images, y=np.asarray(model.predict(images, verbose=0))
    )


def write_bn_transpose_separable():
    """``bn_tsep.keras``: BN with a transposed and a separable convolution, trained 2 steps with Adam;
    ``bn_tsep_io.npz``: ``x``, Keras's ``y``, the training batch and ``next_<i>`` after one more step."""
    keras.utils.set_random_seed(17)
    model = bn_transpose_separable_model(keras)
    rng = np.random.default_rng(17)
    x = rng.normal(size=(3, 6, 6, 3)).astype("float32")
    train_x = rng.normal(size=(8, 6, 6, 3)).astype("float32")
    train_y = rng.integers(0, 3, 8)
    for _ in range(2):
        model.train_on_batch(train_x, train_y)
    model.save(OUT / "bn_tsep.keras")
    y = np.asarray(model.predict(x, verbose=0))
    model.train_on_batch(train_x, train_y)
    after = {f"next_{i}": np.asarray(w) for i, w in enumerate(model.get_weights())}
    np.savez(
        OUT / "bn_tsep_io.npz", x=x, y=y, train_x=train_x, train_y=train_y, **after
    )


def check():
    sys.path.insert(0, str(ROOT))
    import cnnlab.keras as cnnlab_keras

    cnnlab_keras.utils.set_random_seed(14)
    ours = bn_model(cnnlab_keras)
    x, train_x, train_y = data()
    for _ in range(3):
        ours.train_on_batch(train_x, train_y)
    with tempfile.TemporaryDirectory() as tmp:
        ours.save(Path(tmp) / "ours.keras")
        theirs = keras.models.load_model(Path(tmp) / "ours.keras")
    diffs = {
        "predict": np.abs(
            np.asarray(theirs.predict(x, verbose=0)) - ours.predict(x, verbose=0)
        ).max()
    }
    ours.train_on_batch(train_x, train_y)
    theirs.train_on_batch(train_x, train_y)
    # The biases feeding BN (weights 1 and 11) have an exactly zero gradient in cnnlab; in Keras it is
    # float noise that Adam turns into steps of about 1e-4: reported apart, not compared.
    drift = {1, 11}
    pairs = list(zip(theirs.get_weights(), ours.get_weights()))
    diffs["weights after one more step"] = max(
        np.abs(np.asarray(a) - b).max()
        for i, (a, b) in enumerate(pairs)
        if i not in drift
    )
    for i in sorted(drift):
        print(
            f"  bias {i} feeding BN: cnnlab {np.abs(pairs[i][1]).max():.3g} (exact zero), "
            f"Keras {np.abs(np.asarray(pairs[i][0])).max():.3g} (its float-noise gradient, amplified by Adam)"
        )
    for what, d in diffs.items():
        print(
            f"  cnnlab -> Keras {keras.__version__}, max |difference| in {what}: {d:.3g}"
        )
    return 0 if max(diffs.values()) <= 1e-5 else 1


def main():
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    if "--check" in sys.argv[1:]:
        return check()
    write()
    write_regularized()
    write_augmentation()
    write_bn_transpose_separable()
    for name in (
        "bn_tsep.keras",
        "bn_tsep_io.npz",
        "bn_cnn.keras",
        "bn_cnn_io.npz",
        "bn_cnn_summary.txt",
        "regularized.keras",
        "regularized_io.npz",
        "warp_cases.npz",
        "augment.keras",
        "augment_io.npz",
    ):
        print(f"  {name}: {(OUT / name).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
