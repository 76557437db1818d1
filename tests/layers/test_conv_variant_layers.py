"""Conv1DTranspose/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D, grouped and causal Conv:
Keras's weight layouts and output shapes, get_config/from_config, and the model's execution
plan (crops, pooling first) with a grouped or causal convolution in it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import LAYER_CLASSES, clear_session
from cnnlab.ops import shapes

layers = keras.layers


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


@pytest.mark.parametrize(
    "make, input_shape, weights, output",
    [
        (
            lambda: layers.Conv2DTranspose(5, 3, strides=2, padding="same"),
            (4, 4, 3),
            [(3, 3, 5, 3), (5,)],
            (8, 8, 5),
        ),
        (
            lambda: layers.Conv2DTranspose(5, 3, strides=2),
            (4, 4, 3),
            [(3, 3, 5, 3), (5,)],
            (9, 9, 5),
        ),
        (
            lambda: layers.Conv2DTranspose(2, 1, strides=3),
            (4, 4, 3),
            [(1, 1, 2, 3), (2,)],
            (12, 12, 2),
        ),
        (
            lambda: layers.Conv2DTranspose(2, 1, strides=3, output_padding=0),
            (4, 4, 3),
            [(1, 1, 2, 3), (2,)],
            (10, 10, 2),
        ),
        (
            lambda: layers.Conv1DTranspose(
                4, 3, strides=2, padding="same", output_padding=1, use_bias=False
            ),
            (6, 2),
            [(3, 4, 2)],
            (12, 4),
        ),
        (
            lambda: layers.Conv3DTranspose(2, (2, 3, 1), dilation_rate=(1, 2, 1)),
            (3, 3, 3, 1),
            [(2, 3, 1, 2, 1), (2,)],
            (4, 7, 3, 2),
        ),
        (
            lambda: layers.DepthwiseConv2D(3, depth_multiplier=4),
            (6, 6, 3),
            [(3, 3, 3, 4), (12,)],
            (4, 4, 12),
        ),
        (
            lambda: layers.DepthwiseConv1D(2, strides=2, padding="same"),
            (7, 5),
            [(2, 5, 1), (5,)],
            (4, 5),
        ),
        (
            lambda: layers.SeparableConv2D(7, 3, depth_multiplier=2),
            (6, 6, 3),
            [(3, 3, 3, 2), (1, 1, 6, 7), (7,)],
            (4, 4, 7),
        ),
        (
            lambda: layers.SeparableConv1D(4, 3, padding="same", use_bias=False),
            (9, 2),
            [(3, 2, 1), (1, 2, 4)],
            (9, 4),
        ),
        (
            lambda: layers.Conv2D(6, 3, groups=3),
            (6, 6, 9),
            [(3, 3, 3, 6), (6,)],
            (4, 4, 6),
        ),
        (
            lambda: layers.Conv1D(4, 3, padding="causal", dilation_rate=3),
            (10, 2),
            [(3, 2, 4), (4,)],
            (10, 4),
        ),
    ],
)
def test_weights_and_output_shapes_are_keras_s(make, input_shape, weights, output):
    layer = make()
    y = layer(
        np.random.default_rng(0).standard_normal((2, *input_shape)).astype("float32")
    )
    assert [w.shape for w in layer.get_weights()] == weights
    assert y.shape == (2, *output) and y.dtype == np.float32
    assert layer.compute_output_shape((None, *input_shape)) == (None, *output)
    assert layer.count_params() == sum(int(np.prod(s)) for s in weights)
    rebuilt = type(layer).from_config(layer.get_config())
    rebuilt(np.zeros((1, *input_shape), "float32"))
    rebuilt.set_weights(layer.get_weights())
    x = np.random.default_rng(1).standard_normal((3, *input_shape)).astype("float32")
    np.testing.assert_array_equal(rebuilt(x), layer(x))
    assert type(layer).__name__ in LAYER_CLASSES


def test_param_count_formulas_match_the_weights():
    assert shapes.transpose_param_count((3, 3, 5, 3)) == 3 * 3 * 5 * 3 + 5
    assert shapes.depthwise_param_count((3, 3, 3, 4)) == 3 * 3 * 3 * 4 + 12
    assert shapes.separable_param_count((3, 3, 3, 2), (1, 1, 6, 7)) == 54 + 42 + 7
    assert (
        shapes.separable_param_count((3, 3, 3, 2), (1, 1, 6, 7), use_bias=False) == 96
    )
    layer = layers.SeparableConv2D(7, 3, depth_multiplier=2)
    layer(np.zeros((1, 6, 6, 3), "float32"))
    assert (
        layer.param_formula() == "3*3*3*2 + 1*1*6*7 + 7 = 103"
        and layer.count_params() == 103
    )


def test_causal_output_never_sees_the_future():
    layer = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = np.random.default_rng(0).standard_normal((1, 12, 3)).astype("float32")
    y = layer(x)
    x2 = x.copy()
    x2[:, 7:] += 5.0  # change inputs from t = 7 on
    y2 = layer(x2)
    np.testing.assert_array_equal(y[:, :7], y2[:, :7])
    assert not np.allclose(y[:, 7:], y2[:, 7:])
    assert layer.get_config()["padding"] == "causal"


@pytest.mark.parametrize(
    "conv",
    [
        lambda: layers.Conv2D(
            4, 3, groups=2, activation="relu", bias_initializer="random_normal"
        ),
        lambda: layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
    ],
)
def test_plan_with_grouped_conv_matches_layer_by_layer(conv):
    """Pooling first and crops must carry ``groups`` through ``forward_linear``."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((11, 11, 2)),
            conv(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    x = np.random.default_rng(0).standard_normal((3, 11, 11, 2)).astype("float32")
    h = x
    for layer in model.layers:
        h = layer(h)
    np.testing.assert_allclose(model.predict(x, verbose=0), h, rtol=1e-5, atol=1e-6)
    model.compile("sgd", "mse")
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, np.zeros((3, 2), "float32"))
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_a_model_of_the_new_convolutions_learns():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 8, 2)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int64")
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            layers.SeparableConv2D(8, 3, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, strides=2, activation="relu"),
            layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2D(4, 3, groups=2, activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history
    assert history["loss"][-1] < 0.6 * history["loss"][0]


def test_option_mistakes_are_refused():
    with pytest.raises(
        CnnlabError, match="cnnlab supports only depthwise_regularizer=None"
    ):
        layers.DepthwiseConv2D(3, depthwise_regularizer="l2")
    with pytest.raises(CnnlabError, match="data_format"):
        layers.Conv2DTranspose(2, 3, data_format="channels_first")
