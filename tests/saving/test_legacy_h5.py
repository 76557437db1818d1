"""Legacy whole-model HDF5 files (``model.save("m.h5")``, as TensorFlow's tutorial writes them),
both ways. The fixtures were written by real Keras 3.15.1 with ``keras.saving.save_model(model,
"x.h5")`` (scripts/make_keras_fixtures.py); Keras loading cnnlab's ``.h5`` files is checked by
that script's ``--check`` mode."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session

h5py = pytest.importorskip("h5py")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
sys.path.insert(0, str(FIXTURES))
import fixture_models  # noqa: E402


def io_arrays(name):
    with np.load(FIXTURES / f"{name}_io.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def test_a_keras_legacy_sequential_loads_predicts_and_keeps_its_optimizer():
    model = keras.models.load_model(FIXTURES / "legacy_sequential.h5")
    data = io_arrays("legacy_sequential")
    np.testing.assert_allclose(
        model.predict(data["x_0"], verbose=0), data["y_0"], rtol=0, atol=1e-5
    )
    assert (
        model.name == "legacy_sequential" and type(model.optimizer).__name__ == "Adam"
    )
    assert (
        model.optimizer.iterations == 2 and model.optimizer.built
    )  # the file's Adam state
    with h5py.File(FIXTURES / "legacy_sequential.h5") as f:
        momentum = f["optimizer_weights/adam/legacy_sequential_dense_kernel_momentum"][
            ()
        ]
    dense_index = [p.shape for p in model.trainable_weights].index(momentum.shape)
    np.testing.assert_array_equal(
        model.optimizer.get_state()["slots"][0][dense_index], momentum
    )


def test_cnnlab_writes_keras_s_legacy_layout_and_reads_it_back(tmp_path):
    model = keras.models.load_model(FIXTURES / "legacy_sequential.h5")
    with pytest.warns(UserWarning, match="considered legacy"):
        model.save(tmp_path / "m.h5")

    def layout(path):
        out = {}
        with h5py.File(path) as f:
            f.visititems(
                lambda name, obj: out.__setitem__(name, getattr(obj, "shape", None))
            )
            out["attrs"] = sorted(f.attrs)
            out["layer_names"] = list(f["model_weights"].attrs["layer_names"])
            out["weight_names"] = list(f["optimizer_weights"].attrs["weight_names"])
        return out

    ours, theirs = layout(tmp_path / "m.h5"), layout(FIXTURES / "legacy_sequential.h5")
    assert ours == theirs
    loaded = keras.models.load_model(tmp_path / "m.h5")
    data = io_arrays("legacy_sequential")
    np.testing.assert_array_equal(
        loaded.predict(data["x_0"], verbose=0), model.predict(data["x_0"], verbose=0)
    )
    assert loaded.optimizer.iterations == 2


def test_save_weights_to_h5_and_load_weights_from_either_legacy_file(tmp_path):
    source = keras.models.load_model(FIXTURES / "legacy_sequential.h5")
    data = io_arrays("legacy_sequential")
    clear_session()
    fresh = fixture_models.legacy_sequential_model(keras)
    fresh.load_weights(FIXTURES / "legacy_sequential.h5")  # a whole-model file
    np.testing.assert_allclose(
        fresh.predict(data["x_0"], verbose=0), data["y_0"], rtol=0, atol=1e-5
    )
    assert fresh.optimizer.iterations == 0  # load_weights reads no optimizer
    source.save_weights(tmp_path / "w.h5")  # Keras 2's weights-only layout
    with h5py.File(tmp_path / "w.h5") as f:
        assert "model_weights" not in f and list(f.attrs["layer_names"]) == [
            "conv2d",
            "max_pooling2d",
            "flatten",
            "dense",
        ]
    clear_session()
    other = fixture_models.legacy_sequential_model(keras)
    other.load_weights(tmp_path / "w.h5")
    np.testing.assert_allclose(
        other.predict(data["x_0"], verbose=0), data["y_0"], rtol=0, atol=1e-5
    )


def test_a_legacy_file_that_does_not_fit_is_refused_before_anything_changes(tmp_path):
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(3, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(5),
        ]
    )
    before = model.get_weights()
    with pytest.raises(CnnlabError, match="dense.*shape"):
        model.load_weights(FIXTURES / "legacy_sequential.h5")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save_weights(tmp_path / "w.h5")
    with pytest.raises(CnnlabError, match="no model config"):
        keras.models.load_model(tmp_path / "w.h5")
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.attrs["model_config"] = (
            '{"class_name": "Sequential", "config": {"layers": [{"class_name": "Evil"}]}}'
        )
    with pytest.raises(CnnlabError, match="Evil"):
        keras.models.load_model(tmp_path / "bad.h5")
