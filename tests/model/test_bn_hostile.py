"""BatchNormalization in hostile files and with nonsense arguments: each a clear error that
names the layer and the weight or argument, nothing loaded half-way."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session

h5py = pytest.importorskip("h5py")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_cases import h5_edit, replace_member  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def bn_model():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.random((8, 6, 6, 2)), rng.integers(0, 2, 8))
    return model


def member(data, name):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


@pytest.mark.parametrize("index, shape", [(2, (4,)), (3, (3, 1)), (0, ())])
def test_wrong_bn_weight_shape_in_a_keras_file(tmp_path, index, shape):
    bn_model().save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()

    def edit(f):
        path = f"layers/batch_normalization/vars/{index}"
        del f[path]
        f[path] = np.zeros(shape, dtype="float32")

    bad = replace_member(
        data, "model.weights.h5", h5_edit(member(data, "model.weights.h5"), edit)
    )
    (tmp_path / "bad.keras").write_bytes(bad)
    with pytest.raises(CnnlabError, match=r"'bn' \(BatchNormalization\)") as info:
        keras.models.load_model(tmp_path / "bad.keras")
    name = ["gamma", "beta", "moving_mean", "moving_variance"][index]
    assert name in str(info.value) and "(3,)" in str(info.value)

    clear_session()
    model = bn_model()
    weights_path = tmp_path / "bad.weights.h5"
    model.save_weights(tmp_path / "m.weights.h5")
    weights_path.write_bytes(h5_edit((tmp_path / "m.weights.h5").read_bytes(), edit))
    before = model.get_weights()
    with pytest.raises(CnnlabError, match=name):
        model.load_weights(weights_path)
    for a, b in zip(before, model.get_weights()):  # nothing loaded half-way
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "option, value, match",
    [
        ("momentum", 1.5, r"`momentum` must be a number in \[0, 1\]"),
        ("momentum", -1, r"`momentum` must be a number in \[0, 1\]"),
        ("momentum", "fast", r"`momentum` must be a number in \[0, 1\]"),
        ("epsilon", -0.001, r"`epsilon` must be a positive number"),
        ("axis", True, r"`axis` must hold integers"),
        ("axis", [1, 2], r"`axis` must be one integer"),
        ("renorm", True, r"renorm"),
        ("center", "no", r"`center` must be True or False"),
    ],
)
def test_nonsense_bn_options_in_a_config(tmp_path, option, value, match):
    bn_model().save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    config = json.loads(member(data, "config.json"))
    entry = next(
        e for e in config["config"]["layers"] if e["class_name"] == "BatchNormalization"
    )
    entry["config"][option] = value
    (tmp_path / "bad.keras").write_bytes(
        replace_member(data, "config.json", json.dumps(config).encode())
    )
    with pytest.raises(CnnlabError, match=match) as info:
        keras.models.load_model(tmp_path / "bad.keras")
    assert "'bn'" in str(info.value) and option in str(info.value)


@pytest.mark.parametrize(
    "value", ["wide", [0.1, 0.2, 0.3], 7, None, {"low": 0.1}, [0.1, True]]
)
def test_rotation_factor_of_the_wrong_form_in_a_file(tmp_path, value):
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.RandomRotation(0.1, name="spin"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    config = json.loads(member(data, "config.json"))
    entry = next(
        e for e in config["config"]["layers"] if e["class_name"] == "RandomRotation"
    )
    entry["config"]["factor"] = value
    (tmp_path / "bad.keras").write_bytes(
        replace_member(data, "config.json", json.dumps(config).encode())
    )
    with pytest.raises(
        CnnlabError, match=r"'spin'.*`factor` must be a number or a pair"
    ):
        keras.models.load_model(tmp_path / "bad.keras")
