"""The command line and the explain report on a functional model loaded from a ``.keras`` file:
``cnnlab summary / evaluate / predict / explain`` and ``explain.build_report`` (issue 13, item 7)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import cli, keras
from cnnlab.layers import clear_session

pytest.importorskip("h5py")


@pytest.fixture
def residual_mnist(tmp_path):
    """A small residual CNN for 28x28 digits (Conv, Conv, Add, pooling, Dense), trained a few steps, saved."""
    clear_session()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inputs = keras.Input((28, 28, 1), name="digit")
    a = L.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    b = L.Conv2D(4, 3, padding="same", activation="relu")(a)
    x = L.MaxPooling2D()(L.Add()([a, b]))
    outputs = L.Dense(10, activation="softmax")(L.Flatten()(x))
    model = keras.Model(inputs, outputs, name="residual_mnist")
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    (x_train, y_train), _ = keras.datasets.mnist.load_sample()
    model.fit(
        x_train[:256, :, :, None] / 255.0,
        y_train[:256],
        batch_size=32,
        epochs=1,
        verbose=0,
    )
    path = tmp_path / "residual.keras"
    model.save(path)
    clear_session()
    yield path
    clear_session()


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_summary_evaluate_and_predict_on_a_functional_file(
    residual_mnist, capsys, tmp_path
):
    code, out, err = run(capsys, "summary", residual_mnist)
    assert code == 0, err
    assert (
        'Model: "residual_mnist"' in out
        and "digit (InputLayer)" in out
        and "Connected to" in out
    )
    assert (
        "conv2d[0][0]" in out and "Trainable params: 8,038" in out
    )  # 40 + 148 + 14*14*4*10 + 10
    code, out, err = run(capsys, "evaluate", residual_mnist)
    assert code == 0, err
    accuracy = float(out.split("Test accuracy: ")[1].split(",")[0])
    assert 0.0 <= accuracy <= 1.0
    (_, _), (x_test, _) = keras.datasets.mnist.load_sample()
    from PIL import Image

    Image.fromarray(x_test[0]).save(tmp_path / "digit.png")
    code, out, err = run(capsys, "predict", residual_mnist, tmp_path / "digit.png")
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'digit.png'}: ") and "top 3" in out


def test_cli_explain_and_build_report_on_a_functional_file(
    residual_mnist, capsys, tmp_path
):
    pytest.importorskip("matplotlib")
    code, out, err = run(
        capsys, "explain", residual_mnist, "--out", tmp_path / "report"
    )
    assert code == 0, err
    assert (tmp_path / "report" / "report.html").exists()
    from cnnlab import explain

    model = keras.models.load_model(residual_mnist)
    (_, _), (x_test, y_test) = keras.datasets.mnist.load_sample()
    x = x_test[0][:, :, None] / 255.0
    report = explain.build_report(
        model, x, tmp_path / "again", label=int(y_test[0]), layer="add"
    )
    html = (tmp_path / "again" / "report.html").read_text(encoding="utf-8")
    assert "add" in html and report is not None
    expected = model.predict(x[None], verbose=0)[0]
    assert np.isclose(expected.sum(), 1.0, atol=1e-5)
