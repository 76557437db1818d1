"""Normalization, Dropout's ``noise_shape`` and per-channel Rescaling (the layers keras.applications'
EfficientNet needs) against real Keras 3 (fixtures from scripts/make_application_fixtures2.py; no Keras
needed here): adapted statistics, predictions of a saved model, configs, weight files, gradients and
clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab import keras
from cnnlab.errors import ShapeError
from cnnlab.layers import LAYER_CLASSES, clear_session
from cnnlab.ops import normalize as norm_ops

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "applications2"
layers = keras.layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def load(name):
    with np.load(FIXTURES / name, allow_pickle=False) as f:
        return dict(f)


# ---- against Keras ------------------------------------------------------------
AXES = [-1, None, (1, 3), (1, 2, 3)]


@pytest.mark.parametrize("form", ["array", "batches"])
@pytest.mark.parametrize("i", range(len(AXES)))
def test_adapt_gives_keras_statistics(i, form):
    ref = load("adapt.npz")
    data = ref["data"]
    given = data if form == "array" else [data[:1], data[1:4], data[4:]]
    layer = layers.Normalization(axis=AXES[i])
    layer.adapt(given)
    mean, variance, count = layer.get_weights()
    assert mean.dtype == np.float32 and count.dtype == np.int32 and count.shape == ()
    np.testing.assert_allclose(mean, ref[f"mean_{i}_{form}"], rtol=1e-6)
    np.testing.assert_allclose(variance, ref[f"variance_{i}_{form}"], rtol=1e-5)
    assert count == ref[f"count_{i}_{form}"]
    np.testing.assert_allclose(
        layer(data[:2]), ref[f"y_{i}_{form}"], rtol=1e-5, atol=1e-6
    )


def test_batched_adapt_equals_the_statistics_of_all_the_data():
    rng = np.random.default_rng(3)
    data = rng.normal(2.0, 3.0, (11, 4, 3)).astype("float32")
    layer = layers.Normalization(axis=-1)
    layer.adapt(iter([data[:2], data[2:9], data[9:]]))  # a generator of batches
    mean, variance, _ = layer.get_weights()
    np.testing.assert_allclose(mean, data.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(variance, data.var(axis=(0, 1)), rtol=1e-5)
    labelled = layers.Normalization(axis=-1)
    labelled.adapt([(data[:5], np.zeros(5)), (data[5:], np.zeros(6))])  # (x, y) batches
    np.testing.assert_allclose(labelled.get_weights()[0], mean, rtol=1e-6)


def test_keras_model_with_the_new_layers_predicts_as_keras():
    ref = load("layers_io.npz")
    model = keras.models.load_model(FIXTURES / "layers.keras")
    np.testing.assert_allclose(
        model.predict(ref["x"], verbose=0), ref["y"], rtol=1e-5, atol=1e-6
    )
    assert model.count_params() == int(ref["params"])
    norms = [layer for layer in model.layers if isinstance(layer, layers.Normalization)]
    assert [len(n.weights) for n in norms] == [3, 3, 0, 0]
    assert [n.weight_names for n in norms[:2]] == [["mean", "variance", "count"]] * 2
    # the adapted statistics came from the file, and adapting again here gives them back
    again = layers.Normalization(axis=-1)
    again.adapt(ref["adapt_x"])
    np.testing.assert_allclose(
        again.get_weights()[0], norms[0].get_weights()[0], rtol=1e-6
    )
    lines = []
    model.summary(
        line_length=100, print_fn=lambda line, line_break=True: lines.append(line)
    )
    totals = [line.strip() for line in "".join(lines).splitlines() if "params:" in line]
    assert totals == json.loads((FIXTURES / "layers_summary.json").read_text())


def test_model_file_round_trip_keeps_statistics_and_count_dtype(tmp_path):
    ref = load("layers_io.npz")
    model = keras.models.load_model(FIXTURES / "layers.keras")
    model.save(tmp_path / "m.keras")
    model.save_weights(tmp_path / "m.weights.h5")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(
        again.predict(ref["x"], verbose=0), model.predict(ref["x"], verbose=0)
    )
    import h5py

    with h5py.File(tmp_path / "m.weights.h5") as f:
        group = f["layers/normalization/vars"]
        assert (
            sorted(group) == ["0", "1", "2"]
            and group["2"].dtype == np.int32
            and group["2"].shape == ()
        )
        np.testing.assert_array_equal(
            group["0"][()], model.get_layer("normalization").get_weights()[0]
        )


# ---- config, shapes and training ------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Normalization(),
        lambda: layers.Normalization(axis=(1, 2)),
        lambda: layers.Normalization(axis=None, mean=2.0, variance=4.0),
        lambda: layers.Normalization(
            mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True
        ),
    ],
)
def test_config_round_trip_and_backward(make):
    layer = make()
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 3)).astype("float32")
    y = layer(x)
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == json.loads(
        json.dumps(config)
    )  # plain JSON values
    rebuilt = layers.Normalization.from_config(config)
    rebuilt(x)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(rebuilt(x), y)
    out, cache = layer.forward(x, training=True)
    dx, grads = layer.backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and grads == [] and layer.trainable_weights == []
    assert "Normalization" in LAYER_CLASSES


def test_given_statistics_broadcast_as_keras_and_invert_undoes():
    x = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    layer = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 0.0])
    y = layer(x)
    # a zero variance divides by Keras's epsilon (1e-7), not by zero
    expected = (x - [1.0, 2.0, 3.0]) / np.maximum(np.sqrt([1.0, 4.0, 0.0]), 1e-7)
    np.testing.assert_allclose(y, expected.astype("float32"), rtol=1e-6)
    back = layers.Normalization(
        mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0], invert=True
    )
    forward = layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    np.testing.assert_allclose(back(forward(x)), x, rtol=1e-5, atol=1e-6)
    # a (4,) mean lines up with the last of the kept axes (1, 2): one value per column
    per_column = layers.Normalization(
        axis=(1, 2), mean=[0.0, 1.0, 2.0], variance=[1.0, 1.0, 1.0]
    )
    np.testing.assert_allclose(
        per_column(x), x - np.array([0.0, 1.0, 2.0], "float32"), rtol=1e-6
    )


def test_frozen_normalization_in_a_trained_model_keeps_its_statistics():
    rng = np.random.default_rng(2)
    x = rng.normal(5.0, 2.0, (32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    norm = layers.Normalization()
    norm.adapt(x)
    before = norm.get_weights()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(1)(norm(inputs)))
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, norm.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert (
        len(model.non_trainable_weights) == 3 and model.count_params() == 4 + 4 + 1 + 5
    )


# ---- gradients -----------------------------------------------------------------
def numerical_grad(f, x, eps=1e-6):
    flat, g = x.reshape(-1), np.zeros(x.size)
    for i in range(x.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g.reshape(x.shape)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    invert=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_standardize_gradient_matches_numerical(shape, invert, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, *shape))
    kept = [1] * x.ndim
    kept[-1] = shape[-1]
    mean = rng.normal(size=kept)
    variance = rng.uniform(0.1, 3.0, kept)
    r = rng.normal(size=x.shape)
    y, scale = norm_ops.standardize_forward(x, mean, variance, invert)
    assert y.dtype == np.float64
    analytic = norm_ops.standardize_backward(r, scale)
    numeric = numerical_grad(
        lambda: float(
            np.sum(norm_ops.standardize_forward(x, mean, variance, invert)[0] * r)
        ),
        x,
    )
    err = np.max(np.abs(analytic - numeric)) / max(1.0, np.max(np.abs(numeric)))
    assert err < 1e-6


def test_layer_backward_is_the_ops():
    x = np.random.default_rng(4).normal(size=(3, 2, 5)).astype("float32")
    layer = layers.Normalization(
        mean=[1.0, 2.0, 3.0, 4.0, 5.0], variance=[1.0, 2.0, 3.0, 4.0, 5.0]
    )
    layer(x)  # builds it
    y, cache = layer.forward(x, training=False)
    dy = np.random.default_rng(5).normal(size=y.shape).astype("float32")
    dx, _ = layer.backward(dy, cache)
    np.testing.assert_allclose(
        dx, dy / np.sqrt(np.arange(1, 6, dtype="float32")), rtol=1e-6
    )


# ---- errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: layers.Normalization(mean=1.0), "both `mean` and `variance`"),
        (lambda: layers.Normalization(mean=[1.0, 2.0], variance=[1.0]), "same shape"),
        (
            lambda: layers.Normalization(
                axis=None, mean=[1.0, 2.0], variance=[1.0, 2.0]
            ),
            "rank of `mean`",
        ),
        (lambda: layers.Normalization(axis="channels"), "`axis`"),
    ],
)
def test_bad_arguments_are_refused(make, fragment):
    with pytest.raises(ShapeError, match="Normalization") as info:
        make()
    assert fragment in str(info.value) and "Received" in str(info.value)


def test_bad_inputs_are_refused_with_shapes():
    layer = layers.Normalization(axis=3)
    with pytest.raises(ShapeError, match=r"range \[-ndim, ndim\)"):
        layer(np.zeros((2, 3), "float32"))
    adapted = layers.Normalization()
    adapted.adapt(np.ones((4, 3), "float32"))
    with pytest.raises(
        ShapeError, match=r"built for input shape .*Received: input shape=\(2, 5\)"
    ):
        adapted(np.zeros((2, 5), "float32"))
    with pytest.raises(ShapeError, match="incompatible shape"):
        adapted.adapt(np.ones((4, 5), "float32"))
    with pytest.raises(ShapeError, match="empty iterable"):
        layers.Normalization().adapt([])
    with pytest.raises(ShapeError, match="given `mean` and `variance`"):
        layers.Normalization(mean=0.0, variance=1.0).adapt(np.ones((2, 1), "float32"))
    wrong = layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 2.0])
    with pytest.raises(
        ShapeError, match=r"does not broadcast .*Received: mean shape=\(2,\)"
    ):
        wrong(np.zeros((2, 3), "float32"))


# ---- Dropout's noise_shape and per-channel Rescaling --------------------------------
def test_dropout_noise_shape_drops_whole_samples_and_keeps_config():
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 1), seed=1)
    x = np.ones((64, 3, 4, 2), "float32")
    y, cache = layer.forward(x, training=True)
    per_sample = y.reshape(64, -1)
    assert np.all(per_sample == per_sample[:, :1])  # one decision per sample
    assert (
        set(np.unique(per_sample)) == {0.0, 2.0}
        and 10 < np.count_nonzero(per_sample[:, 0]) < 54
    )
    dy = np.arange(y.size, dtype="float32").reshape(y.shape)
    dx, _ = layer.backward(dy, cache)
    np.testing.assert_array_equal(dx, dy * (y / 1.0))
    np.testing.assert_array_equal(layer.forward(x, training=False)[0], x)
    config = layer.get_config()
    assert config["noise_shape"] == (None, 1, 1, 1)
    assert layers.Dropout.from_config(config).noise_shape == (None, 1, 1, 1)


@pytest.mark.parametrize("noise_shape", ["abc", (None, 0), (2.5,), 3])
def test_bad_noise_shapes_are_refused(noise_shape):
    with pytest.raises(ShapeError, match="noise_shape"):
        layers.Dropout(0.2, noise_shape=noise_shape)


def test_noise_shape_of_the_wrong_rank_is_refused_at_build():
    layer = layers.Dropout(0.2, noise_shape=(None, 1))
    with pytest.raises(
        ShapeError, match=r"one entry per input axis.*input shape=\(2, 3, 4\)"
    ):
        layer(np.zeros((2, 3, 4), "float32"))


def test_rescaling_per_channel_forward_backward_and_config():
    layer = layers.Rescaling([0.5, 1.0, 2.0], offset=[0.0, 1.0, -1.0])
    x = np.random.default_rng(6).normal(size=(2, 3, 3)).astype("float32")
    y, cache = layer.forward(x, training=False)
    np.testing.assert_allclose(y, x * [0.5, 1.0, 2.0] + [0.0, 1.0, -1.0], rtol=1e-6)
    dx, _ = layer.backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(
        dx, np.broadcast_to(np.float32([0.5, 1.0, 2.0]), x.shape)
    )
    assert layer.get_config()["scale"] == [0.5, 1.0, 2.0]
    with pytest.raises(
        ShapeError, match=r"does not broadcast.*Received: input shape=\(2, 4\)"
    ):
        layers.Rescaling([1.0, 2.0, 3.0])(np.zeros((2, 4), "float32"))
    with pytest.raises(ShapeError, match="finite number"):
        layers.Rescaling([1.0, float("nan")])
