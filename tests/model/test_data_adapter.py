"""fit / evaluate / predict on Datasets, generators and PyDataset; steps_per_epoch as Keras
counts it; class_weight and sample_weight in the loss and the metrics, against real Keras 3
(tests/fixtures/keras/data_adapter.json, from scripts/make_data_adapter_fixtures.py) and a
hand computation."""

import json
import os
import threading
import warnings

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.data import Dataset
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session
from cnnlab.model.data_adapter import InputRanOutWarning

REF = json.load(
    open(
        os.path.join(
            os.path.dirname(__file__), "..", "fixtures", "keras", "data_adapter.json"
        )
    )
)
X = np.array(REF["x"], dtype=np.float32)
Y = np.array(REF["y"])
W = np.array(REF["sample_weight"], dtype=np.float32)
CLASS_WEIGHT = {int(k): v for k, v in REF["class_weight"].items()}
KERNEL = np.array(REF["kernel"], dtype=np.float32)
BIAS = np.array(REF["bias"], dtype=np.float32)


def model(
    loss="sparse_categorical_crossentropy",
    units=3,
    activation="softmax",
    weighted_metrics=None,
):
    clear_session()
    m = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(units, activation=activation)]
    )
    m.layers[0].set_weights([KERNEL[:, :units], BIAS[:units]])
    m.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=loss,
        metrics=["accuracy"],
        weighted_metrics=weighted_metrics,
    )
    return m


class Steps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


def gen(n):
    for i in range(n):
        j = (2 * i) % 12
        yield X[j : j + 2], Y[j : j + 2]


class Batches(keras.utils.PyDataset):
    def __init__(self, n, **kw):
        super().__init__(**kw)
        self.n, self.threads = n, set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.threads.add(threading.current_thread().name)
        j = (2 * i) % 12
        return X[j : j + 2], Y[j : j + 2]


def count_steps(data, **fit):
    m, cb = model(), Steps()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = m.fit(data, verbose=0, callbacks=[cb], **fit)
    return (
        cb.per_epoch,
        sum(issubclass(w.category, InputRanOutWarning) for w in caught),
        history.history,
    )


# --------------------------------------------------------------------------- steps


@pytest.mark.parametrize(
    "name, make, fit",
    [
        (
            "generator_7_steps_3_epochs_4",
            lambda: gen(7),
            dict(steps_per_epoch=3, epochs=4),
        ),
        ("generator_5_no_steps_epochs_3", lambda: gen(5), dict(epochs=3)),
        (
            "pydataset_5_steps_2_epochs_4",
            lambda: Batches(5),
            dict(steps_per_epoch=2, epochs=4, shuffle=False),
        ),
        (
            "pydataset_5_steps_7_epochs_2",
            lambda: Batches(5),
            dict(steps_per_epoch=7, epochs=2, shuffle=False),
        ),
    ],
)
def test_steps_per_epoch_and_running_out_as_keras(name, make, fit):
    ref = REF["steps"][name]
    steps, warned, history = count_steps(make(), **fit)
    assert steps == ref["steps"]
    assert warned == ref["ran_out_warnings"]
    np.testing.assert_allclose(
        history["loss"], ref["loss"], rtol=1e-5
    )  # the same batches, in Keras's order


@pytest.mark.parametrize("batch_size", [4, 5])
def test_arrays_with_steps_per_epoch_as_keras(batch_size):
    ref = REF["steps"][f"arrays_12_batch_{batch_size}_steps_2_epochs_3"]
    m, cb = model(), Steps()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(
            X,
            Y,
            epochs=3,
            steps_per_epoch=2,
            batch_size=batch_size,
            shuffle=False,
            verbose=0,
            callbacks=[cb],
        )
    assert cb.per_epoch == ref["steps"]
    assert (
        sum(issubclass(w.category, InputRanOutWarning) for w in caught)
        == ref["ran_out_warnings"]
    )


def test_dataset_fit_evaluate_predict_match_arrays():
    ds = Dataset.from_tensor_slices((X, Y)).batch(4)
    a, b = model(), model()
    ha = a.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(ds, epochs=2, verbose=0)
    np.testing.assert_allclose(hb.history["loss"], ha.history["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert b.evaluate(ds, verbose=0) == pytest.approx(
        a.evaluate(X, Y, batch_size=4, verbose=0)
    )
    np.testing.assert_array_equal(
        b.predict(ds, verbose=0), a.predict(X, batch_size=4, verbose=0)
    )
    np.testing.assert_array_equal(
        b.predict(ds.map(lambda x, y: x), verbose=0), a.predict(X, verbose=0)
    )
    assert b.evaluate(ds, steps=1, verbose=0, return_dict=True)[
        "loss"
    ] == pytest.approx(b.evaluate(X[:4], Y[:4], verbose=0, return_dict=True)["loss"])


def test_validation_data_as_a_dataset_and_validation_steps():
    ds = Dataset.from_tensor_slices((X, Y)).batch(4)
    m = model()
    h = m.fit(ds, validation_data=ds, epochs=2, verbose=0)
    assert len(h.history["val_loss"]) == 2 and "val_accuracy" in h.history
    m = model()
    h = m.fit(ds, validation_data=ds.take(1), epochs=1, verbose=0)
    ref = model()
    ref.fit(ds, epochs=1, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(
        ref.evaluate(X[:4], Y[:4], verbose=0, return_dict=True)["loss"]
    )
    m = model()
    h = m.fit(ds, validation_data=ds, validation_steps=1, epochs=1, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(h.history["val_loss"][0])
    with pytest.raises(
        CnnlabError,
        match="validation_split` is only supported for Tensors or NumPy arrays",
    ):
        model().fit(ds, validation_split=0.2, verbose=0)


def test_pydataset_threads_shuffle_and_refusals():
    data = Batches(6, workers=3)
    model().fit(data, epochs=1, verbose=0)
    assert any(name.startswith("cnnlab-pydataset") for name in data.threads)
    with pytest.raises(CnnlabError, match="use_multiprocessing=True is not supported"):
        model().fit(Batches(3, use_multiprocessing=True, workers=2), verbose=0)
    with pytest.raises(CnnlabError, match="`y` should not be passed"):
        model().fit(Batches(3), Y, verbose=0)
    with pytest.raises(CnnlabError, match="`sample_weights` should not be passed"):
        model().fit(
            Dataset.from_tensor_slices((X, Y)).batch(4), sample_weight=W, verbose=0
        )


def test_generator_refusals():
    with pytest.raises(CnnlabError, match="at least one batch"):
        model().fit(iter([]), verbose=0)
    with pytest.raises(CnnlabError, match="must return a tuple"):
        model().fit(iter([X[:2]]), verbose=0)


def test_generator_progress_bar_without_a_length(capsys):
    model().fit(gen(3), epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "3/Unknown" in out or "3/3" in out


# --------------------------------------------------------------------------- weights


def per_sample_loss(name, probs_or_out, y):
    if name in ("sparse", "categorical"):
        return -np.log(probs_or_out[np.arange(len(Y)), Y])
    if name == "binary":
        p = probs_or_out[:, 0]
        t = (Y == 1).astype(np.float64)
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    return ((probs_or_out - np.eye(3)[Y]) ** 2).mean(axis=1)


CASES = {
    "sparse": ("sparse_categorical_crossentropy", 3, "softmax", Y),
    "categorical": (
        "categorical_crossentropy",
        3,
        "softmax",
        np.eye(3, dtype=np.float32)[Y],
    ),
    "binary": (
        "binary_crossentropy",
        1,
        "sigmoid",
        (Y == 1).astype(np.float32)[:, None],
    ),
    "mse": ("mse", 3, None, np.eye(3, dtype=np.float32)[Y]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_sample_weight_loss_by_hand_and_as_keras(name):
    loss, units, act, y = CASES[name]
    ref = REF["weighted"][name]
    m = model(loss, units, act)
    out = m.predict(X, verbose=0).astype(np.float64)
    per = per_sample_loss(name, out, y)
    by_hand = float((W * per).sum() / len(per))  # / batch size, not / sum(w)
    assert by_hand != pytest.approx(float((W * per).sum() / W.sum()))
    got = m.evaluate(X, y, sample_weight=W, batch_size=12, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(by_hand, rel=1e-5)
    assert got["loss"] == pytest.approx(ref["evaluate_sample_weight"]["loss"], rel=1e-5)
    assert got["accuracy"] == pytest.approx(
        ref["evaluate_sample_weight"]["accuracy"]
    )  # metrics: unweighted
    plain = m.evaluate(X, y, batch_size=12, verbose=0, return_dict=True)
    assert plain["loss"] == pytest.approx(ref["evaluate_plain"]["loss"], rel=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_sample_and_class_weight_in_fit_as_keras(name):
    loss, units, act, y = CASES[name]
    ref = REF["weighted"][name]
    m = model(loss, units, act)
    h = m.fit(X, y, sample_weight=W, batch_size=12, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(
        h.history["loss"], ref["fit_sample_weight_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        m.layers[0].get_weights()[0], ref["fit_sample_weight_kernel"], atol=1e-6
    )
    m = model(loss, units, act)
    h = m.fit(
        X,
        y,
        class_weight=CLASS_WEIGHT,
        batch_size=12,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    np.testing.assert_allclose(
        h.history["loss"], ref["fit_class_weight_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(
        h.history["accuracy"], ref["fit_class_weight_accuracy"], rtol=1e-6
    )
    np.testing.assert_allclose(
        m.layers[0].get_weights()[0], ref["fit_class_weight_kernel"], atol=1e-6
    )
    m = model(loss, units, act)
    h = m.fit(
        X,
        y,
        class_weight=CLASS_WEIGHT,
        batch_size=5,
        epochs=2,
        shuffle=False,
        verbose=0,
    )
    np.testing.assert_allclose(
        h.history["loss"], ref["fit_class_weight_batch5_loss"], rtol=1e-5
    )


@pytest.mark.parametrize("name", list(CASES))
def test_weighted_metrics_as_keras(name):
    loss, units, act, y = CASES[name]
    ref = REF["weighted"][name]
    m = model(loss, units, act, weighted_metrics=["accuracy"])
    got = m.evaluate(X, y, sample_weight=W, batch_size=5, verbose=0, return_dict=True)
    assert set(got) == set(ref["evaluate_weighted_metrics"])
    for k, v in ref["evaluate_weighted_metrics"].items():
        assert got[k] == pytest.approx(v, rel=1e-5), k
    m = model(loss, units, act, weighted_metrics=["accuracy"])
    h = m.fit(
        X,
        y,
        class_weight=CLASS_WEIGHT,
        batch_size=5,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    for k, v in ref["fit_class_weight_weighted_metrics"].items():
        assert h.history[k][0] == pytest.approx(v, rel=1e-5), k


def test_weighted_accuracy_by_hand():
    m = model(weighted_metrics=["accuracy"])
    right = (m.predict(X, verbose=0).argmax(-1) == Y).astype(np.float64)
    got = m.evaluate(X, Y, sample_weight=W, verbose=0, return_dict=True)
    assert got["weighted_accuracy"] == pytest.approx(float((right * W).sum() / W.sum()))
    assert got["accuracy"] == pytest.approx(float(right.mean()))


def test_sample_weights_from_dataset_batches_and_class_weight_on_datasets():
    ds = Dataset.from_tensor_slices((X, Y, W)).batch(12)
    a, b = model(), model()
    a.fit(ds, epochs=1, verbose=0)
    b.fit(X, Y, sample_weight=W, batch_size=12, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    c, d = model(), model()
    c.fit(
        Dataset.from_tensor_slices((X, Y)).batch(12),
        class_weight=CLASS_WEIGHT,
        epochs=1,
        verbose=0,
    )
    d.fit(
        X,
        Y,
        class_weight=CLASS_WEIGHT,
        batch_size=12,
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    np.testing.assert_array_equal(c.get_weights()[0], d.get_weights()[0])
    with pytest.raises(
        CnnlabError, match="class_weight` and `sample_weight` at the same time"
    ):
        model().fit(ds, class_weight=CLASS_WEIGHT, verbose=0)
    with pytest.raises(
        CnnlabError, match="class_weight` and `sample_weight` at the same time"
    ):
        model().fit(X, Y, class_weight=CLASS_WEIGHT, sample_weight=W, verbose=0)


def test_bad_sample_weights():
    with pytest.raises(CnnlabError, match=r"one weight per sample, shape \(12,\)"):
        model().fit(X, Y, sample_weight=W[:5], verbose=0)
    with pytest.raises(CnnlabError, match="NaN or inf"):
        model().fit(X, Y, sample_weight=np.full(12, np.nan), verbose=0)
    with pytest.raises(CnnlabError, match="class_weight must be a dict"):
        model().fit(X, Y, class_weight=[1.0, 2.0], verbose=0)


def test_image_folder_trains_with_fit(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label, value in (("dark", 40), ("light", 210)):
        os.makedirs(tmp_path / label)
        for i in range(12):
            size = tuple(rng.integers(6, 14, 2))
            Image.fromarray(
                np.full((*size, 3), value, np.uint8)
                + rng.integers(0, 20, (*size, 3)).astype(np.uint8)
            ).save(tmp_path / label / f"{i}.png")
    train, val = keras.utils.image_dataset_from_directory(
        tmp_path,
        image_size=(8, 8),
        batch_size=6,
        seed=1,
        validation_split=0.25,
        subset="both",
        verbose=False,
    )
    clear_session()
    m = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    m.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    train_scaled = train.map(lambda x, y: (x / 127.5 - 1.0, y))
    h = m.fit(
        train_scaled,
        validation_data=val.map(lambda x, y: (x / 127.5 - 1.0, y)),
        epochs=8,
        verbose=0,
    )
    assert h.history["val_accuracy"][-1] == 1.0
