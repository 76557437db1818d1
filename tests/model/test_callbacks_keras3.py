"""Issue 16 (callbacks) and issue 12 item 4: hooks called as Keras calls them, ReduceLROnPlateau,
LearningRateScheduler, CSVLogger, TensorBoard, the learning rate in history and the progress bar,
and fit's remaining arguments."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.model import data_adapter

C = keras.callbacks


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, n)


def model(optimizer=None):
    keras.backend.clear_session()
    keras.utils.set_random_seed(5)
    m = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    m.compile(
        optimizer=optimizer or keras.optimizers.SGD(0.1),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return m


# --------------------------------------------------------------------------- issue 12 item 4: the hooks


class Recorder(C.Callback):
    """Every hook written without a default for logs, as Keras allows; on_batch_* only (not on_train_batch_*)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, name, logs):
        assert isinstance(logs, dict), f"{name} got logs={logs!r}"
        self.calls.append(name)

    def on_train_begin(self, logs):
        self._log("train_begin", logs)

    def on_train_end(self, logs):
        self._log("train_end", logs)

    def on_epoch_begin(self, epoch, logs):
        self._log("epoch_begin", logs)

    def on_epoch_end(self, epoch, logs):
        self._log("epoch_end", logs)

    def on_batch_begin(self, batch, logs):
        self._log("batch_begin", logs)

    def on_batch_end(self, batch, logs):
        self._log("batch_end", logs)

    def on_test_begin(self, logs):
        self._log("test_begin", logs)

    def on_test_end(self, logs):
        self._log("test_end", logs)

    def on_test_batch_begin(self, batch, logs):
        self._log("test_batch_begin", logs)

    def on_test_batch_end(self, batch, logs):
        self._log("test_batch_end", logs)

    def on_predict_begin(self, logs):
        self._log("predict_begin", logs)

    def on_predict_end(self, logs):
        self._log("predict_end", logs)

    def on_predict_batch_begin(self, batch, logs):
        self._log("predict_batch_begin", logs)

    def on_predict_batch_end(self, batch, logs):
        self._log("predict_batch_end", logs)


def test_every_hook_gets_logs_and_on_batch_hooks_are_called():
    x, y = data(16)
    m, rec = model(), Recorder()
    m.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        validation_data=(x[:8], y[:8]),
        callbacks=[rec],
    )
    assert rec.calls == [
        "train_begin",
        "epoch_begin",
        "batch_begin",
        "batch_end",
        "batch_begin",
        "batch_end",
        "test_begin",
        "test_batch_begin",
        "test_batch_end",
        "test_end",
        "epoch_end",
        "train_end",
    ]
    rec.calls.clear()
    m.evaluate(x, y, batch_size=16, verbose=0, callbacks=[rec])
    assert rec.calls == ["test_begin", "test_batch_begin", "test_batch_end", "test_end"]
    rec.calls.clear()
    m.predict(x, batch_size=16, verbose=0, callbacks=[rec])
    assert rec.calls == [
        "predict_begin",
        "predict_batch_begin",
        "predict_batch_end",
        "predict_end",
    ]


def test_batch_logs_reach_on_batch_end_and_predict_outputs_reach_on_predict_batch_end():
    x, y = data(16)
    seen, outputs = [], []
    cb = C.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(sorted(logs))
    )

    class Outputs(C.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            outputs.append(logs["outputs"].shape)

    m = model()
    m.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    assert seen == [["accuracy", "loss"]] * 2
    m.predict(x, batch_size=8, verbose=0, callbacks=[Outputs()])
    assert outputs == [(8, 3), (8, 3)]


def test_history_comes_after_user_callbacks_as_in_keras():
    x, y = data(16)
    recorded = []
    cb = C.LambdaCallback(
        on_epoch_end=lambda epoch, logs: recorded.append(
            len(m.history.history.get("loss", []))
        )
    )
    m = model()
    m.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert recorded == [
        0,
        1,
    ]  # History has not yet seen the epoch the user callback sees


# --------------------------------------------------------------------------- ReduceLROnPlateau


class FeedLoss(C.Callback):
    """Puts a constructed val_loss into the epoch's logs before the callbacks after it read them."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


def test_reduce_lr_on_plateau_reduces_at_the_epochs_keras_would():
    # Worked by hand from keras/src/callbacks/reduce_lr_on_plateau.py (min mode, improvement means
    # current < best - 0.1): reductions at the end of epochs 2, 5, 9, 11 (the last one clamped at min_lr 0.01);
    # epochs 13 and 14 would reduce but the rate is already at min_lr, so no cooldown starts either.
    losses = [
        1.0,
        0.95,
        0.92,
        0.80,
        0.79,
        0.78,
        0.77,
        0.5,
        0.49,
        0.48,
        0.47,
        0.46,
        0.45,
        0.44,
        0.43,
    ]
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 4 + [0.0125] * 2 + [0.01] * 3
    x, y = data(8)
    m = model(keras.optimizers.SGD(0.1))
    used = []
    spy = C.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: used.append(m.optimizer.learning_rate)
    )
    rl = C.ReduceLROnPlateau(
        monitor="val_loss",
        factor=0.5,
        patience=2,
        cooldown=1,
        min_delta=0.1,
        min_lr=0.01,
    )
    history = m.fit(
        x,
        y,
        batch_size=8,
        epochs=len(losses),
        verbose=0,
        callbacks=[FeedLoss(losses), rl, spy],
    )
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    np.testing.assert_allclose(
        used, expected, rtol=1e-6
    )  # the rate the epoch's updates used
    assert history.history["learning_rate"][0] == float(
        np.float32(0.1)
    )  # Keras logs the float32 value


def test_reduce_lr_on_plateau_cooldown_and_mode_max():
    # mode max, patience 1, cooldown 2: reduce at the end of epoch 1 (counter = 2). Epoch 2: the counter drops to
    # 1, still in cooldown, nothing. Epoch 3: it drops to 0 *before* the check, so the epoch already counts:
    # wait 1 -> reduce again. (Keras's counting: a cooldown of 2 blocks one epoch.)
    accs = [0.5, 0.5, 0.4, 0.4, 0.4, 0.4]
    x, y = data(8)
    m = model(keras.optimizers.SGD(1.0))

    class Feed(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_acc"] = accs[epoch]

    rl = C.ReduceLROnPlateau(
        monitor="val_acc", mode="max", factor=0.1, patience=1, cooldown=2, min_delta=0.0
    )
    h = m.fit(x, y, batch_size=8, epochs=6, verbose=0, callbacks=[Feed(), rl])
    np.testing.assert_allclose(
        h.history["learning_rate"], [1.0, 1.0, 0.1, 0.1, 0.01, 0.01], rtol=1e-6
    )


def test_reduce_lr_on_plateau_arguments():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.0)
    x, y = data(8)
    m = model()
    with pytest.warns(UserWarning, match="val_loss"):
        m.fit(
            x, y, batch_size=8, epochs=1, verbose=0, callbacks=[C.ReduceLROnPlateau()]
        )


# --------------------------------------------------------------------------- LearningRateScheduler


def test_learning_rate_scheduler_sets_the_rate_each_epoch_and_logs_it():
    x, y = data(8)
    m = model(keras.optimizers.SGD(0.2))
    h = m.fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        verbose=0,
        callbacks=[
            C.LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
        ],
    )
    np.testing.assert_allclose(
        h.history["learning_rate"], [0.2, 0.2, 0.1, 0.05], rtol=1e-6
    )
    # Keras's one-argument form, and a result that is not a float.
    h = model().fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[C.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))],
    )
    np.testing.assert_allclose(h.history["learning_rate"], [0.01, 0.02], rtol=1e-6)
    with pytest.raises(ValueError, match="should be a float"):
        model().fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[C.LearningRateScheduler(lambda epoch, lr: "x")],
        )


def test_a_schedule_driven_rate_cannot_be_reduced_as_in_keras():
    x, y = data(8)
    m = model(
        keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 1, 0.5))
    )
    with pytest.raises(TypeError, match="not settable"):
        m.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[C.LearningRateScheduler(lambda epoch, lr: 0.1)],
        )


# --------------------------------------------------------------------------- CSVLogger


def test_csv_logger_writes_keras_rows_and_appends(tmp_path):
    x, y = data(16)
    path = tmp_path / "log.csv"
    m = model()
    h = m.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        verbose=0,
        callbacks=[C.CSVLogger(path, separator=";")],
    )
    text = path.read_bytes().decode()
    lines = text.split("\r\n")
    assert (
        lines[0] == "epoch;accuracy;loss;val_accuracy;val_loss"
    )  # val_ columns added, as Keras does
    assert lines[1] == f"0;{h.history['accuracy'][0]};{h.history['loss'][0]};NA;NA"
    assert lines[2].startswith("1;") and lines[3] == ""
    m.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[C.CSVLogger(path, separator=";", append=True)],
    )
    lines = path.read_bytes().decode().split("\r\n")
    assert (
        len(lines) == 5 and lines[3].startswith("0;") and lines.count(lines[0]) == 1
    )  # no second header


# --------------------------------------------------------------------------- TensorBoard


def test_tensorboard_log_is_read_back_by_tensorboards_reader(tmp_path):
    ea_mod = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    x, y = data(32)
    m = model()
    tb = C.TensorBoard(
        tmp_path / "logs", histogram_freq=1, write_images=True, update_freq=2
    )
    h = m.fit(
        x,
        y,
        batch_size=8,
        epochs=3,
        verbose=0,
        validation_data=(x[:8], y[:8]),
        callbacks=[tb],
    )

    def load(sub):
        acc = ea_mod.EventAccumulator(
            str(tmp_path / "logs" / sub),
            size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0},
        )
        acc.Reload()
        return acc

    train, val = load("train"), load("validation")
    for key in ("loss", "accuracy"):
        events = train.Scalars(f"epoch_{key}")
        assert [e.step for e in events] == [0, 1, 2]
        np.testing.assert_allclose([e.value for e in events], h.history[key], rtol=1e-6)
        np.testing.assert_allclose(
            [e.value for e in val.Scalars(f"epoch_{key}")],
            h.history[f"val_{key}"],
            rtol=1e-6,
        )
    np.testing.assert_allclose(
        [e.value for e in train.Scalars("epoch_learning_rate")], [0.1] * 3, rtol=1e-6
    )
    assert [e.step for e in train.Scalars("batch_loss")] == [
        2,
        4,
        6,
        8,
        10,
        12,
    ]  # every 2nd batch
    assert [e.step for e in val.Scalars("evaluation_loss_vs_iterations")] == [4, 8, 12]
    tags = train.Tags()
    kernel = [layer for layer in m.layers if layer.weights][0]
    hist = train.Histograms(f"{kernel.name}/kernel/histogram")
    assert [e.step for e in hist] == [0, 1, 2]
    assert hist[-1].histogram_value.num == kernel.weights[0].size
    assert hist[-1].histogram_value.max == pytest.approx(float(kernel.weights[0].max()))
    images = [t for t in tags["images"] if t.startswith(f"{kernel.name}/kernel/image/")]
    assert (
        len(images) == 2
    )  # (3, 3, 1, 2) -> two 3x3 filters (tf.summary.image keeps 3)
    image = train.Images(images[0])[-1]
    assert (image.width, image.height) == (3, 3)
    assert "keras" in tags["tensors"]  # the model config for the graph dashboard


def test_tensorboard_refuses_what_cnnlab_does_not_do(tmp_path):
    pytest.importorskip("tensorboard")
    with pytest.raises(CnnlabError, match="profile_batch"):
        C.TensorBoard(tmp_path, profile_batch=2)
    with pytest.raises(CnnlabError, match="embeddings_freq"):
        C.TensorBoard(tmp_path, embeddings_freq=1)


# --------------------------------------------------------------------------- the progress bar


def run_printed(**fit_kwargs):
    x, y = data(16)
    m = model()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        m.fit(x, y, batch_size=8, **fit_kwargs)
    return out.getvalue()


def test_learning_rate_in_the_progress_bar_last_and_in_keras_format():
    text = run_printed(
        epochs=2,
        verbose=1,
        validation_data=data(8, seed=1),
        callbacks=[C.ReduceLROnPlateau(patience=5)],
    )
    last = [line for line in text.splitlines() if line.startswith("2/2")][-1]
    keys = [part.split(":")[0] for part in last.split(" - ")[1:]]
    assert keys == ["accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"]
    assert last.endswith("learning_rate: 0.1000")


def test_verbose_2_prints_one_line_per_epoch():
    text = run_printed(epochs=2, verbose=2)
    lines = [line for line in text.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("Epoch")] == [
        "Epoch 1/2",
        "Epoch 2/2",
    ]
    epoch_lines = [line for line in lines if not line.startswith("Epoch")]
    assert len(epoch_lines) == 2 and all(
        line.startswith("2/2 - ") and "/step - accuracy: " in line
        for line in epoch_lines
    )
    assert "━" not in text


def test_progbar_formats_small_values_as_keras():
    from cnnlab.model.progress import format_value

    assert format_value(0.001) == "1.0000e-03" and format_value(0.0011) == "0.0011"
    assert format_value(0.0) == "0.0000e+00" and format_value(-0.5) == "-0.5000"
    assert (
        format_value(-0.5, verbose=2) == "-5.0000e-01"
    )  # Keras's one-line form compares the signed value


# --------------------------------------------------------------------------- fit's remaining arguments


def test_initial_epoch_continues_the_numbering():
    x, y = data(8)
    m = model()
    h = m.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, verbose=0)
    assert h.epoch == [2, 3] and len(h.history["loss"]) == 2
    assert m.optimizer.iterations == 2
    text = run_printed(epochs=3, initial_epoch=2, verbose=2)
    assert "Epoch 3/3" in text and "Epoch 1/3" not in text
    with pytest.raises(CnnlabError, match="initial_epoch"):
        m.fit(x, y, epochs=2, initial_epoch=-1, verbose=0)


@pytest.mark.parametrize("freq, validated", [(2, [1, 3]), ([1, 4], [0, 3])])
def test_validation_freq_int_or_list(freq, validated):
    x, y = data(8)
    epochs_seen = []
    spy = C.LambdaCallback(
        on_epoch_end=lambda epoch, logs: (
            "val_loss" in logs and epochs_seen.append(epoch)
        )
    )
    model().fit(
        x,
        y,
        batch_size=8,
        epochs=4,
        verbose=0,
        validation_data=(x, y),
        validation_freq=freq,
        callbacks=[spy],
    )
    assert epochs_seen == validated


def test_bad_fit_arguments_are_refused():
    x, y = data(8)
    m = model()
    with pytest.raises(ValueError, match="validation_freq"):
        m.fit(
            x, y, epochs=1, verbose=0, validation_data=(x, y), validation_freq="often"
        )
    with pytest.raises(CnnlabError, match="shuffle"):
        m.fit(x, y, epochs=1, verbose=0, shuffle="yes")


def test_shuffle_batch_keeps_the_batches_and_shuffles_inside_them():
    rng = np.random.default_rng(0)
    order = data_adapter.epoch_order(rng, 10, 4, "batch")
    assert (
        sorted(order[:4]) == [0, 1, 2, 3]
        and sorted(order[4:8]) == [4, 5, 6, 7]
        and sorted(order[8:]) == [8, 9]
    )
    assert not np.array_equal(order, np.arange(10)) or not np.array_equal(
        data_adapter.epoch_order(rng, 10, 4, "batch"), np.arange(10)
    )
    x, y = data(16)
    a, b = model(), model()
    a.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle="batch")
    b.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for u, v in zip(
        a.get_weights(), b.get_weights()
    ):  # the same batches: the same updates (up to rounding)
        np.testing.assert_allclose(u, v, atol=1e-6)
