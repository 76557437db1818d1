"""Layers as Keras 3 has them: names, weight layouts, configs, defaults, shapes, initializers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab import keras

L = keras.layers


def built(layer, input_shape):
    """Build a standalone layer for ``input_shape`` (batch axis first); returns its output shape."""
    return layer.ensure_built(input_shape)


# --------------------------------------------------------------------------- automatic names


def test_automatic_names_follow_keras():
    keras.backend.clear_session()
    made = [
        L.Conv2D(4, 3),
        L.Conv2D(4, 3),
        L.MaxPooling2D(),
        L.MaxPool2D(),
        L.LeakyReLU(),
        L.Dense(3),
        L.Dense(3),
        L.Flatten(),
        L.Dropout(0.5),
        L.ReLU(),
        L.AveragePooling2D(2),
        L.GlobalAveragePooling2D(),
        L.GlobalMaxPooling1D(),
        L.Conv1D(2, 3),
        L.Conv3D(2, 3),
        L.Activation("relu"),
        L.Softmax(),
        L.Reshape((4,)),
        L.AveragePooling1D(2),
        L.MaxPooling3D(),
    ]
    assert [layer.name for layer in made] == [
        "conv2d",
        "conv2d_1",
        "max_pooling2d",
        "max_pooling2d_1",
        "leaky_re_lu",
        "dense",
        "dense_1",
        "flatten",
        "dropout",
        "re_lu",
        "average_pooling2d",
        "global_average_pooling2d",
        "global_max_pooling1d",
        "conv1d",
        "conv3d",
        "activation",
        "softmax",
        "reshape",
        "average_pooling1d",
        "max_pooling3d",
    ]


def test_clear_session_restarts_names_and_models_are_named_too():
    keras.backend.clear_session()
    assert keras.Sequential().name == "sequential"
    assert keras.Sequential().name == "sequential_1"
    assert L.Dense(2).name == "dense"
    keras.backend.clear_session()
    assert keras.Sequential().name == "sequential"
    assert L.Dense(2).name == "dense"
    assert L.Dense(2, name="head").name == "head"


def test_sequential_refuses_duplicate_layer_names():
    model = keras.Sequential([keras.Input(shape=(4,)), L.Dense(2, name="same")])
    with pytest.raises(ValueError, match="same"):
        model.add(L.Dense(2, name="same"))


def test_input_layer_not_listed():
    keras.backend.clear_session()
    model = keras.Sequential(
        [keras.Input(shape=(6, 6, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(3)]
    )
    assert [layer.name for layer in model.layers] == ["conv2d", "flatten", "dense"]
    assert model.input_shape == (None, 6, 6, 1)
    assert model.output_shape == (None, 3)


# --------------------------------------------------------------------------- weight layouts


def test_conv_and_dense_weight_layouts():
    conv = L.Conv2D(5, 3)
    built(conv, (None, 9, 9, 2))
    k, b = conv.get_weights()
    assert k.shape == (3, 3, 2, 5) and b.shape == (5,)
    assert k.dtype == np.float32 and b.dtype == np.float32
    assert np.all(b == 0), "bias_initializer='zeros'"

    c1 = L.Conv1D(5, 4)
    built(c1, (None, 10, 3))
    assert [w.shape for w in c1.get_weights()] == [(4, 3, 5), (5,)]
    c3 = L.Conv3D(5, (2, 3, 4))
    built(c3, (None, 6, 6, 6, 3))
    assert [w.shape for w in c3.get_weights()] == [(2, 3, 4, 3, 5), (5,)]

    dense = L.Dense(4)
    built(dense, (None, 7))
    assert [w.shape for w in dense.get_weights()] == [(7, 4), (4,)]
    nobias = L.Dense(4, use_bias=False)
    built(nobias, (None, 7))
    assert [w.shape for w in nobias.get_weights()] == [(7, 4)]


def test_conv_kernel_layout_is_kh_kw_cin_cout_cross_correlation():
    """A kernel with a single 1 at [0, 0, c_in=1, c_out=0] copies input channel 1, shifted
    by one row and column (the top-left tap of a centred 3x3 window), into output channel 0."""
    layer = L.Conv2D(2, 3, padding="same", use_bias=False)
    x = np.random.default_rng(0).normal(size=(2, 6, 7, 3)).astype(np.float32)
    built(layer, (None, 6, 7, 3))
    k = np.zeros((3, 3, 3, 2), np.float32)
    k[0, 0, 1, 0] = 1.0
    layer.set_weights([k])
    y = layer(x)
    assert y.shape == (2, 6, 7, 2)
    np.testing.assert_array_equal(y[:, 1:, 1:, 0], x[:, :-1, :-1, 1])
    np.testing.assert_array_equal(y[:, 0, :, 0], 0)
    np.testing.assert_array_equal(y[..., 1], 0)


def test_dense_kernel_is_in_by_out():
    layer = L.Dense(3)
    built(layer, (None, 4))
    k = np.arange(12, dtype=np.float32).reshape(4, 3)
    b = np.array([1.0, -1.0, 0.5], np.float32)
    layer.set_weights([k, b])
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(layer(x), x @ k + b, rtol=1e-6)


def test_get_weights_returns_copies():
    layer = L.Dense(3)
    built(layer, (None, 4))
    w = layer.get_weights()
    w[0][:] = 123.0
    assert not np.any(layer.get_weights()[0] == 123.0)


def test_set_weights_shape_error_names_layer_and_both_shapes():
    layer = L.Conv2D(2, 3, name="my_conv")
    built(layer, (None, 5, 5, 1))
    with pytest.raises(ValueError) as info:
        layer.set_weights([np.zeros((3, 3, 1, 3), np.float32), np.zeros(2, np.float32)])
    msg = str(info.value)
    assert "my_conv" in msg and "(3, 3, 1, 2)" in msg and "(3, 3, 1, 3)" in msg

    with pytest.raises(ValueError) as info:
        layer.set_weights([np.zeros((3, 3, 1, 2), np.float32)])
    assert "my_conv" in str(info.value)

    dense = L.Dense(4, name="my_dense")
    built(dense, (None, 7))
    with pytest.raises(ValueError) as info:
        dense.set_weights([np.zeros((4, 7), np.float32), np.zeros(4, np.float32)])
    msg = str(info.value)
    assert "my_dense" in msg and "(7, 4)" in msg and "(4, 7)" in msg


def test_set_weights_failure_leaves_weights_unchanged():
    layer = L.Dense(2)
    built(layer, (None, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError):
        layer.set_weights(
            [np.ones((3, 2), np.float32), np.ones(3, np.float32)]
        )  # second one wrong
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_weights_round_trip_through_model():
    keras.utils.set_random_seed(0)
    a = keras.Sequential(
        [
            keras.Input(shape=(6, 6, 1)),
            L.Conv2D(3, 3, activation="relu"),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    b = keras.Sequential(
        [
            keras.Input(shape=(6, 6, 1)),
            L.Conv2D(3, 3, activation="relu"),
            L.Flatten(),
            L.Dense(2),
        ]
    )
    x = np.random.default_rng(2).normal(size=(4, 6, 6, 1)).astype(np.float32)
    b.set_weights(a.get_weights())
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))


# --------------------------------------------------------------------------- get_config / from_config

CONFIG_CASES = [
    (
        lambda: L.Conv1D(4, 3, strides=2, padding="same", activation="relu"),
        (None, 11, 2),
    ),
    (
        lambda: L.Conv2D(
            4, (3, 2), dilation_rate=2, use_bias=False, kernel_initializer="he_normal"
        ),
        (None, 9, 9, 3),
    ),
    (lambda: L.Conv3D(2, 2, padding="same"), (None, 4, 5, 6, 1)),
    (lambda: L.Dense(5, activation="softmax"), (None, 7)),
    (lambda: L.Flatten(), (None, 3, 4, 2)),
    (lambda: L.Reshape((4, -1)), (None, 2, 6)),
    (lambda: L.Dropout(0.25), (None, 5)),
    (lambda: L.Activation("tanh"), (None, 5)),
    (lambda: L.LeakyReLU(negative_slope=0.1), (None, 5)),
    (lambda: L.ReLU(max_value=6.0), (None, 5)),
    (lambda: L.Softmax(), (None, 5)),
    (lambda: L.MaxPooling1D(3, strides=1), (None, 10, 2)),
    (lambda: L.MaxPooling2D(), (None, 7, 7, 2)),
    (lambda: L.MaxPooling3D(2, padding="same"), (None, 5, 5, 5, 1)),
    (lambda: L.AveragePooling1D(2), (None, 9, 2)),
    (lambda: L.AveragePooling2D(3, strides=2, padding="same"), (None, 7, 8, 2)),
    (lambda: L.AveragePooling3D((1, 2, 2)), (None, 3, 4, 4, 1)),
    (lambda: L.GlobalMaxPooling2D(keepdims=True), (None, 4, 4, 3)),
    (lambda: L.GlobalAveragePooling1D(), (None, 6, 3)),
    (lambda: L.GlobalAveragePooling3D(), (None, 2, 3, 4, 5)),
]


@pytest.mark.parametrize(
    "make, input_shape",
    CONFIG_CASES,
    ids=[f"case{i}" for i in range(len(CONFIG_CASES))],
)
def test_config_round_trip_gives_same_output_shape(make, input_shape):
    layer = make()
    out = built(layer, input_shape)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert built(clone, input_shape) == out
    assert [w.shape for w in clone.get_weights()] == [
        w.shape for w in layer.get_weights()
    ]
    x = np.random.default_rng(0).normal(size=(2, *input_shape[1:])).astype(np.float32)
    assert layer(x).shape == clone(x).shape == (2, *out[1:])


def test_config_keeps_initializers():
    layer = L.Conv2D(3, 3, kernel_initializer="he_normal", bias_initializer="ones")
    clone = L.Conv2D.from_config(layer.get_config())
    assert type(clone.kernel_initializer).__name__ == "HeNormal"
    built(clone, (None, 5, 5, 1))
    np.testing.assert_array_equal(clone.get_weights()[1], 1.0)


def test_sequential_config_round_trip():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            L.Conv2D(4, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Dropout(0.2),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ]
    )
    clone = keras.Sequential.from_config(model.get_config())
    assert [layer.output_shape for layer in clone.layers] == [
        layer.output_shape for layer in model.layers
    ]
    assert [type(layer).__name__ for layer in clone.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert clone.count_params() == model.count_params()
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        clone.predict(x, verbose=0), model.predict(x, verbose=0)
    )


# --------------------------------------------------------------------------- activations and dropout


def test_leaky_relu_layer_slope_03_function_slope_02():
    x = np.array([[-10.0, 0.0, 5.0]], dtype=np.float32)
    np.testing.assert_allclose(L.LeakyReLU()(x), [[-3.0, 0.0, 5.0]], rtol=1e-6)
    np.testing.assert_allclose(
        keras.activations.leaky_relu(x), [[-2.0, 0.0, 5.0]], rtol=1e-6
    )
    np.testing.assert_allclose(
        L.LeakyReLU(negative_slope=0.01)(x), [[-0.1, 0.0, 5.0]], rtol=1e-6
    )
    assert L.LeakyReLU().get_config()["negative_slope"] == pytest.approx(0.3)


def test_dropout_is_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(50, 40)).astype(np.float32)
    layer = L.Dropout(0.5)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(40,)), L.Dropout(0.5)])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_dropout_zeroes_about_rate_and_scales_survivors(rate):
    keras.utils.set_random_seed(1)
    x = np.full((200, 500), 2.0, dtype=np.float32)
    y = L.Dropout(rate)(x, training=True)
    dropped = float(np.mean(y == 0))
    n = x.size
    assert abs(dropped - rate) < 6 * math.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[y != 0], 2.0 / (1 - rate), rtol=1e-6)
    assert float(y.mean()) == pytest.approx(2.0, rel=0.02)  # expectation preserved


def test_dropout_rate_out_of_range_refused():
    with pytest.raises(ValueError):
        L.Dropout(1.0)
    with pytest.raises(ValueError):
        L.Dropout(-0.1)


# --------------------------------------------------------------------------- pooling defaults


def test_average_pooling_requires_pool_size():
    for cls in (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D):
        with pytest.raises(TypeError):
            cls()


def test_max_pooling_defaults():
    p = L.MaxPooling2D()
    assert p.pool_size == (2, 2) and p.strides == (2, 2) and p.padding == "valid"
    assert L.MaxPooling2D(3).strides == (3, 3), "strides=None means the pool size"
    assert L.MaxPooling2D((2, 3)).strides == (2, 3)
    assert L.MaxPooling2D(3, strides=1).strides == (1, 1)
    assert L.MaxPooling1D().pool_size == (2,)
    assert L.MaxPooling3D().pool_size == (2, 2, 2)
    assert L.AveragePooling2D(3).strides == (3, 3)


def test_max_pooling_value():
    x = np.array([[1, 3], [2, 4]], np.float32).reshape(1, 2, 2, 1)
    assert float(L.MaxPooling2D()(x)[0, 0, 0, 0]) == 4.0
    assert float(L.AveragePooling2D(2)(x)[0, 0, 0, 0]) == 2.5


# --------------------------------------------------------------------------- conv arguments


@pytest.mark.parametrize("cls, k", [(L.Conv1D, 3), (L.Conv2D, 3), (L.Conv3D, 2)])
def test_conv_refuses_strides_with_dilation(cls, k):
    with pytest.raises(ValueError, match="dilation"):
        cls(2, k, strides=2, dilation_rate=2)
    cls(2, k, strides=2)  # each alone is fine
    cls(2, k, dilation_rate=2)


def test_conv_bad_arguments_refused():
    with pytest.raises(ValueError):
        L.Conv2D(0, 3)
    with pytest.raises(ValueError):
        L.Conv2D(2, 3, padding="full")


# --------------------------------------------------------------------------- output shapes

SHAPE_CASES = [
    # conv, valid / same / strides / dilation
    (lambda: L.Conv1D(4, 3), (None, 10, 2), (None, 8, 4)),
    (lambda: L.Conv1D(4, 3, strides=2, padding="same"), (None, 10, 2), (None, 5, 4)),
    (lambda: L.Conv1D(4, 3, strides=2), (None, 10, 2), (None, 4, 4)),
    (lambda: L.Conv1D(4, 3, dilation_rate=3), (None, 10, 2), (None, 4, 4)),
    (lambda: L.Conv2D(8, (3, 5)), (None, 12, 10, 3), (None, 10, 6, 8)),
    (
        lambda: L.Conv2D(8, 3, strides=2, padding="same"),
        (None, 7, 8, 3),
        (None, 4, 4, 8),
    ),
    (lambda: L.Conv2D(8, 3, strides=(2, 3)), (None, 7, 8, 3), (None, 3, 2, 8)),
    (lambda: L.Conv2D(8, (3, 5), dilation_rate=2), (None, 12, 10, 3), (None, 8, 2, 8)),
    (
        lambda: L.Conv2D(8, 4, padding="same", dilation_rate=2),
        (None, 9, 9, 1),
        (None, 9, 9, 8),
    ),
    (lambda: L.Conv2D(32, 3), (None, 28, 28, 1), (None, 26, 26, 32)),
    (lambda: L.Conv3D(2, 3), (None, 6, 7, 8, 1), (None, 4, 5, 6, 2)),
    (
        lambda: L.Conv3D(2, (1, 2, 3), strides=2, padding="same"),
        (None, 5, 6, 7, 3),
        (None, 3, 3, 4, 2),
    ),
    # pooling
    (lambda: L.MaxPooling1D(), (None, 11, 3), (None, 5, 3)),
    (lambda: L.MaxPooling1D(3, strides=1), (None, 10, 3), (None, 8, 3)),
    (lambda: L.AveragePooling1D(2, padding="same"), (None, 11, 3), (None, 6, 3)),
    (lambda: L.MaxPooling2D(), (None, 26, 26, 32), (None, 13, 13, 32)),
    (lambda: L.MaxPooling2D(), (None, 11, 11, 64), (None, 5, 5, 64)),
    (
        lambda: L.MaxPooling2D(3, strides=2, padding="same"),
        (None, 7, 7, 1),
        (None, 4, 4, 1),
    ),
    (lambda: L.AveragePooling2D(3, strides=2), (None, 7, 8, 2), (None, 3, 3, 2)),
    (lambda: L.AveragePooling2D((2, 3)), (None, 6, 6, 1), (None, 3, 2, 1)),
    (lambda: L.MaxPooling3D(), (None, 4, 5, 6, 1), (None, 2, 2, 3, 1)),
    (
        lambda: L.AveragePooling3D(2, padding="same"),
        (None, 3, 5, 6, 2),
        (None, 2, 3, 3, 2),
    ),
    (lambda: L.GlobalMaxPooling1D(), (None, 7, 3), (None, 3)),
    (lambda: L.GlobalAveragePooling2D(), (None, 4, 5, 3), (None, 3)),
    (lambda: L.GlobalAveragePooling2D(keepdims=True), (None, 4, 5, 3), (None, 1, 1, 3)),
    (lambda: L.GlobalMaxPooling3D(), (None, 2, 3, 4, 5), (None, 5)),
    # core
    (lambda: L.Flatten(), (None, 5, 5, 64), (None, 1600)),
    (lambda: L.Dense(128), (None, 1600), (None, 128)),
    (lambda: L.Reshape((3, 4)), (None, 12), (None, 3, 4)),
]


@pytest.mark.parametrize(
    "make, input_shape, expected",
    SHAPE_CASES,
    ids=[f"case{i}-{e}" for i, (_, _, e) in enumerate(SHAPE_CASES)],
)
def test_output_shapes(make, input_shape, expected):
    layer = make()
    assert built(layer, input_shape) == expected
    x = np.random.default_rng(0).normal(size=(2, *input_shape[1:])).astype(np.float32)
    assert layer(x).shape == (2, *expected[1:])


def test_seed004_shapes_and_params(seed004_model):
    model = seed004_model()
    assert [layer.output_shape for layer in model.layers] == [
        (None, 26, 26, 32),
        (None, 13, 13, 32),
        (None, 11, 11, 64),
        (None, 5, 5, 64),
        (None, 1600),
        (None, 128),
        (None, 10),
    ]
    assert [layer.count_params() for layer in model.layers] == [
        320,
        0,
        18496,
        0,
        0,
        204928,
        1290,
    ]
    assert model.count_params() == 225034


# --------------------------------------------------------------------------- initializer statistics


def sample(init, shape, seed=0):
    keras.utils.set_random_seed(seed)
    return np.asarray(keras.initializers.get(init)(shape), dtype=np.float64)


def check_uniform(w, limit):
    assert w.min() >= -limit and w.max() <= limit
    assert w.max() > 0.99 * limit and w.min() < -0.99 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    assert abs(w.mean()) < 0.02 * limit


def check_truncated_normal(w, std):
    """Keras's truncated normal: a normal of stddev ``std / 0.8796`` cut at two of
    its stddevs, so the values have stddev ``std`` and never pass ``2 * std / 0.8796``."""
    bound = 2 * std / 0.87962566103423978
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.97 * bound
    assert w.std() == pytest.approx(std, rel=0.02)
    assert abs(w.mean()) < 0.03 * std


def test_glorot_uniform_conv_fans():
    shape = (3, 3, 64, 128)
    fan_in, fan_out = 9 * 64, 9 * 128
    check_uniform(sample("glorot_uniform", shape), math.sqrt(6 / (fan_in + fan_out)))


def test_glorot_uniform_dense_fans():
    check_uniform(sample("glorot_uniform", (300, 200)), math.sqrt(6 / 500))


def test_glorot_normal_is_truncated():
    check_truncated_normal(
        sample("glorot_normal", (3, 3, 64, 128)), math.sqrt(2 / (9 * 64 + 9 * 128))
    )


def test_he_normal_truncated_at_two_std():
    shape = (3, 3, 64, 128)
    check_truncated_normal(sample("he_normal", shape), math.sqrt(2 / (9 * 64)))
    check_truncated_normal(sample("he_normal", (500, 300)), math.sqrt(2 / 500))


def test_he_uniform_limit():
    check_uniform(sample("he_uniform", (5, 5, 32, 64)), math.sqrt(6 / (25 * 32)))


def test_random_normal_default_std():
    w = sample("random_normal", (400, 400))
    assert w.std() == pytest.approx(0.05, rel=0.02)
    assert abs(w.mean()) < 0.001
    assert np.abs(w).max() > 3 * 0.05, "not truncated"
    init = keras.initializers.RandomNormal()
    assert (init.mean, init.stddev) == (0.0, 0.05)


def test_random_uniform_default_range():
    check_uniform(sample("random_uniform", (400, 400)), 0.05)
    init = keras.initializers.RandomUniform()
    assert (init.minval, init.maxval) == (-0.05, 0.05)


def test_layer_initializers_have_the_same_statistics():
    keras.utils.set_random_seed(0)
    conv = L.Conv2D(128, 3, kernel_initializer="he_normal")
    built(conv, (None, 8, 8, 64))
    check_truncated_normal(conv.get_weights()[0].astype(np.float64), math.sqrt(2 / 576))
    dense = L.Dense(200)  # default glorot_uniform, zero bias
    built(dense, (None, 300))
    k, b = dense.get_weights()
    check_uniform(k.astype(np.float64), math.sqrt(6 / 500))
    assert np.all(b == 0)
    conv_default = L.Conv2D(128, 3)
    built(conv_default, (None, 8, 8, 64))
    check_uniform(
        conv_default.get_weights()[0].astype(np.float64), math.sqrt(6 / (576 + 1152))
    )


def test_initializers_are_float32_and_seeded():
    for name in (
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "he_uniform",
        "random_normal",
        "random_uniform",
    ):
        assert keras.initializers.get(name)((4, 5)).dtype == np.float32
    a = keras.initializers.RandomNormal(seed=3)((10, 10))
    b = keras.initializers.RandomNormal(seed=3)((10, 10))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        sample("he_normal", (20, 20), seed=7), sample("he_normal", (20, 20), seed=7)
    )
