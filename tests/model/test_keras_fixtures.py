"""Files written by real Keras 3 (tests/fixtures/keras/, made once by scripts/make_keras_fixtures.py
with Keras 3.15.1; this test needs no Keras).

* cnnlab loads each ``.keras`` file and predicts what Keras predicted (within 1e-5);
* the optimizer state comes along: one more ``train_on_batch`` in cnnlab gives the weights Keras
  had after the same step (Adam, and RMSprop with momentum, whose slots Keras groups);
* a file cnnlab writes has Keras's structure: the same zip members (stored, in the same order),
  the same HDF5 datasets (paths, shapes, dtypes) and group names, and the same layer configs --
  both for a model loaded from Keras and re-saved, and for the same architecture built in cnnlab.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
sys.path.insert(0, str(FIXTURES))
from fixture_models import conv1d_model  # noqa: E402  (the architecture the fixture script used)

NAMES = [
    "seed004",
    "conv1d",
    "rmsprop_cnn",
    "conv_variants",
    "causal",
    "reshaping",
    "volumes",
]


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def io_arrays(name):
    with np.load(FIXTURES / f"{name}_io.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def h5_layout(data):
    """``{dataset path: (shape, dtype)}`` and ``{group path: name attribute}``."""
    datasets, groups = {}, {}
    with h5py.File(io.BytesIO(data), "r") as f:
        groups["/"] = None

        def visit(path, obj):
            if isinstance(obj, h5py.Dataset):
                datasets[path] = (
                    obj.shape,
                    obj.dtype.str if path != "optimizer/vars/0" else obj.dtype.kind,
                )
            else:
                groups[path] = obj.attrs.get("name")

        f.visititems(visit)
    return datasets, groups


def archive(path):
    with zipfile.ZipFile(path) as z:
        return (
            [(i.filename, i.compress_type) for i in z.infolist()],
            json.loads(z.read("metadata.json")),
            json.loads(z.read("config.json")),
            z.read("model.weights.h5"),
        )


def comparable_layers(config, names=True):
    """The layer entries, without what only names an object in memory (``shared_object_id``) and
    the InputLayer's automatic name (Keras numbers it per session); ``names=False``: no layer names."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "shared_object_id"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    layers = strip(config["config"]["layers"])
    for entry in layers if not names else layers[:1]:
        entry["config"].pop("name")
    return layers


# ---- Keras -> cnnlab --------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_keras_files_load_and_predict_as_keras(name):
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    data = io_arrays(name)
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), data["y"], rtol=0, atol=1e-5
    )


def test_the_seed_004_model_is_the_seed_004_model():
    model = keras.models.load_model(FIXTURES / "seed004.keras")
    assert model.count_params() == 225_034
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert (
        model.compiled
        and type(model.optimizer).__name__ == "Adam"
        and model.optimizer.iterations == 0
    )
    assert model.loss.name == "sparse_categorical_crossentropy"


@pytest.mark.parametrize(
    "name, optimizer, iterations",
    [
        ("conv1d", "Adam", 3),
        ("rmsprop_cnn", "RMSprop", 2),
        ("conv_variants", "Adam", 2),
        ("causal", "Adam", 2),
    ],
)
def test_keras_optimizer_state_continues_training_as_keras(name, optimizer, iterations):
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    assert (
        type(model.optimizer).__name__ == optimizer
        and model.optimizer.iterations == iterations
    )
    for layer in model.layers:  # as the fixture script did for its extra step
        if type(layer).__name__ == "Dropout":
            layer.rate = 0.0
    data = io_arrays(name)
    model.train_on_batch(data["train_x"], data["train_y"])
    weights = model.get_weights()
    assert len(weights) == len([k for k in data if k.startswith("next_")])
    for i, w in enumerate(weights):
        np.testing.assert_allclose(
            w, data[f"next_{i}"], rtol=1e-5, atol=1e-6, err_msg=f"weight {i}"
        )


def conv1d_in_cnnlab():
    return conv1d_model(keras)


def test_keras_weights_file_loads_into_a_cnnlab_model():
    model = conv1d_in_cnnlab()
    model.load_weights(FIXTURES / "conv1d.weights.h5")
    data = io_arrays("conv1d")
    np.testing.assert_allclose(
        model.predict(data["x"], verbose=0), data["y"], rtol=0, atol=1e-5
    )
    assert model.optimizer.iterations == 3


# ---- cnnlab -> Keras's structure ------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_a_file_cnnlab_saves_has_the_structure_of_keras(tmp_path, name):
    keras_members, keras_meta, keras_config, keras_h5 = archive(
        FIXTURES / f"{name}.keras"
    )
    keras.models.load_model(FIXTURES / f"{name}.keras").save(tmp_path / "m.keras")
    members, meta, config, h5 = archive(tmp_path / "m.keras")
    assert (
        members
        == keras_members
        == [("metadata.json", 0), ("config.json", 0), ("model.weights.h5", 0)]
    )
    assert (
        set(meta) == set(keras_meta)
        and meta["keras_version"] == keras_meta["keras_version"]
    )
    assert h5_layout(h5) == h5_layout(keras_h5)
    assert comparable_layers(config) == comparable_layers(keras_config)
    assert (
        config["config"]["build_input_shape"]
        == keras_config["config"]["build_input_shape"]
    )
    assert config["build_config"] == keras_config["build_config"]
    ours, theirs = config["compile_config"], keras_config["compile_config"]
    assert {k: v for k, v in ours.items() if k != "optimizer"} == {
        k: v for k, v in theirs.items() if k != "optimizer"
    }
    assert ours["optimizer"]["config"] == theirs["optimizer"]["config"]
    assert ours["optimizer"]["class_name"] == theirs["optimizer"]["class_name"]


def test_the_same_architecture_built_in_cnnlab_saves_keras_s_layout(tmp_path):
    """Not a round trip: models built and trained in cnnlab, laid out as Keras lays out its own."""
    _, _, keras_config, keras_h5 = archive(FIXTURES / "seed004.keras")
    from cnnlab import specs

    seed004 = specs.build_model(specs.default_spec())
    seed004.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    seed004.save(tmp_path / "seed004.keras")
    _, _, config, h5 = archive(tmp_path / "seed004.keras")
    assert h5_layout(h5)[0] == h5_layout(keras_h5)[0]
    assert [e["class_name"] for e in config["config"]["layers"]] == [
        e["class_name"] for e in keras_config["config"]["layers"]
    ]

    clear_session()
    model = conv1d_in_cnnlab()
    data = io_arrays("conv1d")
    for _ in range(3):
        model.train_on_batch(data["train_x"], data["train_y"])
    model.save(tmp_path / "conv1d.keras")
    model.save_weights(tmp_path / "conv1d.weights.h5")
    _, _, config, h5 = archive(tmp_path / "conv1d.keras")
    _, _, keras_config, keras_h5 = archive(FIXTURES / "conv1d.keras")
    # (Names differ where Keras numbered its session's objects: "dense_2", "adam_1"; the keys do not.)
    (datasets, groups), (keras_datasets, keras_groups) = (
        h5_layout(h5),
        h5_layout(keras_h5),
    )
    assert datasets == keras_datasets and set(groups) == set(keras_groups)
    assert comparable_layers(config, names=False) == comparable_layers(
        keras_config, names=False
    )
    weights_only = (tmp_path / "conv1d.weights.h5").read_bytes()
    assert (
        h5_layout(weights_only)[0]
        == h5_layout((FIXTURES / "conv1d.weights.h5").read_bytes())[0]
    )
