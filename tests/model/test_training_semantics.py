"""What fit / evaluate / predict report and do, as Keras 3 does it.

* the epoch loss is the running mean of batch losses, weighted by batch size,
  each taken before that batch's update;
* ceil(N / batch_size) steps, the last one short;
* evaluate: [loss, metric...] with metrics, the loss alone without;
* validation_split takes the last samples (before any shuffling);
* EarlyStopping (Keras 3's keras/src/callbacks/early_stopping.py) and History;
* set_random_seed makes a run reproducible bit for bit;
* predict gives probabilities; the fused softmax/sigmoid + cross-entropy path
  gives the loss and gradient of the unfused formula, without clipping.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab import keras


def blobs(n=50, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centers = rng.normal(0, 1.5, size=(k, d))
    x = (centers[y] + rng.normal(0, 1.0, size=(n, d))).astype(np.float32)
    return x, y


def mlp(d=6, k=3, seed=3, dropout=0.0):
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(shape=(d,)), keras.layers.Dense(8, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(k, activation="softmax"))
    return keras.Sequential(layers)


def twin(model, optimizer):
    """An independent model with the same architecture and weights, compiled alike."""
    other = mlp()
    other.set_weights(model.get_weights())
    other.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return other


def max_diff(a, b):
    return max(float(np.max(np.abs(p - q))) for p, q in zip(a, b))


# --------------------------------------------------------------------------- the epoch loss


def test_epoch_loss_is_batch_size_weighted_mean_of_pre_update_losses():
    x, y = blobs(50)
    model = mlp()
    ref = twin(model, keras.optimizers.SGD(learning_rate=0.2))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.2),
        loss="sparse_categorical_crossentropy",
    )

    steps = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(batch)
    )
    history = model.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[cb]
    )
    assert steps == [0, 1, 2, 3] * 2, (
        "N=50, batch 16: ceil(50/16) = 4 steps per epoch, the last of 2 samples"
    )

    for epoch in range(2):
        before, after, sizes = [], [], []
        for s in range(0, 50, 16):
            xb, yb = x[s : s + 16], y[s : s + 16]
            pre = ref.test_on_batch(xb, yb)  # loss with the weights before update k
            trained = ref.train_on_batch(
                xb, yb
            )  # train_on_batch reports the same pre-update loss
            assert trained == pytest.approx(pre, rel=1e-6)
            before.append(pre)
            after.append(ref.test_on_batch(xb, yb))
            sizes.append(len(xb))
        assert sizes == [16, 16, 16, 2]
        expected = float(np.dot(before, sizes) / 50)
        unweighted = float(np.mean(before))
        post_update = float(np.dot(after, sizes) / 50)
        got = history.history["loss"][epoch]
        assert got == pytest.approx(expected, rel=1e-5), f"epoch {epoch + 1}"
        # the alternatives must be distinguishable, or the test proves nothing
        assert abs(unweighted - expected) > 1e-3 and abs(post_update - expected) > 1e-3
    assert max_diff(model.get_weights(), ref.get_weights()) < 1e-6


def test_default_batch_size_is_32():
    x, y = blobs(50)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    steps = []
    cb = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: steps.append(batch)
    )
    model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert steps == [0, 1]
    assert model.optimizer.iterations == 2


def test_fit_updates_once_per_batch():
    x, y = blobs(50)
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert model.optimizer.iterations == 3 * math.ceil(50 / 16)


# --------------------------------------------------------------------------- evaluate


def test_evaluate_returns_list_with_metrics_and_scalar_without():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    loss, acc = result
    p = model.predict(x, verbose=0).astype(np.float64)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(50), y])), rel=1e-5)
    assert acc == pytest.approx(np.mean(p.argmax(-1) == y))
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {
        "loss",
        "accuracy",
    }

    bare = mlp()
    bare.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    scalar = bare.evaluate(x, y, verbose=0)
    assert not isinstance(scalar, (list, tuple, dict))
    assert np.ndim(scalar) == 0
    assert float(scalar) == pytest.approx(loss, rel=1e-6)  # same weights (same seed)


def test_evaluate_is_sample_weighted_across_batches():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    whole = model.evaluate(x, y, batch_size=50, verbose=0)
    batched = model.evaluate(x, y, batch_size=16, verbose=0)  # 16, 16, 16, 2
    assert batched[0] == pytest.approx(whole[0], rel=1e-5)
    assert batched[1] == pytest.approx(whole[1])


def test_evaluate_does_not_change_weights():
    x, y = blobs(50)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    w = model.get_weights()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.test_on_batch(x, y)
    assert max_diff(w, model.get_weights()) == 0.0


# --------------------------------------------------------------------------- validation_split


def test_validation_split_takes_the_last_samples():
    x, y = blobs(50)
    model = mlp()
    ref = twin(model, keras.optimizers.SGD(learning_rate=0.1))
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
    )

    h = model.fit(
        x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_split=0.2
    )
    ref.fit(x[:40], y[:40], batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert max_diff(model.get_weights(), ref.get_weights()) < 1e-7, (
        "trained on the first 40 samples"
    )
    assert h.history["val_loss"][0] == pytest.approx(
        ref.evaluate(x[40:], y[40:], verbose=0), rel=1e-6
    )
    assert h.history["val_loss"][0] != pytest.approx(
        ref.evaluate(x[:10], y[:10], verbose=0), rel=1e-3
    )


def test_validation_split_is_taken_before_shuffling():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = model.fit(
        x, y, batch_size=8, epochs=2, shuffle=True, verbose=0, validation_split=0.3
    )
    split = int(50 * (1 - 0.3))
    val_loss, val_acc = model.evaluate(x[split:], y[split:], verbose=0)
    assert h.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(val_acc)


def test_validation_data_is_evaluated_at_epoch_end():
    x, y = blobs(50)
    xv, yv = blobs(20, seed=9)
    model = mlp()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
    )
    h = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(xv, yv))
    assert h.history["val_loss"][-1] == pytest.approx(
        model.evaluate(xv, yv, verbose=0), rel=1e-6
    )


# --------------------------------------------------------------------------- History


def test_history_keys_and_epochs():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.2)
    assert isinstance(h, keras.callbacks.History)
    assert model.history is h
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in h.history.values())
    assert h.epoch == [0, 1, 2]
    assert all(isinstance(v, float) for vals in h.history.values() for v in vals)

    h2 = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert set(h2.history) == {"loss", "accuracy"}, (
        "a new History per fit, without val_ keys"
    )


def test_initial_epoch():
    x, y = blobs(50)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    h = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert h.epoch == [3, 4] and len(h.history["loss"]) == 2


# --------------------------------------------------------------------------- EarlyStopping


def scripted_fit(scores, early_stopping, epochs=None):
    """fit with a monitored value ``score`` scripted per epoch (written into the logs
    by a callback that runs before EarlyStopping, as a metric would be; ``mode`` must
    be given, since Keras 3 refuses to guess the direction of an unknown name); returns
    (history, weights at the end of each epoch, final weights)."""
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
    )
    snapshots = []

    def inject(epoch, logs):
        logs["score"] = scores[epoch]
        snapshots.append(model.get_weights())

    cb = keras.callbacks.LambdaCallback(on_epoch_end=inject)
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs or len(scores),
        verbose=0,
        callbacks=[cb, early_stopping],
    )
    return h, snapshots, model.get_weights()


def test_early_stopping_stops_after_patience():
    es = keras.callbacks.EarlyStopping(monitor="score", mode="min", patience=2)
    h, snaps, _ = scripted_fit([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], es)
    assert (
        len(h.history["loss"]) == 4
    )  # best at epoch 1, two epochs without improvement
    assert es.stopped_epoch == 3


def test_early_stopping_patience_zero_and_min_delta():
    es = keras.callbacks.EarlyStopping(monitor="score", mode="min", patience=0)
    h, _, _ = scripted_fit([1.0, 1.1, 0.5, 0.4], es)
    assert len(h.history["loss"]) == 2

    es = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=1, min_delta=0.1
    )
    h, _, _ = scripted_fit([1.0, 0.95, 0.5, 0.4], es)
    assert len(h.history["loss"]) == 2, (
        "0.95 is not an improvement of at least min_delta on 1.0"
    )


def test_early_stopping_auto_mode_maximises_accuracy():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    scores = [0.5, 0.6, 0.55, 0.7]
    es = keras.callbacks.EarlyStopping(monitor="accuracy", patience=1)
    cb = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: logs.__setitem__("accuracy", scores[e])
    )
    h = model.fit(x, y, epochs=4, verbose=0, callbacks=[cb, es])
    assert len(h.history["loss"]) == 3, (
        "0.55 after 0.6 is no improvement when higher is better"
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_early_stopping_keras_docstring_example():
    """keras.callbacks.EarlyStopping's own example: a diverging regression stops after 4 epochs.
    (Keras's example passes labels ``np.zeros(5)`` against a (1, 10) output and relies on
    broadcasting at batch_size=1; cnnlab asks for matching shapes, so the labels are (5, 10).)"""
    keras.utils.set_random_seed(0)
    callback = keras.callbacks.EarlyStopping(monitor="loss", patience=3)
    model = keras.Sequential([keras.layers.Dense(10)])
    model.compile(keras.optimizers.SGD(), loss="mse")
    history = model.fit(
        np.arange(100).reshape(5, 20),
        np.zeros((5, 10)),
        epochs=10,
        batch_size=1,
        callbacks=[callback],
        verbose=0,
    )
    assert len(history.history["loss"]) == 4


def test_early_stopping_restore_best_weights_when_stopped():
    es = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=2, restore_best_weights=True
    )
    h, snaps, final = scripted_fit([1.0, 0.5, 0.6, 0.7, 0.8, 0.9], es)
    assert len(h.history["loss"]) == 4
    assert max_diff(final, snaps[1]) == 0.0, (
        "weights from the end of the best epoch (2nd)"
    )
    assert max_diff(final, snaps[-1]) > 1e-4


def test_early_stopping_without_restore_keeps_last_weights():
    es = keras.callbacks.EarlyStopping(monitor="score", mode="min", patience=2)
    _, snaps, final = scripted_fit([1.0, 0.5, 0.6, 0.7, 0.8, 0.9], es)
    assert max_diff(final, snaps[-1]) == 0.0


def test_early_stopping_restores_best_weights_even_without_stopping():
    """Keras 3 restores in on_train_end whenever best weights were recorded, also when
    training ran all its epochs (keras-team/keras#18822, tensorflow/tensorflow#35634)."""
    es = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=10, restore_best_weights=True
    )
    h, snaps, final = scripted_fit([1.0, 0.5, 0.6, 0.7], es)
    assert len(h.history["loss"]) == 4 and es.stopped_epoch == 0
    assert max_diff(final, snaps[1]) == 0.0, (
        "Keras 3 restores the best epoch's weights at the end of training"
    )


def test_early_stopping_baseline_keeps_training_while_improving():
    """Keras 3: ``best`` starts at +inf; an improvement on the best so far returns early
    (no stop) even when it does not beat the baseline -- it only keeps ``wait`` from
    resetting. So a steadily improving run never stops, baseline or not."""
    es = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=2, baseline=0.1
    )
    h, _, _ = scripted_fit([1.0, 0.9, 0.8, 0.7, 0.6], es)
    assert len(h.history["loss"]) == 5


def test_early_stopping_baseline_never_beaten_stops_after_patience():
    es = keras.callbacks.EarlyStopping(
        monitor="score", mode="min", patience=2, baseline=0.1
    )
    h, _, _ = scripted_fit([1.0, 1.0, 1.0, 1.0, 1.0], es)
    assert len(h.history["loss"]) == 2


# --------------------------------------------------------------------------- reproducibility


def seeded_run(seed):
    keras.utils.set_random_seed(seed)
    x, y = blobs(64)
    model = mlp(seed=seed, dropout=0.3)
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    h = model.fit(
        x, y, batch_size=8, epochs=2, shuffle=True, verbose=0, validation_split=0.25
    )
    return model.get_weights(), h.history


def test_set_random_seed_makes_runs_identical_bit_for_bit():
    w1, h1 = seeded_run(42)
    w2, h2 = seeded_run(42)
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert h1 == h2
    w3, _ = seeded_run(43)
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_shuffle_changes_the_trajectory_but_not_shuffle_false():
    x, y = blobs(64)

    def run(shuffle, seed):
        model = mlp(seed=1)
        keras.utils.set_random_seed(seed)
        model.compile(
            optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
        )
        model.fit(x, y, batch_size=8, epochs=1, shuffle=shuffle, verbose=0)
        return model.get_weights()

    assert max_diff(run(False, 5), run(False, 6)) == 0.0
    assert max_diff(run(True, 5), run(True, 6)) > 1e-6


# --------------------------------------------------------------------------- predict


def test_predict_returns_probabilities_and_argmax_classes():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy"
    )
    model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    p = model.predict(x, verbose=0)
    assert p.shape == (50, 3) and p.dtype == np.float32
    assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0, atol=1e-6)
    classes = p.argmax(axis=-1)
    assert set(classes) <= {0, 1, 2}
    assert (classes == y).mean() > 0.8
    np.testing.assert_allclose(
        model.predict(x, batch_size=7, verbose=0), p, rtol=0, atol=1e-7
    )
    np.testing.assert_allclose(model(x), p, rtol=0, atol=1e-7)
    np.testing.assert_allclose(model.predict_on_batch(x), p, rtol=0, atol=1e-7)


def test_predict_accepts_float64_and_uint8():
    x, _ = blobs(10)
    model = mlp()
    p32 = model.predict(x, verbose=0)
    assert model.predict(x.astype(np.float64), verbose=0).dtype == np.float32
    np.testing.assert_allclose(
        model.predict(x.astype(np.float64), verbose=0), p32, atol=1e-7
    )
    u = np.clip(np.abs(x) * 40, 0, 255).astype(np.uint8)
    np.testing.assert_allclose(
        model.predict(u, verbose=0), model.predict(u.astype(np.float32), verbose=0)
    )


# --------------------------------------------------------------------------- the fused softmax + CE path


def test_fused_loss_equals_minus_mean_log_p_true():
    x, y = blobs(50)
    model = mlp()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
    )
    p = model.predict(x, verbose=0).astype(np.float64)
    expected = -np.mean(np.log(p[np.arange(50), y]))
    assert model.test_on_batch(x, y) == pytest.approx(expected, rel=1e-5)
    assert model.train_on_batch(x, y) == pytest.approx(
        expected, rel=1e-5
    )  # before the update


def test_fused_sigmoid_bce_loss():
    x, y = blobs(40)
    yb = (y == 0).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(6,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    p = model.predict(x, verbose=0)[:, 0].astype(np.float64)
    expected = -np.mean(yb * np.log(p) + (1 - yb) * np.log(1 - p))
    assert model.test_on_batch(x, yb) == pytest.approx(expected, rel=1e-5)


def dense_softmax_variants(w, b):
    a = keras.Sequential(
        [keras.Input(shape=(6,)), keras.layers.Dense(3, activation="softmax")]
    )
    c = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(3),
            keras.layers.Activation("softmax"),
        ]
    )
    d = keras.Sequential(
        [keras.Input(shape=(6,)), keras.layers.Dense(3), keras.layers.Softmax()]
    )
    # a trailing identity Reshape hides the softmax from the loss: the unfused path
    # (cross-entropy on probabilities, then the softmax Jacobian)
    e = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(3),
            keras.layers.Activation("softmax"),
            keras.layers.Reshape((3,)),
        ]
    )
    for m in (a, c, d, e):
        m.layers[0].set_weights([w, b])
        m.compile(
            optimizer=keras.optimizers.SGD(learning_rate=1.0),
            loss="sparse_categorical_crossentropy",
        )
    return a, c, d, e


def test_fused_gradient_is_softmax_minus_onehot():
    """One SGD step (lr 1) on Dense(softmax): dW = x^T (softmax(z) - onehot(y)) / N, db = mean(p - onehot),
    for the activation on the Dense, as an Activation layer, as a Softmax layer, and unfused."""
    x, y = blobs(32)
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.5, (6, 3)).astype(np.float32)
    b = rng.normal(0, 0.1, 3).astype(np.float32)
    z = x.astype(np.float64) @ w + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d = (p - np.eye(3)[y]) / len(x)
    w1, b1 = w - x.T.astype(np.float64) @ d, b - d.sum(0)
    for model in dense_softmax_variants(w, b):
        model.train_on_batch(x, y)
        got_w, got_b = model.layers[0].get_weights()
        np.testing.assert_allclose(got_w, w1, atol=1e-5)
        np.testing.assert_allclose(got_b, b1, atol=1e-5)
    assert float(np.max(np.abs(w1 - w))) > 1e-2


def test_fit_uses_logits_so_the_loss_is_not_clipped():
    """A confidently wrong softmax: -log p_true from the logits is ~50; clipping
    probabilities at 1e-7 would cap it at -log(1e-7) = 16.12."""
    x = np.ones((2, 6), dtype=np.float32)
    y = np.array([0, 0])
    w = np.zeros((6, 3), np.float32)
    b = np.array([0.0, 50.0, 0.0], np.float32)
    *fused, unfused = dense_softmax_variants(w, b)
    for model in fused:
        loss = model.train_on_batch(x, y)
        assert loss == pytest.approx(50.0, rel=1e-4)
    assert unfused.train_on_batch(x, y) == pytest.approx(-np.log(1e-7), rel=1e-4), (
        "probabilities are clipped"
    )
    # the loss function on probabilities clips, as Keras's does
    probs = np.array([[0.0, 1.0, 0.0]], dtype=np.float32)
    clipped = keras.losses.SparseCategoricalCrossentropy()(np.array([0]), probs)
    assert clipped == pytest.approx(-np.log(1e-7), rel=1e-4)
