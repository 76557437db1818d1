"""Saving and loading: Keras 3 ``.keras`` files, ``.weights.h5``, safetensors, atomic writes, hostile files.

The HDF5 layout checked here is the one Keras 3 writes (keras/src/saving/saving_lib.py,
``_save_state`` + ``H5IOStore``); it was compared, file against file, with Keras 3.15.1
(torch backend), which also loads cnnlab's files and whose files cnnlab loads. The
config below is one Keras 3.15.1 wrote, kept verbatim.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError, ShapeError
from cnnlab.layers import clear_session
from cnnlab.saving import limits
from cnnlab.saving.keras_config import serialize_model

h5py = pytest.importorskip("h5py")

KERAS_3_15_CONFIG = (
    '{"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "dty'
    'pe": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": '
    'null, "shared_object_id": 140008850349456}, "layers": [{"module": "keras.layers", "class_name": "InputLa'
    'yer", "config": {"batch_shape": [null, 6, 6, 1], "dtype": "float32", "sparse": false, "ragged": false, "'
    'name": "input_layer", "optional": false}, "registered_name": null}, {"module": "keras.layers", "class_na'
    'me": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": {"module": "keras", "class_name"'
    ': "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "filters": 2, "kernel_size": ['
    '3, 3], "strides": [1, 1], "padding": "valid", "data_format": "channels_last", "dilation_rate": [1, 1], "'
    'groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers'
    '", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "re'
    'gistered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "conf'
    'ig": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regul'
    'arizer": null, "kernel_constraint": null, "bias_constraint": null}, "registered_name": null, "build_conf'
    'ig": {"input_shape": [null, 6, 6, 1]}}, {"module": "keras.layers", "class_name": "MaxPooling2D", "config'
    '": {"name": "max_pooling2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy"'
    ', "config": {"name": "float32"}, "registered_name": null, "shared_object_id": 140008850349456}, "pool_si'
    'ze": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}, "registered_name": '
    'null}, {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": tr'
    'ue, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered'
    '_name": null, "shared_object_id": 140008850349456}, "data_format": "channels_last"}, "registered_name": '
    'null, "build_config": {"input_shape": [null, 2, 2, 2]}}, {"module": "keras.layers", "class_name": "Dense'
    '", "config": {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolic'
    'y", "config": {"name": "float32"}, "registered_name": null, "shared_object_id": 140008850349456}, "units'
    '": 3, "activation": "softmax", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", '
    '"class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "regis'
    'tered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config"'
    ': {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint'
    '": null, "bias_constraint": null, "quantization_config": null}, "registered_name": null, "build_config":'
    ' {"input_shape": [null, 8]}}], "build_input_shape": [null, 6, 6, 1]}, "registered_name": null, "build_co'
    'nfig": {"input_shape": [null, 6, 6, 1]}, "compile_config": {"optimizer": {"module": "keras.src.backend.t'
    'orch.optimizers.torch_adam", "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.0010000'
    '000474974513, "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_e'
    'ma": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_'
    'accumulation_steps": null, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": false}, "registe'
    'red_name": "Adam"}, "loss": "sparse_categorical_crossentropy", "loss_weights": null, "metrics": ["accura'
    'cy"], "weighted_metrics": null, "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false}}'
)
#: What Keras 3.15.1 predicted for ``_det`` weights and input on the model above.
KERAS_3_15_PREDICTION = np.array(
    [[0.68514395, 0.22009356, 0.0947625], [0.69363755, 0.21385479, 0.09250765]],
    dtype=np.float32,
)


# ---- helpers ----------------------------------------------------------------
def _det(shape, k):
    """Deterministic values (the same recipe gave KERAS_3_15_PREDICTION in Keras)."""
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.7 + k) * 0.5).astype("float32").reshape(shape)


def small_model(optimizer="adam", units=5):
    clear_session()
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(6, 2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(
                units, activation="softmax", name="classifier"
            ),  # its HDF5 key is still "dense"
        ]
    )
    if optimizer is not None:
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    return model


def batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1)).astype(np.float32), rng.integers(0, 5, n)


def trained(optimizer="adam", steps=2):
    model = small_model(optimizer)
    x, y = batch()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model, x, y


def h5_datasets(source):
    """``[(path, shape, dtype)]`` of every dataset, and ``{group path: name attribute}``."""
    f = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    datasets, groups = [], {}
    with f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets.append((name, obj.shape, str(obj.dtype)))
            elif "name" in obj.attrs:
                groups[name] = obj.attrs["name"]

        f.visititems(visit)
    return sorted(
        datasets, key=lambda d: (d[0].rsplit("/", 1)[0], int(d[0].rsplit("/", 1)[1]))
    ), groups


def h5_array(source, path):
    with h5py.File(
        io.BytesIO(source) if isinstance(source, bytes) else source, "r"
    ) as f:
        return f[path][()]


def rewrite_config(src, dst, edit):
    """Copy a .keras file with its config.json changed by ``edit(dict)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)


def weights_equal(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def slots(model):
    return [s for slot in model.optimizer.get_state()["slots"] for s in slot]


# ---- .keras round trip --------------------------------------------------------
def test_keras_round_trip_keeps_predictions_config_and_optimizer_state(tmp_path):
    model, x, y = trained("adam")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert serialize_model(loaded) == serialize_model(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 2
    assert all(np.array_equal(a, b) for a, b in zip(slots(model), slots(loaded)))
    # One more step on each: the loaded copy continues exactly where the original is.
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert weights_equal(model, loaded)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        lambda: keras.optimizers.RMSprop(momentum=0.5),
        lambda: keras.optimizers.Adagrad(0.05),
        lambda: keras.optimizers.SGD(0.05),
    ],
    ids=["sgd-nesterov", "rmsprop-momentum", "adagrad", "sgd-plain"],
)
def test_every_optimizer_resumes_bit_for_bit(tmp_path, make_optimizer):
    model, x, y = trained(make_optimizer())
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert weights_equal(model, loaded)


def test_load_model_without_compile(tmp_path):
    model, x, _ = trained()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert not loaded.compiled
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


# ---- the file is Keras's --------------------------------------------------------
def test_keras_archive_members_are_exactly_keras(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        metadata = json.loads(z.read("metadata.json"))
        config = json.loads(z.read("config.json"))
    assert set(metadata) == {"keras_version", "date_saved"} and metadata[
        "keras_version"
    ].startswith("3.")
    assert (config["module"], config["class_name"], config["registered_name"]) == (
        "keras",
        "Sequential",
        None,
    )
    assert config["build_config"] == {"input_shape": [None, 8, 8, 1]}
    assert config["config"]["build_input_shape"] == [None, 8, 8, 1]
    layers = config["config"]["layers"]
    assert [entry["class_name"] for entry in layers] == [
        "InputLayer",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "Flatten",
        "Dense",
    ]
    assert layers[0]["config"]["batch_shape"] == [None, 8, 8, 1]
    assert layers[1]["config"]["dtype"] == {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": "float32"},
        "registered_name": None,
    }
    assert layers[1]["build_config"] == {"input_shape": [None, 8, 8, 1]}
    compile_config = config["compile_config"]
    assert compile_config["optimizer"]["class_name"] == "Adam"
    assert compile_config["optimizer"]["config"]["learning_rate"] == 0.001
    assert compile_config["loss"] == "sparse_categorical_crossentropy"
    assert compile_config["metrics"] == ["accuracy"]


def _expected_layout(slot_shapes):
    layers = [
        ("layers/conv2d/vars/0", (3, 3, 1, 4)),
        ("layers/conv2d/vars/1", (4,)),
        ("layers/conv2d_1/vars/0", (2, 2, 4, 6)),
        ("layers/conv2d_1/vars/1", (6,)),
        ("layers/dense/vars/0", (54, 5)),
        ("layers/dense/vars/1", (5,)),
    ]
    optimizer = [
        ("optimizer/vars/0", (), "int64"),
        ("optimizer/vars/1", (), "float32"),
    ] + [
        (f"optimizer/vars/{2 + i}", shape, "float32")
        for i, shape in enumerate(slot_shapes)
    ]
    return [(p, s, "float32") for p, s in layers] + optimizer


PARAM_SHAPES = [(3, 3, 1, 4), (4,), (2, 2, 4, 6), (6,), (54, 5), (5,)]


def test_hdf5_layout_is_keras3s(tmp_path):
    """Paths, shapes, dtypes and group names as Keras 3 writes them; Adam's slots interleaved."""
    model, _, _ = trained("adam")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        weights = z.read("model.weights.h5")
    datasets, groups = h5_datasets(weights)
    interleaved = [shape for shape in PARAM_SHAPES for _ in ("momentum", "velocity")]
    assert datasets == _expected_layout(interleaved)
    assert groups == {
        "vars": "sequential",
        "layers/conv2d/vars": "conv2d",
        "layers/max_pooling2d/vars": "max_pooling2d",
        "layers/conv2d_1/vars": "conv2d_1",
        "layers/flatten/vars": "flatten",
        "layers/dense/vars": "classifier",
        "optimizer/vars": "adam",
    }
    assert np.array_equal(
        h5_array(weights, "layers/dense/vars/0"),
        model.get_layer("classifier").get_weights()[0],
    )
    assert h5_array(weights, "optimizer/vars/0") == 2
    assert h5_array(weights, "optimizer/vars/1") == np.float32(0.001)
    momentum, velocity = model.optimizer.get_state()["slots"]
    assert np.array_equal(
        h5_array(weights, "optimizer/vars/2"), momentum[0]
    )  # conv2d kernel: m, v, ...
    assert np.array_equal(h5_array(weights, "optimizer/vars/3"), velocity[0])
    assert np.array_equal(
        h5_array(weights, "optimizer/vars/4"), momentum[1]
    )  # ... then conv2d bias
    # save_weights writes the same layout.
    model.save_weights(tmp_path / "m.weights.h5")
    assert h5_datasets(str(tmp_path / "m.weights.h5")) == (datasets, groups)


def test_rmsprop_slots_are_grouped_as_keras_creates_them(tmp_path):
    model, _, _ = trained(keras.optimizers.RMSprop(momentum=0.5))
    model.save_weights(tmp_path / "m.weights.h5")
    path = str(tmp_path / "m.weights.h5")
    datasets, _ = h5_datasets(path)
    assert datasets == _expected_layout(
        PARAM_SHAPES + PARAM_SHAPES
    )  # all velocities, then all momentums
    velocity, momentum = model.optimizer.get_state()["slots"]
    assert np.array_equal(h5_array(path, "optimizer/vars/2"), velocity[0])
    assert np.array_equal(h5_array(path, "optimizer/vars/8"), momentum[0])


def _keras_3_15_file(path, optimizer_vars=None):
    """A .keras file as Keras 3.15.1 (torch backend) writes it for KERAS_3_15_CONFIG."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        shapes = {
            "conv2d": [(3, 3, 1, 2), (2,)],
            "max_pooling2d": [],
            "flatten": [],
            "dense": [(8, 3), (3,)],
        }
        k = 0
        for key, layer_shapes in shapes.items():
            group = f.create_group(f"layers/{key}").create_group("vars")
            group.attrs["name"] = key
            for i, shape in enumerate(layer_shapes):
                group[str(i)] = _det(shape, k)
                k += 1
        group = f.create_group("optimizer").create_group("vars")
        group.attrs["name"] = "adam"
        for i, value in enumerate(
            optimizer_vars or [np.array(0, np.int32), np.array(0.001, np.float32)]
        ):
            group[str(i)] = value
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "metadata.json",
            json.dumps(
                {"keras_version": "3.15.1", "date_saved": "2025-01-01@00:00:00"}
            ),
        )
        z.writestr("config.json", KERAS_3_15_CONFIG)
        z.writestr("model.weights.h5", buf.getvalue())


def test_a_file_written_by_keras_3_loads_and_predicts_as_keras(tmp_path):
    _keras_3_15_file(tmp_path / "k.keras")
    model = keras.models.load_model(tmp_path / "k.keras")
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert model.loss.name == "sparse_categorical_crossentropy"
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    prediction = model.predict(_det((2, 6, 6, 1), 9), verbose=0)
    np.testing.assert_allclose(prediction, KERAS_3_15_PREDICTION, atol=1e-6)


def test_keras_adam_state_maps_to_the_right_slots(tmp_path):
    shapes = [(3, 3, 1, 2), (2,), (8, 3), (3,)]
    slots_in_keras_order = [
        np.full(shape, float(j), np.float32)
        for j, shape in enumerate(s for s in shapes for _ in range(2))
    ]
    _keras_3_15_file(
        tmp_path / "k.keras",
        [np.array(7, np.int32), np.array(0.001, np.float32)] + slots_in_keras_order,
    )
    model = keras.models.load_model(tmp_path / "k.keras")
    assert model.optimizer.iterations == 7
    momentum, velocity = model.optimizer.get_state()["slots"]
    for p in range(4):
        assert (momentum[p] == 2 * p).all() and (velocity[p] == 2 * p + 1).all()


# ---- weights files ----------------------------------------------------------------
def test_weights_h5_round_trip_with_optimizer_state(tmp_path):
    model, x, y = trained()
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = small_model()
    fresh.load_weights(tmp_path / "m.weights.h5")
    assert np.array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))
    assert fresh.optimizer.iterations == 2
    model.train_on_batch(x, y)
    fresh.train_on_batch(x, y)
    assert weights_equal(model, fresh)
    # The weights of a .keras file load the same way.
    model.save(tmp_path / "m.keras")
    other = small_model(None)
    other.load_weights(tmp_path / "m.keras")
    assert weights_equal(model, other)


def test_optimizer_state_of_another_optimizer_is_skipped_with_a_warning(tmp_path):
    model, x, _ = trained("adam")
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = small_model("sgd")
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        fresh.load_weights(tmp_path / "m.weights.h5")
    assert np.array_equal(model.predict(x, verbose=0), fresh.predict(x, verbose=0))


def test_safetensors_round_trip_and_self_describing(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    model, x, _ = trained()
    path = tmp_path / "m.safetensors"
    model.save_weights(path)
    tensors = safetensors_numpy.load(
        path.read_bytes()
    )  # the library reads what cnnlab wrote
    assert set(tensors) == {
        "conv2d/kernel",
        "conv2d/bias",
        "conv2d_1/kernel",
        "conv2d_1/bias",
        "classifier/kernel",
        "classifier/bias",
    }
    assert np.array_equal(
        tensors["classifier/kernel"], model.get_layer("classifier").get_weights()[0]
    )
    fresh = small_model(None)
    fresh.load_weights(path)
    assert weights_equal(model, fresh)
    rebuilt = keras.models.load_model(path)  # architecture from the metadata
    assert serialize_model(rebuilt, include_compile=False) == serialize_model(
        model, include_compile=False
    )
    assert np.array_equal(model.predict(x, verbose=0), rebuilt.predict(x, verbose=0))


# ---- atomic writes ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["m.keras", "m.weights.h5", "m.safetensors"])
def test_a_failed_save_leaves_the_previous_file_whole(tmp_path, monkeypatch, name):
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors")
    model, x, y = trained()
    path = tmp_path / name
    save = model.save if name.endswith(".keras") else model.save_weights
    save(path)
    before = model.predict(x, verbose=0)
    model.train_on_batch(x, y)  # the weights change

    def replace_fails(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", replace_fails)
    with pytest.raises(OSError, match="simulated"):
        save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind
    fresh = small_model(None)
    fresh.load_weights(path)
    assert np.array_equal(fresh.predict(x, verbose=0), before)


def test_an_error_while_writing_leaves_the_previous_file(tmp_path, monkeypatch):
    model, x, _ = trained()
    model.save(tmp_path / "m.keras")
    before = (tmp_path / "m.keras").read_bytes()

    def broken(model, include_optimizer=True):
        raise RuntimeError("broken writer")

    monkeypatch.setattr("cnnlab.saving.h5_store.write_weights", broken)
    with pytest.raises(RuntimeError, match="broken writer"):
        model.save(tmp_path / "m.keras")
    assert (tmp_path / "m.keras").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]


def test_overwrite_false_refuses_an_existing_file(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite"):
        model.save(tmp_path / "m.keras", overwrite=False)


# ---- refusals with clear errors ------------------------------------------------------
def test_unknown_layer_class_is_refused_naming_the_layer(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")

    def edit(config):
        config["config"]["layers"][2]["class_name"] = "LSTM"

    rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", edit)
    with pytest.raises(
        CnnlabError, match=r"'max_pooling2d'.*unknown layer class 'LSTM'"
    ):
        keras.models.load_model(tmp_path / "bad.keras")


@pytest.mark.parametrize(
    "key, value",
    [("module", "evil_cnnlab_module"), ("registered_name", "evil_pkg>Conv2D")],
)
def test_code_named_in_a_file_is_never_imported(tmp_path, key, value):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")

    def edit(config):
        config["config"]["layers"][1][key] = value

    rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", edit)
    with pytest.raises(CnnlabError, match=value):
        keras.models.load_model(tmp_path / "bad.keras")
    assert "evil_cnnlab_module" not in sys.modules and "evil_pkg" not in sys.modules


@pytest.mark.parametrize(
    "option, value, message",
    [
        (
            "kernel_regularizer",
            {
                "module": "keras.regularizers",
                "class_name": "OrthogonalRegularizer",
                "config": {"factor": 0.01, "mode": "rows"},
                "registered_name": None,
            },
            "kernel_regularizer",
        ),
        (
            "dtype",
            {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": "mixed_float16"},
                "registered_name": None,
            },
            "float32 only",
        ),
        (
            "kernel_initializer",
            {
                "module": "keras.initializers",
                "class_name": "Orthogonal",
                "config": {},
                "registered_name": None,
            },
            "kernel_initializer",
        ),
        ("some_future_option", 3, "some_future_option"),
    ],
)
def test_unsupported_options_are_refused_by_name(tmp_path, option, value, message):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")

    def edit(config):
        config["config"]["layers"][-1]["config"][option] = value

    rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", edit)
    with pytest.raises(CnnlabError, match=rf"'classifier'.*{message}"):
        keras.models.load_model(tmp_path / "bad.keras")


def test_unsupported_compile_settings_load_the_model_uncompiled_with_a_warning(
    tmp_path,
):
    model, x, _ = trained()
    model.save(tmp_path / "m.keras")

    def edit(config):
        # (clipnorm, the setting this test used first, is supported since issue 16; loss scaling is not)
        config["compile_config"]["optimizer"]["config"]["loss_scale_factor"] = 128.0

    rewrite_config(tmp_path / "m.keras", tmp_path / "clip.keras", edit)
    with pytest.warns(UserWarning, match="loss_scale_factor"):
        loaded = keras.models.load_model(tmp_path / "clip.keras")
    assert not loaded.compiled
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_shape_mismatch_names_the_layer_and_both_shapes_and_changes_nothing(tmp_path):
    model, _, _ = trained()
    model.save_weights(tmp_path / "m.weights.h5")
    other = small_model(units=7)
    before = other.get_weights()
    with pytest.raises(ShapeError, match=r"'classifier'.*\(54, 7\).*\(54, 5\)"):
        other.load_weights(tmp_path / "m.weights.h5")
    assert all(
        np.array_equal(a, b) for a, b in zip(before, other.get_weights())
    )  # not even the convs
    # The same through load_model: the config says 7 units, the weights hold 5.
    model.save(tmp_path / "m.keras")

    def edit(config):
        config["config"]["layers"][-1]["config"]["units"] = 7

    rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", edit)
    with pytest.raises(ShapeError, match=r"'classifier'.*\(54, 7\).*\(54, 5\)"):
        keras.models.load_model(tmp_path / "bad.keras")


def test_bad_custom_objects_and_wrong_extensions_are_refused(tmp_path):
    # (custom_objects= and legacy `.h5` files are supported since issue 13: tests/saving/.)
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")
    with pytest.raises(CnnlabError, match="custom_objects"):
        keras.models.load_model(tmp_path / "m.keras", custom_objects=["MyLayer"])
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.bin")
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        model.save_weights(tmp_path / "m.bin")
    with pytest.raises(ValueError, match="load_weights"):
        keras.models.load_model(tmp_path / "m.weights.h5")


# ---- hostile and damaged files ------------------------------------------------------
@pytest.mark.parametrize("name", ["evil.keras", "evil.weights.h5", "evil.safetensors"])
def test_a_pickle_payload_is_refused_and_never_runs(tmp_path, name):
    marker = tmp_path / "pwned"
    # Protocol-0 pickle that would call open(marker, "w") if anything unpickled it.
    payload = b"cbuiltins\nopen\n(S'" + str(marker).encode() + b"'\nS'w'\ntR."
    (tmp_path / name).write_bytes(payload)
    with pytest.raises(CnnlabError):
        if name.endswith(".weights.h5"):
            small_model(None).load_weights(tmp_path / name)
        else:
            keras.models.load_model(tmp_path / name)
    assert not marker.exists()


def test_npz_weights_which_keras_unpickles_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "npz.keras", "w") as z:
        z.writestr("config.json", KERAS_3_15_CONFIG)
        z.writestr("model.weights.npz", b"\x80\x04 not read")
    with pytest.raises(CnnlabError, match="pickle"):
        keras.models.load_model(tmp_path / "npz.keras")


def test_truncated_or_corrupted_archives_raise_cnnlab_errors(tmp_path):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    for cut in (0, 10, 100, len(data) // 2, len(data) - 10):
        (tmp_path / "cut.keras").write_bytes(data[:cut])
        with pytest.raises(CnnlabError):
            keras.models.load_model(tmp_path / "cut.keras")
    # Flipped bytes inside the weights member: the zip's CRC check catches them.
    start = data.index(b"\x89HDF")
    corrupted = bytearray(data)
    corrupted[start + 3000 : start + 3016] = bytes(
        b ^ 0xFF for b in corrupted[start + 3000 : start + 3016]
    )
    (tmp_path / "bad.keras").write_bytes(bytes(corrupted))
    with pytest.raises(CnnlabError):
        keras.models.load_model(tmp_path / "bad.keras")


def test_zip_bomb_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "RATIO_FLOOR", 0)
    with zipfile.ZipFile(
        tmp_path / "bomb.keras", "w", compression=zipfile.ZIP_DEFLATED
    ) as z:
        z.writestr("config.json", b" " * (4 * 1024 * 1024))  # compresses about 1000:1
        z.writestr("model.weights.h5", b"")
    with pytest.raises(CnnlabError, match="zip bomb"):
        keras.models.load_model(tmp_path / "bomb.keras")


def test_oversized_members_are_refused(tmp_path, monkeypatch):
    model, _, _ = trained()
    model.save(tmp_path / "m.keras")
    monkeypatch.setattr(limits, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(CnnlabError, match="config.json declares"):
        keras.models.load_model(tmp_path / "m.keras")


def _safetensors_bytes(header, data=b""):
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + data


@pytest.mark.parametrize(
    "case",
    [
        "header_too_long",
        "offsets_outside",
        "overlap",
        "size_mismatch",
        "dtype",
        "duplicate_key",
        "not_json",
    ],
)
def test_hostile_safetensors_headers_are_refused(tmp_path, case):
    w = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    data = bytes(8)
    blobs = {
        "header_too_long": (10**12).to_bytes(8, "little") + b"{}",
        "offsets_outside": _safetensors_bytes(
            {"a": {**w, "data_offsets": [0, 8000]}}, data
        ),
        "overlap": _safetensors_bytes(
            {"a": w, "b": {**w, "data_offsets": [4, 12]}}, bytes(12)
        ),
        "size_mismatch": _safetensors_bytes({"a": {**w, "shape": [3]}}, data),
        "dtype": _safetensors_bytes({"a": {**w, "dtype": "OBJECT"}}, data),
        "duplicate_key": (lambda raw: len(raw).to_bytes(8, "little") + raw + data)(
            b'{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, '
            b'"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'
        ),
        "not_json": (5).to_bytes(8, "little") + b"\xff\xfe{{{",
    }
    (tmp_path / "bad.safetensors").write_bytes(blobs[case])
    with pytest.raises(CnnlabError):
        small_model(None).load_weights(tmp_path / "bad.safetensors")


def test_hdf5_links_and_external_storage_are_refused(tmp_path):
    model, _, _ = trained()
    model.save_weights(tmp_path / "m.weights.h5")
    (tmp_path / "raw.bin").write_bytes(bytes(4 * 36))
    external = tmp_path / "external.weights.h5"
    external.write_bytes((tmp_path / "m.weights.h5").read_bytes())
    with h5py.File(external, "r+") as f:
        del f["layers/conv2d/vars/0"]
        f["layers/conv2d/vars"].create_dataset(
            "0",
            shape=(3, 3, 1, 4),
            dtype="float32",
            external=[(str(tmp_path / "raw.bin"), 0, 4 * 36)],
        )
    with pytest.raises(CnnlabError, match="other files"):
        small_model(None).load_weights(external)
    linked = tmp_path / "linked.weights.h5"
    linked.write_bytes((tmp_path / "m.weights.h5").read_bytes())
    with h5py.File(linked, "r+") as f:
        del f["layers/dense"]
        f["layers/dense"] = h5py.ExternalLink(
            str(tmp_path / "m.weights.h5"), "/layers/dense"
        )
    with pytest.raises(CnnlabError, match="ExternalLink"):
        small_model(None).load_weights(linked)


def test_counters_alone_do_not_overwrite_a_running_optimizer(tmp_path):
    untrained = small_model("adam")  # compiled, never trained: 2 variables
    untrained.save_weights(tmp_path / "fresh.weights.h5")
    model, _, _ = trained("adam")
    state = slots(model)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        model.load_weights(tmp_path / "fresh.weights.h5")
    assert model.optimizer.iterations == 2
    assert all(np.array_equal(a, b) for a, b in zip(state, slots(model)))


def test_an_unbuilt_model_saves_with_a_warning_and_loads_unbuilt(tmp_path):
    clear_session()
    model = keras.Sequential([keras.layers.Dense(3, name="head")])
    with pytest.warns(UserWarning, match="not yet been built"):
        model.save(tmp_path / "u.keras")
    loaded = keras.models.load_model(tmp_path / "u.keras")
    assert not loaded.built and [layer.name for layer in loaded.layers] == ["head"]
