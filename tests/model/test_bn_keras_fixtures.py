"""BatchNormalization against files written by real Keras 3.15.1 (scripts/make_bn_fixtures.py;
its ``--check`` mode is the reverse direction, a cnnlab file loaded in Keras: predictions within
3e-8, the weights after one more step within 1.2e-7). This test needs no Keras."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

pytest.importorskip("h5py")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
sys.path.insert(0, str(FIXTURES))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bn_models import bn_model  # noqa: E402
from test_keras_fixtures import (
    archive,
    comparable_layers,
    fresh_names,  # noqa: F401 (an autouse fixture: importing it applies it here)
    h5_layout,
    io_arrays,
)

#: The biases feeding BN directly (conv2d's, dense's): cnnlab's gradient there is exactly zero,
#: Keras's is float noise that Adam turns into steps of about 1e-4.
BIASES_INTO_BN = {1, 11}


def test_keras_bn_file_predicts_as_keras_in_inference_and_training_mode():
    data = io_arrays("bn_cnn")
    model = keras.models.load_model(FIXTURES / "bn_cnn.keras")
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), data["y"], rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(
        model(data["train_x"], training=True), data["train_out"], rtol=0, atol=1e-5
    )
    frozen = model.get_layer("frozen_bn")
    assert not frozen.trainable and frozen.weight_names == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]


def test_one_more_step_gives_keras_s_weights():
    """The training-mode forward, the backward through the batch statistics, the moving-average
    update (momentum 0.99 and 0.9) and the frozen BN left alone, against Keras's next step."""
    data = io_arrays("bn_cnn")
    model = keras.models.load_model(FIXTURES / "bn_cnn.keras")
    frozen_before = model.get_layer("frozen_bn").get_weights()
    model.train_on_batch(data["train_x"], data["train_y"])
    weights = model.get_weights()
    assert len(weights) == len([k for k in data if k.startswith("next_")]) == 22
    for i, w in enumerate(weights):
        atol = 1e-3 if i in BIASES_INTO_BN else 1e-6
        np.testing.assert_allclose(
            w, data[f"next_{i}"], rtol=1e-5, atol=atol, err_msg=f"weight {i}"
        )
    for before, after in zip(frozen_before, model.get_layer("frozen_bn").get_weights()):
        np.testing.assert_array_equal(before, after)


def test_summary_of_the_keras_bn_model_is_keras_s_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model = keras.models.load_model(FIXTURES / "bn_cnn.keras")
    lines = []
    model.summary(print_fn=lines.append)
    ours, theirs = (
        "".join(lines).splitlines(),
        (FIXTURES / "bn_cnn_summary.txt").read_text().splitlines(),
    )
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        if a.startswith((" Total params", " Optimizer params")):
            # The counts are the same; the bytes differ by Keras's `iterations` counter: int32 under the
            # torch backend that wrote the fixture, int64 (TensorFlow's, what cnnlab writes) here.
            assert a.split("(")[0] == b.split("(")[0]
        else:
            assert a == b
    assert "Non-trainable params: 68 (272.00 B)" in theirs[-2]


def test_saved_bn_model_has_keras_s_layout(tmp_path):
    _, _, keras_config, keras_h5 = archive(FIXTURES / "bn_cnn.keras")
    keras.models.load_model(FIXTURES / "bn_cnn.keras").save(tmp_path / "again.keras")
    _, _, config, h5 = archive(tmp_path / "again.keras")
    assert h5_layout(h5) == h5_layout(keras_h5)
    assert comparable_layers(config) == comparable_layers(keras_config)
    clear_session()
    built = bn_model(
        keras
    )  # built in cnnlab: the same configs, weights' paths and shapes
    data = io_arrays("bn_cnn")
    built.train_on_batch(data["train_x"], data["train_y"])
    built.save(tmp_path / "built.keras")
    _, _, config, h5 = archive(tmp_path / "built.keras")
    assert comparable_layers(config, names=False) == comparable_layers(
        keras_config, names=False
    )
    assert h5_layout(h5)[0] == h5_layout(keras_h5)[0]


def test_bn_with_transposed_and_separable_conv_round_trips_with_keras(tmp_path):
    """Keras's file (BN, Conv2DTranspose, SeparableConv2D, trained 2 steps): cnnlab predicts as Keras and
    one more step gives Keras's weights; re-saved, the file has Keras's layout and configs."""
    data = io_arrays("bn_tsep")
    model = keras.models.load_model(FIXTURES / "bn_tsep.keras")
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), data["y"], rtol=0, atol=1e-5
    )
    model.save(tmp_path / "again.keras")
    model.train_on_batch(data["train_x"], data["train_y"])
    weights = model.get_weights()
    assert len(weights) == len([k for k in data if k.startswith("next_")])
    for i, w in enumerate(weights):
        atol = (
            1e-3 if i == 6 else 1e-6
        )  # the transposed conv's bias feeds BN: Keras's float-noise drift
        np.testing.assert_allclose(
            w, data[f"next_{i}"], rtol=1e-5, atol=atol, err_msg=f"weight {i}"
        )
    _, _, keras_config, keras_h5 = archive(FIXTURES / "bn_tsep.keras")
    _, _, config, h5 = archive(tmp_path / "again.keras")
    assert h5_layout(h5) == h5_layout(keras_h5)
    assert comparable_layers(config) == comparable_layers(keras_config)
