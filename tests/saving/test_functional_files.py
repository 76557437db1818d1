"""Functional and nested models in Keras 3's own ``.keras`` format, both ways.

* Keras -> cnnlab: the files real Keras 3.15.1 wrote (tests/fixtures/keras/, made by
  scripts/make_keras_fixtures.py: a residual block with Add, two branches joined by Concatenate,
  two inputs and two outputs, a Sequential nested in a functional model) load in cnnlab and
  predict what Keras predicted (1e-5);
* cnnlab -> Keras: a file cnnlab writes for the same architecture has Keras's structure (the same
  config, layer for layer and node for node, the same HDF5 datasets); that real Keras loads it and
  predicts the same is checked by the script's ``--check`` mode (figures in the report);
* get_config / from_config, to_json / model_from_json, clone_model, legacy ``.h5`` for a graph.
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
import fixture_models  # noqa: E402

GRAPHS = list(fixture_models.GRAPHS)


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def io_arrays(name):
    with np.load(FIXTURES / f"{name}_io.npz", allow_pickle=False) as data:
        xs = [
            data[f"x_{i}"]
            for i in range(len([k for k in data.files if k.startswith("x_")]))
        ]
        ys = [
            data[f"y_{i}"]
            for i in range(len([k for k in data.files if k.startswith("y_")]))
        ]
    return xs, ys


def predict(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return out if isinstance(out, list) else [out]


def archive(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json")), z.read("model.weights.h5")


def h5_datasets(data):
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        # (the optimizer's iteration counter is int32 under Keras's torch backend, int64 in cnnlab and TF)
        f.visititems(
            lambda p, o: (
                out.__setitem__(
                    p,
                    (o.shape, o.dtype.str if p != "optimizer/vars/0" else o.dtype.kind),
                )
                if isinstance(o, h5py.Dataset)
                else out.__setitem__(p, o.attrs.get("name"))
            )
        )
    return out


def without_ids(value):
    """The config without what only names an object in Keras's memory (``shared_object_id``)."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("name", GRAPHS)
def test_keras_graph_files_load_and_predict_as_keras(name):
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    xs, ys = io_arrays(name)
    outs = predict(model, xs)
    assert len(outs) == len(ys)
    for out, y in zip(outs, ys):
        np.testing.assert_allclose(out, y, rtol=0, atol=1e-5)


def test_the_loaded_graphs_have_keras_s_structure():
    two_io = keras.models.load_model(FIXTURES / "two_io.keras")
    assert two_io.input_names == ["image", "meta"] and two_io.output_names == [
        "label",
        "score",
    ]
    nested = keras.models.load_model(FIXTURES / "nested.keras")
    features = nested.get_layer("features")
    assert isinstance(features, keras.Sequential) and [
        type(layer).__name__ for layer in features.layers
    ] == ["Conv2D", "MaxPooling2D", "Flatten"]
    residual = keras.models.load_model(FIXTURES / "residual.keras")
    assert residual.compiled and type(residual.optimizer).__name__ == "Adam"
    add = residual.get_layer("add")
    assert [t._keras_history[0].name for t in add._inbound_nodes[0].input_tensors] == [
        "conv2d",
        "conv2d_1",
    ]


@pytest.mark.parametrize("name", GRAPHS)
def test_cnnlab_writes_the_config_and_weights_keras_wrote(tmp_path, name):
    """The same architecture built in cnnlab (fresh names, as in a fresh Keras session) is written as
    Keras wrote it: every layer entry, inbound node, input/output reference and HDF5 dataset."""
    model = fixture_models.GRAPHS[name][0](keras)
    model.save(tmp_path / "m.keras")
    ours, our_h5 = archive(tmp_path / "m.keras")
    theirs, their_h5 = archive(FIXTURES / f"{name}.keras")
    ours, theirs = without_ids(ours), without_ids(theirs)
    for key in ("module", "class_name", "registered_name", "build_config"):
        assert ours[key] == theirs[key], key
    assert ours["config"] == theirs["config"]
    assert (
        ours.get("compile_config", {}).keys() == theirs.get("compile_config", {}).keys()
    )
    assert h5_datasets(our_h5) == h5_datasets(their_h5)


@pytest.mark.parametrize("name", GRAPHS)
def test_a_loaded_keras_file_saved_again_round_trips(tmp_path, name):
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    model.save(tmp_path / "again.keras")
    again = keras.models.load_model(tmp_path / "again.keras")
    xs, ys = io_arrays(name)
    for a, b in zip(predict(again, xs), predict(model, xs)):
        np.testing.assert_array_equal(a, b)
    assert without_ids(archive(tmp_path / "again.keras")[0]["config"]) == without_ids(
        archive(FIXTURES / f"{name}.keras")[0]["config"]
    )


def test_get_config_from_config_json_and_clone_keep_the_graph():
    model = keras.models.load_model(FIXTURES / "two_io.keras")
    xs, _ = io_arrays("two_io")
    config = model.get_config()
    assert config["input_layers"] == [["image", 0, 0], ["meta", 0, 0]]
    rebuilt = keras.Model.from_config(config)
    assert [layer.name for layer in rebuilt.layers] == [
        layer.name for layer in model.layers
    ]
    rebuilt.set_weights(model.get_weights())
    for a, b in zip(predict(rebuilt, xs), predict(model, xs)):
        np.testing.assert_array_equal(a, b)

    text = model.to_json()
    assert json.loads(text)["class_name"] == "Functional"
    again = keras.models.model_from_json(text)
    assert again.get_config() == config

    keras.utils.set_random_seed(1)
    clone = keras.models.clone_model(model)
    assert [layer.name for layer in clone.layers] == [
        layer.name for layer in model.layers
    ] and clone.name == model.name
    assert all(c is not o for c, o in zip(clone.layers, model.layers))
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(clone.get_weights(), model.get_weights())
    )  # fresh
    assert [w.shape for w in clone.get_weights()] == [
        w.shape for w in model.get_weights()
    ]


def test_a_nested_functional_model_round_trips_with_keras_s_node_numbering(tmp_path):
    """Keras numbers a nested functional model's call from 1 in output_layers, from 0 in inbound_nodes."""
    keras.utils.set_random_seed(2)
    i = keras.Input((4,), name="a")
    inner = keras.Model(i, keras.layers.Dense(3, name="d1")(i), name="inner")
    x = keras.Input((4,), name="x")
    y = inner(x)
    model = keras.Model(x, [keras.layers.Dense(2, name="d2")(y), y], name="outer")
    config = model.get_config()
    assert config["output_layers"] == [["d2", 0, 0], ["inner", 1, 0]]
    d2 = [e for e in config["layers"] if e["name"] == "d2"][0]
    assert d2["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == [
        "inner",
        0,
        0,
    ]
    model.save(tmp_path / "n.keras")
    loaded = keras.models.load_model(tmp_path / "n.keras")
    data = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    for a, b in zip(loaded.predict(data, verbose=0), model.predict(data, verbose=0)):
        np.testing.assert_array_equal(a, b)
    with h5py.File(io.BytesIO(archive(tmp_path / "n.keras")[1])) as f:
        assert "layers/functional/layers/dense/vars/0" in f


def test_training_fixed_at_a_call_is_written_and_read_as_keras_does(tmp_path):
    """``base(x, training=False)`` (the transfer-learning idiom): Keras writes {"training": false}."""
    keras.utils.set_random_seed(4)
    base = keras.Sequential(
        [keras.layers.Dense(3), keras.layers.Dropout(0.5)], name="base"
    )
    x = keras.Input((4,), name="x")
    model = keras.Model(
        x, keras.layers.Dropout(0.2)(base(x, training=False), training=True), name="tl"
    )
    kwargs = {
        e["name"]: [n["kwargs"] for n in e["inbound_nodes"]]
        for e in model.get_config()["layers"]
    }
    assert kwargs == {
        "x": [],
        "base": [{"training": False}],
        "dropout_1": [{"training": True}],
    }
    model.save(tmp_path / "tl.keras")
    loaded = keras.models.load_model(tmp_path / "tl.keras")
    assert [n.training for n in loaded.nodes if not n.is_input] == [False, True]


def test_a_shared_layer_round_trips(tmp_path):
    keras.utils.set_random_seed(3)
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    shared = keras.layers.Dense(2, name="shared")
    model = keras.Model(
        [a, b], keras.layers.add([shared(a), shared(b)]), name="siamese"
    )
    config = model.get_config()
    entry = [e for e in config["layers"] if e["name"] == "shared"][0]
    assert [
        n["args"][0]["config"]["keras_history"] for n in entry["inbound_nodes"]
    ] == [["a", 0, 0], ["b", 0, 0]]
    model.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras")
    assert (
        len(loaded.get_layer("shared")._inbound_nodes) == 2 and len(loaded.weights) == 2
    )
    xs = [np.ones((2, 3), "float32"), np.full((2, 3), 2.0, "float32")]
    np.testing.assert_array_equal(
        loaded.predict(xs, verbose=0), model.predict(xs, verbose=0)
    )


def test_keras_legacy_h5_of_a_graph_loads_and_cnnlab_writes_one(tmp_path):
    model = keras.models.load_model(FIXTURES / "legacy_residual.h5")
    xs, ys = io_arrays("legacy_residual")
    np.testing.assert_allclose(predict(model, xs)[0], ys[0], rtol=0, atol=1e-5)
    with pytest.warns(UserWarning, match="legacy"):
        model.save(tmp_path / "r.h5")
    with (
        h5py.File(tmp_path / "r.h5") as ours,
        h5py.File(FIXTURES / "legacy_residual.h5") as theirs,
    ):
        assert list(ours["model_weights"].attrs["layer_names"]) == list(
            theirs["model_weights"].attrs["layer_names"]
        )
        assert json.loads(ours.attrs["model_config"])["class_name"] == "Functional"
        for layer in ("conv2d", "conv2d_1", "dense"):
            assert list(ours[f"model_weights/{layer}"].attrs["weight_names"]) == list(
                theirs[f"model_weights/{layer}"].attrs["weight_names"]
            )
    again = keras.models.load_model(tmp_path / "r.h5")
    np.testing.assert_array_equal(predict(again, xs)[0], predict(model, xs)[0])
