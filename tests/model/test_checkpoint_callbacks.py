"""``ModelCheckpoint`` and ``TerminateOnNaN`` as Keras 3 defines them (keras/src/callbacks/
model_checkpoint.py, monitor_callback.py, terminate_on_nan.py), plus what cnnlab adds:
TerminateOnNaN puts back the last good weights and optimizer state."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

pytest.importorskip("h5py")


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def classifier(optimizer="adam"):
    keras.utils.set_random_seed(0)
    clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def blobs(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = (rng.normal(size=(n, 6)) + y[:, None]).astype("float32")
    return x, y


class Scripted(keras.callbacks.Callback):
    """Writes ``scores[epoch]`` into the epoch's logs under ``key`` (runs before the checkpoint)."""

    def __init__(self, key, scores):
        super().__init__()
        self.key, self.scores, self.weights = key, scores, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.scores[epoch]
        self.weights.append(self.model.get_weights())


def same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b))


# ---- ModelCheckpoint ------------------------------------------------------------
def test_every_epoch_with_epoch_and_log_keys_in_the_name(tmp_path):
    x, y = blobs()
    model = classifier()
    path = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.keras")
    history = model.fit(
        x, y, epochs=3, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(path)]
    )
    names = sorted(os.listdir(tmp_path))
    assert names == [
        f"ckpt-{e + 1:02d}-{loss:.3f}.keras"
        for e, loss in enumerate(history.history["loss"])
    ]
    last = keras.models.load_model(tmp_path / names[-1])
    assert same(last.get_weights(), model.get_weights())
    assert last.optimizer.iterations == model.optimizer.iterations


@pytest.mark.parametrize(
    "mode, scores, best_epoch",
    [
        ("min", [0.5, 0.4, 0.45, 0.3, 0.35], 3),
        ("max", [0.5, 0.4, 0.45, 0.3, 0.35], 0),
    ],
)
def test_save_best_only_keeps_the_best_epoch(tmp_path, mode, scores, best_epoch):
    x, y = blobs()
    model = classifier()
    script = Scripted("score", scores)
    checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "best.keras", monitor="score", mode=mode, save_best_only=True
    )
    model.fit(x, y, epochs=len(scores), verbose=0, callbacks=[script, checkpoint])
    assert same(
        keras.models.load_model(tmp_path / "best.keras").get_weights(),
        script.weights[best_epoch],
    )
    assert checkpoint.best == scores[best_epoch]


def test_auto_mode_follows_the_metric_direction(tmp_path):
    """``val_accuracy`` is maximised, ``val_loss`` minimised (Keras 3's metric ``_direction``)."""
    x, y = blobs()
    model = classifier()
    acc = keras.callbacks.ModelCheckpoint(
        tmp_path / "acc.keras", monitor="val_accuracy", save_best_only=True
    )
    loss = keras.callbacks.ModelCheckpoint(
        tmp_path / "loss.keras", save_best_only=True
    )  # val_loss
    history = model.fit(
        x, y, epochs=6, verbose=0, validation_split=0.3, callbacks=[acc, loss]
    )
    assert acc.direction() == "max" and loss.direction() == "min"
    assert acc.best == max(history.history["val_accuracy"])
    assert loss.best == min(history.history["val_loss"])


def test_auto_mode_refuses_a_name_it_cannot_place(tmp_path):
    x, y = blobs()
    checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "m.keras", monitor="score", save_best_only=True
    )
    with pytest.raises(ValueError, match="mode='max'"):
        classifier().fit(
            x, y, epochs=1, verbose=0, callbacks=[Scripted("score", [1.0]), checkpoint]
        )


def test_unknown_mode_warns_and_falls_back_to_auto(tmp_path):
    with pytest.warns(UserWarning, match="mode 'best' is unknown"):
        checkpoint = keras.callbacks.ModelCheckpoint(tmp_path / "m.keras", mode="best")
    assert checkpoint.mode == "auto"


def test_a_missing_monitor_warns_and_saves_as_keras_does(tmp_path):
    x, y = blobs()
    checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "m.keras", monitor="val_loss", save_best_only=True
    )
    with pytest.warns(
        UserWarning, match="Can save best model only with val_loss available"
    ):
        classifier().fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert (tmp_path / "m.keras").exists()


def test_initial_value_threshold(tmp_path):
    x, y = blobs()
    checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "m.keras",
        monitor="score",
        mode="min",
        save_best_only=True,
        initial_value_threshold=0.1,
    )
    classifier().fit(
        x, y, epochs=2, verbose=0, callbacks=[Scripted("score", [0.5, 0.2]), checkpoint]
    )
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("name", ["w.weights.h5", "w.safetensors"])
def test_save_weights_only(tmp_path, name):
    x, y = blobs()
    model = classifier()
    model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(tmp_path / name, save_weights_only=True)
        ],
    )
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors")
    fresh = classifier()
    fresh.load_weights(tmp_path / name)
    assert same(fresh.get_weights(), model.get_weights())


@pytest.mark.parametrize(
    "name, weights_only, message",
    [
        ("m.h5", False, r"must end in `\.keras`"),
        ("m.weights.h5", False, r"must end in `\.keras`"),
        ("m.keras", True, r"must end in `\.weights\.h5`"),
        ("m.npz", True, r"must end in `\.weights\.h5`"),
    ],
)
def test_file_names_are_checked_as_keras_3_does(tmp_path, name, weights_only, message):
    with pytest.raises(ValueError, match=message):
        keras.callbacks.ModelCheckpoint(tmp_path / name, save_weights_only=weights_only)


def test_save_freq_in_batches_with_batch_in_the_name(tmp_path):
    x, y = blobs()  # 60 samples, batch 16: 4 batches
    checkpoint = keras.callbacks.ModelCheckpoint(
        str(tmp_path / "e{epoch}-b{batch}.keras"), save_freq=3
    )
    classifier().fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[checkpoint])
    assert sorted(os.listdir(tmp_path)) == [
        "e1-b3.keras",
        "e2-b2.keras",
    ]  # after batches 3 and 6
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.ModelCheckpoint(tmp_path / "m.keras", save_freq="batch")


def test_missing_directories_are_created_and_a_directory_path_is_refused(tmp_path):
    x, y = blobs()
    classifier().fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[keras.callbacks.ModelCheckpoint(tmp_path / "a" / "b" / "m.keras")],
    )
    assert (tmp_path / "a" / "b" / "m.keras").exists()
    (tmp_path / "dir.keras").mkdir()
    with pytest.raises(OSError, match="non-directory"):
        classifier().fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(tmp_path / "dir.keras")],
        )


def test_verbose_messages(tmp_path, capsys):
    x, y = blobs()
    checkpoint = keras.callbacks.ModelCheckpoint(
        tmp_path / "m.keras",
        monitor="score",
        mode="min",
        save_best_only=True,
        verbose=1,
    )
    classifier().fit(
        x, y, epochs=2, verbose=0, callbacks=[Scripted("score", [0.5, 0.6]), checkpoint]
    )
    out = capsys.readouterr().out
    assert "Epoch 1: score improved from None to 0.50000, saving model to" in out
    assert "Epoch 2: score did not improve from 0.50000" in out


# ---- TerminateOnNaN ---------------------------------------------------------------
class Recorder(keras.callbacks.Callback):
    """The weights and optimizer iterations before every batch."""

    def __init__(self):
        super().__init__()
        self.before = []

    def on_train_batch_begin(self, batch, logs=None):
        self.before.append((self.model.get_weights(), self.model.optimizer.iterations))


def regression(optimizer):
    keras.utils.set_random_seed(0)
    clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def exploding_data():
    """Batch 3 (of 8, batch size 8) holds a target whose square overflows float32."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    y[27] = 3e19
    return x, y


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_terminate_on_nan_keeps_the_weights_from_before_the_bad_batch(
    optimizer, capsys
):
    x, y = exploding_data()
    model = regression(optimizer)
    recorder = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x,
            y,
            batch_size=8,
            epochs=2,
            shuffle=False,
            verbose=0,
            callbacks=[recorder, keras.callbacks.TerminateOnNaN()],
        )
    assert "Batch 3: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(recorder.before) == 4 and not np.isfinite(history.history["loss"][-1])
    weights, iterations = recorder.before[3]
    assert same(model.get_weights(), weights)
    assert model.optimizer.iterations == iterations == 3
    slots = [s for slot in model.optimizer.get_state()["slots"] for s in slot]
    assert all(np.isfinite(s).all() for s in slots)
    # Training can go on from there.
    model.fit(x[:24], y[:24], batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_terminate_on_nan_at_the_first_batch_resets_the_optimizer():
    x, y = exploding_data()
    model = regression("adam")
    before = model.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(
            x[24:],
            y[24:],
            batch_size=8,
            epochs=1,
            shuffle=False,
            verbose=0,
            callbacks=[keras.callbacks.TerminateOnNaN()],
        )
    assert same(model.get_weights(), before) and model.optimizer.iterations == 0
    assert all(
        np.isfinite(s).all()
        for slot in model.optimizer.get_state()["slots"]
        for s in slot
    )


def test_weights_already_poisoned_by_the_previous_batch_are_not_kept():
    """A finite loss whose update made a weight NaN (simulated): the next loss is NaN and the
    state from before the update that poisoned it is put back."""
    x, y = blobs(64)
    model = classifier()
    recorder = Recorder()

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.layers[0].weights[0][0, 0] = np.nan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[recorder, Poison(), keras.callbacks.TerminateOnNaN()],
        )
    weights, iterations = recorder.before[2]
    assert (
        same(model.get_weights(), weights)
        and model.optimizer.iterations == iterations == 2
    )


def test_terminate_on_nan_raise_error():
    x, y = exploding_data()
    model = regression("sgd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(
            RuntimeError, match="NaN or Inf loss encountered at batch 3"
        ):
            model.fit(
                x,
                y,
                batch_size=8,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True)],
            )
    assert all(np.isfinite(w).all() for w in model.get_weights())
