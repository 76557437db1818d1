"""The command line never reports success on a wrong answer (issue 12): a diverging run fails,
hyper-parameters are checked up front, every command says which data it read (``--data``, then
``CNNLAB_DATA``, then the Keras cache, then the sample), and bad model files say what they are."""

import json
import math
import re

import numpy as np
import pytest

from cnnlab import cli, keras
from cnnlab.data.mnist import load_sample
from cnnlab.errors import ShapeError
from cnnlab.keras.backend import clear_session
from cnnlab.model.divergence import StopOnDivergence

TINY = {
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 4, "kernel_size": 3, "activation": "relu"},
        },
        {"class_name": "MaxPool2D", "config": {"pool_size": 2}},
        {"class_name": "Flatten"},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
}


@pytest.fixture(autouse=True)
def fresh_layer_names():
    yield
    clear_session()


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_spec(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def strict_json(text):
    """``json.loads`` that refuses NaN and Infinity, as strict JSON readers do."""

    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def small_mnist(folder, n_train, n_test):
    (x, y), (xt, yt) = load_sample()
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(
        folder / "mnist.npz",
        x_train=x[:n_train],
        y_train=y[:n_train],
        x_test=xt[:n_test],
        y_test=yt[:n_test],
    )
    return folder


# --------------------------------------------------------------------------- item 7: divergence


@pytest.mark.parametrize(
    "options, named",
    [
        (["--learning-rate", "nan"], "--learning-rate"),
        (["--learning-rate", "-0.01"], "--learning-rate"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--learning-rate", "inf"], "--learning-rate"),
        (["--validation-split", "1.5"], "--validation-split"),
        (["--validation-split", "nan"], "--validation-split"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "-3"], "--batch-size"),
    ],
)
def test_invalid_hyper_parameters_are_refused_up_front(
    capsys, tmp_path, tiny_spec, options, named
):
    code, out, err = run(
        capsys, "train", "--spec", tiny_spec, "--out", tmp_path / "run", *options
    )
    assert code == 2 and named in err and "Traceback" not in err
    assert (
        "Epoch" not in out and not (tmp_path / "run").exists()
    )  # nothing trained, nothing written


def test_a_diverging_run_fails_keeps_the_last_good_weights_and_writes_strict_json(
    capsys, tmp_path, tiny_spec
):
    out_dir = tmp_path / "run"
    code, out, err = run(
        capsys,
        "train",
        "--spec",
        tiny_spec,
        "--epochs",
        2,
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e6",
        "--quiet",
        "--out",
        out_dir,
    )
    assert code == 1
    assert (
        "error: training diverged" in err
        and "exploded" in err
        and "smaller learning rate" in err
    )
    assert "Test accuracy" not in out and "Outputs in" not in out
    assert not (
        out_dir / "model.keras"
    ).exists()  # nothing that looks like a trained model
    history = strict_json((out_dir / "history.json").read_text())
    assert set(history) >= {"loss"}
    last_good = keras.models.load_model(str(out_dir / "last_good.keras"))
    assert all(np.isfinite(w).all() for w in last_good.get_weights())


def test_stop_on_divergence_restores_the_weights_from_before_a_nan_batch():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    guard = StopOnDivergence()
    guard.set_model(model)
    guard.on_train_begin()
    before = [w.copy() for w in model.get_weights()]
    guard.on_train_batch_begin(0)
    guard.on_train_batch_end(0, {"loss": 0.5})
    assert guard.diverged is None and not model.stop_training
    guard.on_train_batch_begin(1)
    model.weights[0][...] = np.nan  # what a bad update leaves
    guard.on_train_batch_end(1, {"loss": float("nan")})
    assert "became nan in epoch 1, batch 2" in guard.diverged and model.stop_training
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))


def test_history_json_is_strict():
    assert cli.strict_json_history({"loss": [1.5, math.nan, math.inf]}) == {
        "loss": [1.5, None, None]
    }
    json.dumps(cli.strict_json_history({"loss": [math.nan]}), allow_nan=False)


# --------------------------------------------------------------------------- item 8: which data


def test_evaluate_reads_cnnlab_data_and_says_so(
    capsys, tmp_path, tiny_spec, monkeypatch
):
    data = small_mnist(tmp_path / "mnist", 300, 64)
    assert (
        run(
            capsys,
            "train",
            "--spec",
            tiny_spec,
            "--epochs",
            1,
            "--quiet",
            "--out",
            tmp_path / "run",
        )[0]
        == 0
    )
    model = tmp_path / "run" / "model.keras"
    code, out, err = run(
        capsys, "evaluate", model
    )  # no data anywhere: the sample, said
    assert code == 0, err
    assert (
        "500 test images (the MNIST sample bundled with cnnlab" in out
        and "100%" not in out
    )
    monkeypatch.setenv("CNNLAB_DATA", str(data))
    code, out, err = run(capsys, "evaluate", model)
    assert code == 0, err
    assert f"64 test images (MNIST from $CNNLAB_DATA: {data})" in out
    assert re.search(r"\b2/2\b", out)  # 64 images at batch 32: 2 steps, not 16
    other = small_mnist(tmp_path / "other", 200, 40)
    code, out, err = run(
        capsys, "evaluate", model, "--data", other
    )  # --data beats the variable
    assert code == 0 and f"40 test images (MNIST from --data: {other})" in out
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "nowhere"))
    code, _, err = run(
        capsys, "evaluate", model
    )  # set but empty: an error, not the sample
    assert code == 2 and "CNNLAB_DATA=" in err and "nowhere" in err


def test_train_and_explain_read_the_keras_cache(
    capsys, tmp_path, tiny_spec, monkeypatch
):
    pytest.importorskip("matplotlib")
    home = tmp_path / "keras_home"
    small_mnist(home / "datasets", 120, 30)
    monkeypatch.setenv("KERAS_HOME", str(home))
    code, out, err = run(
        capsys,
        "train",
        "--spec",
        tiny_spec,
        "--epochs",
        1,
        "--quiet",
        "--out",
        tmp_path / "run",
    )
    assert code == 0, err
    cache = home / "datasets" / "mnist.npz"
    assert (
        f"120 training and 30 test images (MNIST from the Keras cache: {cache})" in out
    )
    code, out, err = run(
        capsys,
        "explain",
        tmp_path / "run" / "model.keras",
        "--out",
        tmp_path / "explain",
    )
    assert code == 0, err
    assert f"30 test images (MNIST from the Keras cache: {cache})" in out


# --------------------------------------------------------------------------- labels and model files


def test_evaluate_names_the_whole_labels_shape():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    x = np.zeros((64, 28, 28, 1), np.float32)
    y = np.zeros((64, 1, 1), np.int64)
    for call in (
        lambda: model.evaluate(x, y, verbose=0),
        lambda: model.fit(x, y, verbose=0),
    ):
        with pytest.raises(ShapeError) as info:
            call()
        message = str(info.value)
        assert (
            "(64, 1, 1)" in message
            and "(16, 1, 1)" not in message
            and "one-hot" not in message
        )
        assert "(N,) or (N, 1)" in message
    with pytest.raises(
        ShapeError, match="look one-hot"
    ):  # real one-hot labels are still called so
        model.evaluate(x, np.eye(10)[np.zeros(64, int)], verbose=0)


def test_bad_model_paths_say_what_they_are(capsys, tmp_path, tiny_spec):
    assert (
        run(
            capsys,
            "train",
            "--spec",
            tiny_spec,
            "--epochs",
            1,
            "--quiet",
            "--out",
            tmp_path / "run",
        )[0]
        == 0
    )
    good = (tmp_path / "run" / "model.keras").read_bytes()
    empty = tmp_path / "empty.keras"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(good[: len(good) // 2])
    text = tmp_path / "notes.keras"
    text.write_text("hello, not a model")
    cases = {
        tmp_path / "run": ("is a directory, not a model file", "it holds one"),
        empty: ("the file is empty (0 bytes)", "zip archive holding config.json"),
        truncated: ("cut short", "zip archive holding config.json"),
        text: ("text file", "zip archive holding config.json"),
    }
    for path, expected in cases.items():
        code, _, err = run(capsys, "evaluate", path)
        assert code == 2 and "Traceback" not in err, err
        assert str(path) in err and all(e in err for e in expected), err
        assert "no such model file" not in err
    with pytest.raises(Exception, match="cut short"):
        keras.models.load_model(str(truncated))


# --------------------------------------------------------------------------- sample pictures


def test_samples_writes_the_pictures_the_readme_uses(capsys, tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "samples")
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert (
        names == sorted(cli.SAMPLE_PICTURES + ["digit.png"])
        and "Wrote 13 pictures" in out
    )
    assert (tmp_path / "digit.png").read_bytes() == (
        tmp_path / "digit_7.png"
    ).read_bytes()
    (_, _), (xt, yt) = load_sample()
    for k in range(
        10
    ):  # the MNIST test digits themselves, as the bundled sample has them
        assert np.array_equal(
            np.asarray(Image.open(tmp_path / f"digit_{k}.png")),
            xt[np.flatnonzero(yt == k)[0]],
        )
    assert Image.open(tmp_path / "digit_transparent.png").mode == "RGBA"
    assert Image.open(tmp_path / "digit_photo.png").size == (320, 240)


def test_predict_refuses_a_model_with_nan_weights(capsys, tmp_path, tiny_spec):
    pytest.importorskip("PIL")
    assert (
        run(
            capsys,
            "train",
            "--spec",
            tiny_spec,
            "--epochs",
            1,
            "--quiet",
            "--out",
            tmp_path / "run",
        )[0]
        == 0
    )
    model = keras.models.load_model(str(tmp_path / "run" / "model.keras"))
    weights = model.get_weights()
    weights[0][...] = np.nan
    model.set_weights(weights)
    model.save(str(tmp_path / "nan.keras"))
    assert run(capsys, "samples", "--out", tmp_path)[0] == 0
    code, out, err = run(
        capsys, "predict", tmp_path / "nan.keras", tmp_path / "digit.png"
    )
    assert (
        code == 2
        and "non-finite outputs" in err
        and "36 of its weights are NaN" in err
        and "nan%" not in out
    )
