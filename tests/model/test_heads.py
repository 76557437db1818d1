"""The three kinds of output head train, and 'accuracy' means what Keras makes it mean.

Each head is measured untrained with ``evaluate`` first, then trained, and must
end below a threshold that the untrained model is above: so a head that does
not learn (a wrong gradient, a loss that ignores its labels) fails.

Data: 8x8 grey images with one bright quadrant (the class, 0..3) on noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras


def quadrant_images(n=256, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.3, size=(n, 8, 8, 1)).astype(np.float32)
    cls = rng.integers(0, 4, n)
    for i, c in enumerate(cls):
        r, q = divmod(int(c), 2)
        x[i, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4, 0] += 1.0
    return x, cls


def small_cnn(units, activation):
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation=activation),
        ]
    )


def train_and_check(model, loss, x, y, threshold, metrics=None, epochs=15):
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=loss, metrics=metrics
    )
    untrained = model.evaluate(x, y, verbose=0)
    untrained = untrained[0] if isinstance(untrained, list) else untrained
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    trained = model.evaluate(x, y, verbose=0)
    trained = trained[0] if isinstance(trained, list) else trained
    assert np.isfinite(untrained) and np.isfinite(trained)
    assert untrained > threshold, (
        f"the untrained model already reaches {untrained:.4f} < {threshold}"
    )
    assert trained < threshold < untrained, (
        f"trained loss {trained:.4f}, untrained {untrained:.4f}"
    )
    assert history.history["loss"][-1] < threshold
    assert history.history["loss"][-1] < history.history["loss"][0]
    return history


def test_multiclass_softmax_sparse_ce():
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images()
    model = small_cnn(4, "softmax")
    train_and_check(
        model,
        "sparse_categorical_crossentropy",
        x,
        cls,
        threshold=0.1,
        metrics=["accuracy"],
    )
    assert (model.predict(x, verbose=0).argmax(-1) == cls).mean() > 0.95


def test_multiclass_softmax_categorical_ce_one_hot():
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images()
    model = small_cnn(4, "softmax")
    train_and_check(
        model,
        "categorical_crossentropy",
        x,
        keras.utils.to_categorical(cls, 4),
        threshold=0.1,
    )
    assert (model.predict(x, verbose=0).argmax(-1) == cls).mean() > 0.95


def test_binary_one_sigmoid_unit_bce():
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images()
    y = (cls < 2).astype(np.float32)  # bright quadrant in the top half
    model = small_cnn(1, "sigmoid")
    train_and_check(model, "binary_crossentropy", x, y, threshold=0.1)
    p = model.predict(x, verbose=0)
    assert p.shape == (len(x), 1)
    assert ((p[:, 0] > 0.5) == (y > 0.5)).mean() > 0.95


def test_binary_labels_as_column_vector():
    """Labels (N, 1) against a (N, 1) sigmoid output train the same way."""
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images()
    y = (cls < 2).astype(np.float32)[:, None]
    train_and_check(small_cnn(1, "sigmoid"), "binary_crossentropy", x, y, threshold=0.1)


def test_binary_two_softmax_units_sparse_ce():
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images()
    y = (cls < 2).astype(np.int64)
    model = small_cnn(2, "softmax")
    train_and_check(model, "sparse_categorical_crossentropy", x, y, threshold=0.1)
    assert (model.predict(x, verbose=0).argmax(-1) == y).mean() > 0.95


def test_regression_linear_output_mse():
    keras.utils.set_random_seed(0)
    x, _ = quadrant_images()
    y = (3.0 * x[:, :4, :, 0].mean(axis=(1, 2))).astype(
        np.float32
    )  # brightness of the top half
    model = small_cnn(1, None)
    train_and_check(model, "mse", x, y, threshold=0.1)
    pred = model.predict(x, verbose=0)[:, 0]
    assert np.corrcoef(pred, y)[0, 1] > 0.95


# --------------------------------------------------------------------------- what 'accuracy' resolves to


def dense_head(units, activation, n_in=3):
    return keras.Sequential(
        [keras.Input(shape=(n_in,)), keras.layers.Dense(units, activation=activation)]
    )


def set_constant_output(model, bias):
    """Zero kernel, given bias: the output is the same for every sample."""
    k, _ = model.layers[-1].get_weights()
    model.layers[-1].set_weights([np.zeros_like(k), np.asarray(bias, dtype=np.float32)])


def test_accuracy_is_binary_for_bce_with_threshold_half():
    model = dense_head(1, "sigmoid")
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    x = np.ones((10, 3), dtype=np.float32)
    y = np.array([1] * 7 + [0] * 3, dtype=np.float32)

    set_constant_output(model, [np.log(0.6 / 0.4)])  # p = 0.6 for everyone: predicts 1
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(0.7)
    assert loss == pytest.approx(-(0.7 * np.log(0.6) + 0.3 * np.log(0.4)), rel=1e-5)

    set_constant_output(model, [np.log(0.4 / 0.6)])  # p = 0.4: predicts 0
    _, acc = model.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(0.3)

    assert type(model.metrics[0]).__name__ == "BinaryAccuracy"
    h = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}
    assert all(0.0 <= a <= 1.0 for a in h.history["accuracy"])


def test_accuracy_is_sparse_categorical_for_sparse_ce():
    model = dense_head(3, "softmax")
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x = np.ones((4, 3), dtype=np.float32)
    set_constant_output(model, [0.0, 2.0, 0.0])  # always class 1
    _, acc = model.evaluate(x, np.array([1, 1, 0, 2]), verbose=0)
    assert acc == pytest.approx(0.5)
    assert type(model.metrics[0]).__name__ == "SparseCategoricalAccuracy"


def test_accuracy_is_categorical_for_categorical_ce_one_hot():
    model = dense_head(3, "softmax")
    model.compile(
        optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"]
    )
    x = np.ones((4, 3), dtype=np.float32)
    set_constant_output(model, [0.0, 0.0, 2.0])  # always class 2
    y = keras.utils.to_categorical([2, 0, 2, 2], 3)
    assert y.shape == (4, 3) and y.dtype == np.float32
    loss, acc = model.evaluate(x, y, verbose=0)
    assert acc == pytest.approx(0.75)
    p = np.exp([0.0, 0.0, 2.0]) / np.exp([0.0, 0.0, 2.0]).sum()
    assert loss == pytest.approx(-(3 * np.log(p[2]) + np.log(p[0])) / 4, rel=1e-5)
    assert type(model.metrics[0]).__name__ == "CategoricalAccuracy"


def test_history_accuracy_key_for_each_head():
    keras.utils.set_random_seed(0)
    x, cls = quadrant_images(64)
    for model, loss, y in [
        (small_cnn(4, "softmax"), "sparse_categorical_crossentropy", cls),
        (
            small_cnn(4, "softmax"),
            "categorical_crossentropy",
            keras.utils.to_categorical(cls, 4),
        ),
        (small_cnn(1, "sigmoid"), "binary_crossentropy", (cls < 2).astype(np.float32)),
    ]:
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        h = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        assert set(h.history) == {"loss", "accuracy"}
        assert 0.0 <= h.history["accuracy"][0] <= 1.0


# Keras 3 picks 'accuracy' from the shapes (compile_utils.get_metric): binary only when y_pred's last axis is 1.
def test_accuracy_for_multilabel_bce_follows_keras3_shape_rule():
    model = dense_head(3, "sigmoid")
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    model.evaluate(
        np.ones((2, 3), np.float32),
        np.array([[1, 0, 1], [0, 1, 0]], np.float32),
        verbose=0,
    )
    assert type(model.metrics[0]).__name__ == "CategoricalAccuracy"
