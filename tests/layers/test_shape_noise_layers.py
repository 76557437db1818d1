"""Shape/resampling layers, PReLU/ELU/ReLU, the noise layers and the refusal of recurrent and
text layers: shapes, configs, training-only noise drawn as Dropout draws, clear errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from cnnlab import keras, specs
from cnnlab import random as cnn_random
from cnnlab.errors import CnnlabError
from cnnlab.layers import LAYER_CLASSES, clear_session

layers = keras.layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


@pytest.mark.parametrize(
    "make, input_shape, output",
    [
        (lambda: layers.ZeroPadding1D((1, 2)), (5, 2), (8, 2)),
        (lambda: layers.ZeroPadding2D(((1, 0), (2, 3))), (4, 4, 2), (5, 9, 2)),
        (lambda: layers.ZeroPadding2D((1, 2)), (4, 4, 2), (6, 8, 2)),
        (lambda: layers.ZeroPadding3D(1), (2, 3, 4, 1), (4, 5, 6, 1)),
        (lambda: layers.Cropping1D(), (5, 2), (3, 2)),
        (lambda: layers.Cropping2D(), (4, 4, 2), (4, 4, 2)),
        (lambda: layers.Cropping2D(((1, 0), (0, 2))), (4, 4, 2), (3, 2, 2)),
        (lambda: layers.Cropping3D(), (4, 3, 5, 1), (2, 1, 3, 1)),
        (lambda: layers.UpSampling1D(3), (4, 2), (12, 2)),
        (lambda: layers.UpSampling2D(), (3, 4, 2), (6, 8, 2)),
        (
            lambda: layers.UpSampling2D((1, 3), interpolation="bilinear"),
            (3, 4, 2),
            (3, 12, 2),
        ),
        (lambda: layers.UpSampling3D((2, 1, 2)), (2, 3, 2, 1), (4, 3, 4, 1)),
        (lambda: layers.Resizing(5, 7, pad_to_aspect_ratio=True), (6, 4, 3), (5, 7, 3)),
        (lambda: layers.CenterCrop(2, 3), (5, 6, 1), (2, 3, 1)),
        (lambda: layers.Rescaling(0.5, offset=1.0), (3, 2), (3, 2)),
        (lambda: layers.Permute((3, 1, 2)), (2, 3, 4), (4, 2, 3)),
        (lambda: layers.RepeatVector(3), (5,), (3, 5)),
        (lambda: layers.Identity(), (2, 3), (2, 3)),
        (lambda: layers.GlobalMaxPooling3D(keepdims=True), (2, 3, 4, 5), (1, 1, 1, 5)),
        (lambda: layers.PReLU(shared_axes=[1, 2]), (4, 4, 3), (4, 4, 3)),
        (lambda: layers.ELU(0.5), (6,), (6,)),
        (lambda: layers.SpatialDropout3D(0.3), (2, 2, 2, 4), (2, 2, 2, 4)),
        (lambda: layers.AlphaDropout(0.3), (6,), (6,)),
    ],
)
def test_shapes_configs_and_backward(make, input_shape, output):
    layer = make()
    x = np.random.default_rng(0).standard_normal((2, *input_shape)).astype("float32")
    layer(x)  # builds it
    y, cache = layer.forward(x, training=False)
    assert y.shape == (2, *output) and y.dtype == np.float32
    assert layer.compute_output_shape((None, *input_shape)) == (None, *output)
    dx, grads = layer.backward(np.ones_like(y), cache)
    assert dx.shape == x.shape and len(grads) == len(layer.trainable_weights)
    rebuilt = type(layer).from_config(layer.get_config())
    rebuilt(x)
    rebuilt.set_weights(layer.get_weights())
    np.testing.assert_array_equal(rebuilt(x), layer(x))
    assert type(layer).__name__ in LAYER_CLASSES


def test_prelu_learns_one_slope_per_channel_and_its_formula():
    layer = layers.PReLU(shared_axes=[1, 2])
    layer(np.zeros((1, 26, 26, 32), "float32"))
    assert (
        layer.get_weights()[0].shape == (1, 1, 32)
        and layer.param_formula() == "1*1*32 = 32"
    )
    full = layers.PReLU()
    full(np.zeros((1, 4, 5), "float32"))
    assert full.count_params() == 20 and np.all(
        full.get_weights()[0] == 0
    )  # Keras starts at zeros
    x = np.array([[[-2.0, 3.0, -1.0, 0.0, 5.0]] * 4], "float32")
    full.set_weights([np.full((4, 5), 0.25, "float32")])
    np.testing.assert_array_equal(full(x)[0, 0], [-0.5, 3.0, -0.25, 0.0, 5.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.SpatialDropout2D(0.5, seed=3),
        lambda: layers.GaussianNoise(0.5, seed=3),
        lambda: layers.GaussianDropout(0.5, seed=3),
        lambda: layers.AlphaDropout(0.5, seed=3),
        lambda: layers.SpatialDropout1D(0.5, seed=3),
    ],
)
def test_noise_is_active_only_in_training_seeded_and_follows_the_thread_stream(make):
    layer = make()
    rank = 3 if type(layer).__name__ == "SpatialDropout1D" else 4
    x = np.random.default_rng(0).standard_normal((4, 6, 6, 3)[:rank]).astype("float32")
    np.testing.assert_array_equal(layer(x), x)  # inference: identity
    y1, _ = layer.forward(x, training=True)
    assert not np.allclose(y1, x)
    again = make()
    np.testing.assert_array_equal(
        again.forward(x, training=True)[0], y1
    )  # the same seed, the same noise
    with cnn_random.thread_stream(
        np.random.default_rng(99)
    ):  # a split batch's own stream
        y_thread, _ = layer.forward(x, training=True)
    with cnn_random.thread_stream(np.random.default_rng(99)):
        y_thread2, _ = make().forward(x, training=True)
    np.testing.assert_array_equal(y_thread, y_thread2)
    assert not np.allclose(y_thread, y1) and layer.stochastic


def test_keras_set_random_seed_makes_unseeded_noise_reproducible():
    out = []
    for _ in range(2):
        keras.utils.set_random_seed(5)
        layer = layers.GaussianNoise(0.3)
        out.append(layer.forward(np.zeros((2, 5), "float32"), training=True)[0])
    np.testing.assert_array_equal(out[0], out[1])


def test_relu_follows_keras():
    x = np.linspace(-3, 3, 13, dtype="float32")[None]
    y = layers.ReLU(max_value=2.0, negative_slope=0.5, threshold=1.0)(x)
    expected = np.where(
        x > 1.0, np.minimum(x, 2.0), 0.5 * (x - 1.0)
    )  # negative_slope*(x - t) below t
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    with pytest.raises(
        CnnlabError,
        match="threshold of a ReLU layer cannot be None or a negative value",
    ):
        layers.ReLU(threshold=-1.0)
    with pytest.raises(
        CnnlabError, match="max_value of a ReLU layer cannot be a negative value"
    ):
        layers.ReLU(max_value=-1.0)


def test_activations_by_name_and_as_functions():
    x = np.linspace(-4, 4, 9, dtype="float32")[None]
    for name in (
        "gelu",
        "elu",
        "selu",
        "relu6",
        "hard_sigmoid",
        "hard_silu",
        "hard_swish",
        "silu",
        "swish",
        "softsign",
        "softplus",
        "mish",
        "log_softmax",
        "exponential",
    ):
        fn = getattr(keras.activations, name)
        assert (
            keras.activations.get(name) is fn
            or keras.activations.get(name).__name__ == fn.__name__
        )
        dense = layers.Dense(3, activation=fn)
        by_name = layers.Dense(3, activation=name)
        dense(x), by_name(x)
        by_name.set_weights(dense.get_weights())
        np.testing.assert_array_equal(dense(x), by_name(x))
        assert dense.get_config()["activation"] == name or name in (
            "swish",
            "hard_swish",
        )
    np.testing.assert_allclose(
        keras.activations.hard_sigmoid(x), np.clip(x + 3, 0, 6) / 6
    )
    np.testing.assert_allclose(
        keras.activations.relu(x, max_value=1.0, threshold=-2.0, negative_slope=0.5),
        [[-1.0, -0.5, 0, 0, 0, 1, 1, 1, 1]],
    )
    assert keras.activations.gelu(np.float32([1.0]))[0] == pytest.approx(
        0.8413447, rel=1e-6
    )  # exact erf form
    assert keras.activations.gelu(np.float32([1.0]), approximate=True)[
        0
    ] == pytest.approx(0.8411920, rel=1e-6)


@pytest.mark.parametrize(
    "name",
    ["LSTM", "GRU", "SimpleRNN", "Bidirectional", "Embedding", "TextVectorization"],
)
def test_recurrent_and_text_layers_are_refused_as_outside_a_cnn_library(name, tmp_path):
    with pytest.raises(CnnlabError, match=f"{name} is a .* cnnlab is a CNN library"):
        getattr(keras.layers, name)
    assert not hasattr(keras.layers, name)
    # in a .keras file
    model = keras.Sequential(
        [keras.Input((4, 3)), layers.Conv1D(2, 2), layers.Flatten(), layers.Dense(2)]
    )
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["class_name"] = name
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(CnnlabError, match=f"{name} is a .*CNN library"):
        keras.models.load_model(tmp_path / "bad.keras")
    # in a model spec
    with pytest.raises(CnnlabError, match=f"{name} is a .*CNN library"):
        specs.build_model(
            {
                "input_shape": [4, 3],
                "layers": [{"class_name": name, "config": {"units": 3}}],
            }
        )
