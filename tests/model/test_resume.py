"""Resumable training: ``keras.callbacks.BackupAndRestore`` and ``cnnlab train --resume``.

The promise: a run that is interrupted (an exception, Ctrl-C, SIGKILL) and started again
with the same seed, data and batch size ends with weights equal, bit for bit, to those of
a run that was never interrupted, Dropout and the batch split across threads included.

The kill test runs ``resume_child.py`` in a subprocess, kills it with SIGKILL right after
it reports a step (while it computes or backs up the next one), restarts it, and compares
its final weights with an uninterrupted child's.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError, ShapeError
from cnnlab.layers import clear_session
from cnnlab.model import parallel
from cnnlab.saving import backup as backup_store

pytest.importorskip("safetensors")

CHILD = Path(__file__).with_name("resume_child.py")


# ---- helpers ----------------------------------------------------------------------
def make_model(seed=0, optimizer="adam", dropout=0.3, units=5):
    keras.utils.set_random_seed(seed)
    clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(units, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def data(n=100, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype("float32"), rng.integers(0, 5, n)


class Interrupt(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    """Raise after the ``n``-th batch of the run (counted across epochs)."""

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            raise Interrupt(f"after batch {self.n}")


FIT = dict(
    batch_size=16, epochs=3, verbose=0, validation_split=0.2
)  # 80 samples: 5 batches per epoch


def same(a, b):
    return len(a) == len(b) and all(
        u.dtype == v.dtype and np.array_equal(u, v) for u, v in zip(a, b)
    )


@pytest.fixture(scope="module")
def reference():
    x, y = data()
    model = make_model()
    history = model.fit(x, y, **FIT)
    return model.get_weights(), history.history, model.optimizer.iterations


@pytest.fixture(autouse=True)
def fresh_names():
    yield
    clear_session()


def interrupted_then_resumed(tmp_path, save_freq, interrupt_after, fit=FIT, **make):
    x, y = data()
    backup_dir = tmp_path / "backup"
    model = make_model(**make)
    with pytest.raises(Interrupt):
        model.fit(
            x,
            y,
            **fit,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq),
                InterruptAfter(interrupt_after),
            ],
        )
    model = make_model(**make)  # a fresh process would start like this
    callback = keras.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq)
    history = model.fit(x, y, **fit, callbacks=[callback])
    return model, history.history, callback


# ---- bit for bit ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "save_freq, interrupt_after, resumed_at",
    [
        ("epoch", 3, None),  # before the first backup: starts over
        ("epoch", 7, (1, 0)),  # mid-epoch 2: back to the end of epoch 1
        ("epoch", 15, (2, 0)),  # in the last epoch
        (1, 1, (0, 1)),
        (1, 5, (0, 5)),  # the last batch of an epoch, before validation
        (1, 9, (1, 4)),
        (3, 4, (0, 3)),
        (3, 14, (2, 2)),  # backups after batches 3, 6, 9, 12
    ],
    ids=lambda v: str(v),
)
def test_resumed_run_equals_uninterrupted_bit_for_bit(
    tmp_path, reference, save_freq, interrupt_after, resumed_at
):
    ref_weights, ref_history, ref_iterations = reference
    model, history, callback = interrupted_then_resumed(
        tmp_path, save_freq, interrupt_after
    )
    assert same(model.get_weights(), ref_weights)
    assert model.optimizer.iterations == ref_iterations
    point = callback.restored_from
    assert (None if point is None else (point.epoch, point.step)) == resumed_at
    # The epochs run after the resume report what the uninterrupted run reported, the
    # interrupted epoch included (its running loss and metric sums were backed up too).
    for key, values in history.items():
        assert values == ref_history[key][-len(values) :], key
    assert not (tmp_path / "backup").exists(), (
        "the backup is deleted at the end of a successful fit"
    )


@pytest.mark.parametrize("threads", [1, 2])
def test_resume_is_exact_with_the_batch_split_across_threads(tmp_path, threads):
    """``parallel.split`` cuts a batch by the thread count; each part's dropout stream is drawn
    from the library-wide generator, whose state is backed up. Same threads, same result."""
    pytest.importorskip("threadpoolctl")
    before = parallel._settings["threads"]
    parallel.set_num_threads(threads)
    try:
        fit = {**FIT, "batch_size": 32}
        assert len(parallel.split(32)) == threads
        x, y = data()
        model = make_model()
        model.fit(x, y, **fit)
        expected = model.get_weights()
        model, _, callback = interrupted_then_resumed(tmp_path, 1, 4, fit=fit)
        assert callback.restored_from.step == 1 and same(model.get_weights(), expected)
    finally:
        parallel.set_num_threads(before)


def test_resuming_with_another_thread_count_warns(tmp_path):
    before = parallel._settings["threads"]
    try:
        parallel.set_num_threads(1)
        x, y = interrupted_backup(tmp_path)
        parallel.set_num_threads(3)
        with pytest.warns(UserWarning, match="taken with 1 threads, this run has 3"):
            make_model().fit(
                x, y, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)]
            )
    finally:
        parallel.set_num_threads(before)


@pytest.mark.parametrize(
    "optimizer",
    [
        "sgd",
        "rmsprop",
        "adagrad",
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    ],
    ids=["sgd", "rmsprop", "adagrad", "nesterov"],
)
def test_every_optimizer_resumes_exactly(tmp_path, optimizer):
    make = lambda: optimizer() if callable(optimizer) else optimizer  # noqa: E731
    x, y = data()
    model = make_model(optimizer=make())
    model.fit(x, y, **FIT)
    expected = model.get_weights()
    model, _, _ = interrupted_then_resumed(tmp_path, 2, 7, optimizer=make())
    assert same(model.get_weights(), expected)


def test_shuffle_false_and_no_dropout(tmp_path):
    fit = {**FIT, "shuffle": False}
    x, y = data()
    model = make_model(dropout=0.0)
    model.fit(x, y, **fit)
    expected = model.get_weights()
    model, _, _ = interrupted_then_resumed(tmp_path, 1, 8, fit=fit, dropout=0.0)
    assert same(model.get_weights(), expected)


# ---- the backup file ----------------------------------------------------------------
def test_the_backup_is_one_safetensors_file_with_everything(tmp_path):
    from safetensors.numpy import load_file

    x, y = data()
    model = make_model()
    with pytest.raises(Interrupt):
        model.fit(
            x,
            y,
            **FIT,
            callbacks=[
                keras.callbacks.BackupAndRestore(tmp_path, save_freq=1),
                InterruptAfter(7),
            ],
        )
    assert sorted(os.listdir(tmp_path)) == ["backup.safetensors"]
    tensors = load_file(tmp_path / "backup.safetensors")
    assert {
        "weights/conv2d/kernel",
        "weights/conv2d/bias",
        "weights/dense/kernel",
        "weights/dense/bias",
        "optimizer/momentum/0",
        "optimizer/velocity/3",
        "order",
    } <= set(tensors)
    assert np.array_equal(np.sort(tensors["order"]), np.arange(80))
    assert np.array_equal(
        tensors["weights/dense/kernel"], model.get_layer("dense").get_weights()[0]
    )
    with open(tmp_path / "backup.safetensors", "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    meta = header["__metadata__"]
    assert meta["format"] == "cnnlab-backup"
    state = json.loads(meta["state"])
    assert (state["epoch"], state["step"], state["steps"], state["seen"]) == (
        1,
        2,
        5,
        32,
    )
    assert (
        state["optimizer"]["iterations"] == 7
        and state["optimizer"]["class_name"] == "Adam"
    )
    assert state["rng"]["global"]["bit_generator"] == "PCG64" and set(
        state["rng"]["layers"]
    ) == {"dropout"}


def test_delete_checkpoint_false_keeps_the_backup_and_a_finished_run_does_not_train_again(
    tmp_path,
):
    x, y = data()
    model = make_model()
    model.fit(
        x,
        y,
        **FIT,
        callbacks=[
            keras.callbacks.BackupAndRestore(tmp_path / "b", delete_checkpoint=False)
        ],
    )
    assert (tmp_path / "b" / "backup.safetensors").exists()
    weights = model.get_weights()
    again = make_model()
    history = again.fit(
        x, y, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path / "b")]
    )
    assert history.history == {} and same(
        again.get_weights(), weights
    )  # as Keras: epochs already done
    assert not (tmp_path / "b").exists()


def test_only_its_own_files_are_deleted(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / ".backup.safetensors.abc123.tmp").write_bytes(b"left by a killed save")
    x, y = data()
    make_model().fit(
        x, y, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path, save_freq=2)]
    )
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path, reference):
    x, y = data()
    model = make_model()
    with pytest.raises(Interrupt):
        model.fit(
            x,
            y,
            **FIT,
            callbacks=[
                keras.callbacks.BackupAndRestore(
                    tmp_path, save_freq=1, double_checkpoint=True
                ),
                InterruptAfter(6),
            ],
        )
    assert sorted(os.listdir(tmp_path)) == [
        "backup.previous.safetensors",
        "backup.safetensors",
    ]
    data_ = (tmp_path / "backup.safetensors").read_bytes()
    (tmp_path / "backup.safetensors").write_bytes(data_[: len(data_) // 2])  # damaged
    model = make_model()
    callback = keras.callbacks.BackupAndRestore(
        tmp_path, save_freq=1, double_checkpoint=True
    )
    model.fit(x, y, **FIT, callbacks=[callback])
    assert (callback.restored_from.epoch, callback.restored_from.step) == (
        0,
        5,
    )  # the previous: after batch 5
    assert same(model.get_weights(), reference[0])


# ---- refusals -------------------------------------------------------------------------
def interrupted_backup(tmp_path, n=7):
    x, y = data()
    with pytest.raises(Interrupt):
        make_model().fit(
            x,
            y,
            **FIT,
            callbacks=[
                keras.callbacks.BackupAndRestore(tmp_path, save_freq=1),
                InterruptAfter(n),
            ],
        )
    return x, y


def test_a_backup_of_another_model_is_refused_naming_the_layer(tmp_path):
    x, y = interrupted_backup(tmp_path)
    other = make_model(units=7)
    with pytest.raises(ShapeError, match=r"'dense'.*\(36, 7\).*\(36, 5\)"):
        other.fit(
            x, y % 5, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)]
        )
    assert (tmp_path / "backup.safetensors").exists(), "a refused backup is kept"


def test_another_optimizer_is_refused(tmp_path):
    x, y = interrupted_backup(tmp_path)
    with pytest.raises(CnnlabError, match="optimizer Adam.*SGD"):
        make_model(optimizer="sgd").fit(
            x, y, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)]
        )


@pytest.mark.parametrize("change", ["batch_size", "samples"])
def test_mid_epoch_resume_with_other_data_or_batch_size_is_refused(tmp_path, change):
    x, y = interrupted_backup(tmp_path)
    fit = dict(FIT)
    if change == "batch_size":
        fit["batch_size"] = 8
    else:
        x, y = x[:90], y[:90]
    with pytest.raises(CnnlabError, match="same data and batch_size"):
        make_model().fit(
            x, y, **fit, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)]
        )


@pytest.mark.parametrize(
    "damage", ["truncated", "not_a_backup", "bad_state", "bad_rng", "bad_order"]
)
def test_a_damaged_backup_is_a_clear_error(tmp_path, damage):
    from safetensors.numpy import load_file, save_file

    x, y = interrupted_backup(tmp_path)
    path = tmp_path / "backup.safetensors"
    with open(path, "rb") as f:
        meta = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    tensors = load_file(path)
    state = json.loads(meta["state"])
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "not_a_backup":
        save_file(tensors, path, metadata={"format": "cnnlab"})
    elif damage == "bad_state":
        state["epoch"] = -1
        save_file(tensors, path, metadata={**meta, "state": json.dumps(state)})
    elif damage == "bad_rng":
        state["rng"]["global"] = {"bit_generator": "MT19937", "state": {}}
        save_file(tensors, path, metadata={**meta, "state": json.dumps(state)})
    else:
        tensors["order"][:2] = 0
        save_file(tensors, path, metadata=meta)
    model = make_model()
    before = model.get_weights()
    with pytest.raises(CnnlabError, match="backup"):
        model.fit(x, y, **FIT, callbacks=[keras.callbacks.BackupAndRestore(tmp_path)])
    assert same(model.get_weights(), before), "nothing is changed by a refused backup"


def test_arguments_are_checked_as_keras_does(tmp_path):
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        keras.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(tmp_path, save_freq="batch")
    clear_session()
    model = keras.Sequential([keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    callback = keras.callbacks.BackupAndRestore(tmp_path)
    callback.set_model(model)
    with pytest.raises(ValueError, match="must be built"):
        callback.on_train_begin()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_poisoned_state_never_replaces_a_good_backup(tmp_path):
    """After batch 1 (the second) a weight turns NaN; from then on nothing is backed up."""
    x, y = data()
    model = make_model(dropout=0.0)

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                model.get_layer("dense").weights[1][0] = np.nan

    with pytest.warns(UserWarning, match="not backing this state up"):
        with pytest.raises(Interrupt):
            model.fit(
                x,
                y,
                **FIT,
                callbacks=[
                    Poison(),
                    keras.callbacks.BackupAndRestore(tmp_path, save_freq=1),
                    InterruptAfter(4),
                ],
            )
    fresh = make_model(dropout=0.0)
    apply, point, _ = backup_store.read(tmp_path / "backup.safetensors", fresh)
    assert (point.epoch, point.step) == (0, 1)
    apply()
    assert all(np.isfinite(w).all() for w in fresh.get_weights())


# ---- the kill test ------------------------------------------------------------------
def child(backup_dir, out, every=1):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            str(CHILD),
            str(backup_dir),
            str(out),
            "--backup-every",
            str(every),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run_to_end(backup_dir, out):
    proc = child(backup_dir, out)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    return stdout


def kill_after(backup_dir, out, step):
    """Start the child and SIGKILL it as soon as it has reported ``step``; returns the last step read."""
    proc = child(backup_dir, out)
    last = None
    try:
        for line in proc.stdout:
            if line.startswith("step "):
                last = int(line.split()[1])
                if last >= step:
                    proc.send_signal(signal.SIGKILL)
                    break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, (
        f"the child was not killed mid-run: {proc.stderr.read()}"
    )
    return last


def final_weights(path):
    from safetensors.numpy import load_file

    tensors = load_file(path)
    return [tensors[str(i)] for i in range(len(tensors))]


def last_epoch_loss(stdout):
    return [line for line in stdout.splitlines() if line.startswith("loss ")][
        0
    ].split()[-1]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_with_sigkill_mid_epoch_and_restarted_ends_bit_for_bit_equal(tmp_path):
    """Three kill points, drawn at random (seeded; CNNLAB_KILL_SEED picks others) from the 60
    steps of the child's run, none at an epoch boundary; the last point is killed twice."""
    seed = int(os.environ.get("CNNLAB_KILL_SEED", "20240607"))
    steps = [s for s in range(2, 56) if s % 20]
    points = sorted(random.Random(seed).sample(steps, 3))
    expected_out = tmp_path / "uninterrupted.safetensors"
    expected_log = run_to_end(tmp_path / "unused", expected_out)
    expected = final_weights(expected_out)
    for i, point in enumerate(points):
        backup_dir, out = tmp_path / f"backup{i}", tmp_path / f"resumed{i}.safetensors"
        killed_at = kill_after(backup_dir, out, point)
        assert (backup_dir / "backup.safetensors").exists() and not out.exists()
        if i == len(points) - 1:  # kill the resumed run too
            killed_at = kill_after(backup_dir, out, min(killed_at + 3, 58))
        log = run_to_end(backup_dir, out)
        resumed = [line for line in log.splitlines() if line.startswith("resumed ")]
        assert resumed, (
            f"the restarted run did not resume (killed after step {killed_at})"
        )
        epoch, step = map(int, resumed[0].split()[1:])
        assert (
            epoch * 20 + step >= killed_at - 1
        )  # it lost at most the batch being computed
        assert same(final_weights(out), expected), (
            f"kill point {point}: final weights differ"
        )
        assert last_epoch_loss(log) == last_epoch_loss(expected_log)
        assert not backup_dir.exists()


# ---- the command line -------------------------------------------------------------
TINY = {
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 2, "kernel_size": 3, "activation": "relu"},
        },
        {"class_name": "MaxPool2D", "config": {"pool_size": 2}},
        {"class_name": "Flatten"},
        {"class_name": "Dropout", "config": {"rate": 0.2}},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
}


def test_cli_train_resume(tmp_path, capsys, monkeypatch):
    from cnnlab import cli
    from cnnlab.data.mnist import load_sample
    from cnnlab.model.callbacks import BackupAndRestore

    (x, y), (xt, yt) = load_sample()
    np.savez(
        tmp_path / "mnist.npz",
        x_train=x[:200],
        y_train=y[:200],
        x_test=xt[:20],
        y_test=yt[:20],
    )
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY))
    args = [
        "train",
        "--data",
        str(tmp_path / "mnist.npz"),
        "--spec",
        str(spec),
        "--epochs",
        "2",
        "--quiet",
        "--batch-size",
        "20",
        "--validation-split",
        "0",
    ]

    assert cli.main(args + ["--out", str(tmp_path / "plain")]) == 0
    expected = keras.models.load_model(tmp_path / "plain" / "model.keras").get_weights()

    calls = {"n": 0}
    original = BackupAndRestore.on_train_batch_end

    def interrupt_after_13(self, batch, logs=None):
        original(self, batch, logs)
        calls["n"] += 1
        if calls["n"] == 13:
            raise KeyboardInterrupt

    monkeypatch.setattr(BackupAndRestore, "on_train_batch_end", interrupt_after_13)
    resume = [
        "--resume",
        str(tmp_path / "bk"),
        "--backup-every",
        "1",
        "--out",
        str(tmp_path / "resumed"),
    ]
    assert cli.main(args + resume) == 130  # "interrupted"
    monkeypatch.setattr(BackupAndRestore, "on_train_batch_end", original)
    capsys.readouterr()
    assert cli.main(args + resume) == 0
    out = capsys.readouterr().out
    assert (
        "Resuming from the backup in" in out and "epoch 2, after 3 batches of it" in out
    )
    assert same(
        keras.models.load_model(tmp_path / "resumed" / "model.keras").get_weights(),
        expected,
    )
    assert not (tmp_path / "bk").exists()
    assert cli.main(["train", "--backup-every", "5", "--out", str(tmp_path)]) == 2
    assert "--backup-every needs --resume" in capsys.readouterr().err
