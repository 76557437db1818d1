"""BatchNormalization as a layer: Keras 3's weights, modes, frozen behaviour, the whole batch
in the thread split, the exactly-zero bias feeding it, config and errors."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import ShapeError
from cnnlab.layers import clear_session
from cnnlab.model import parallel


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def conv_bn_model(**bn_kwargs):
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, padding="same"),
            keras.layers.BatchNormalization(**bn_kwargs),
            keras.layers.ReLU(),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    return model


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 6, 6, 2)) * 3 + 1).astype("float32"), rng.integers(
        0, 2, n
    )


def test_weights_order_and_trainability_as_keras():
    bn = keras.layers.BatchNormalization()
    bn.build((None, 5, 7))
    assert bn.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.shape for w in bn.get_weights()] == [(7,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    bn2 = keras.layers.BatchNormalization(center=False, axis=1)
    bn2.build((None, 5, 7))
    assert (
        bn2.weight_names == ["gamma", "moving_mean", "moving_variance"]
        and bn2.count_params() == 15
    )
    model = conv_bn_model()
    assert len(model.trainable_weights) == 6 and len(model.non_trainable_weights) == 2
    frozen = conv_bn_model(trainable=False)
    assert len(frozen.trainable_weights) == 4 and len(frozen.non_trainable_weights) == 4


def test_training_mode_normalizes_with_batch_statistics_and_moves_the_averages_once():
    bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=0.01)
    x = np.array(
        [[1.0, 10.0], [3.0, 14.0]], dtype="float32"
    )  # means 2, 12; variances 1, 4
    y = bn(x, training=True)
    np.testing.assert_allclose(
        y,
        [
            [-1 / np.sqrt(1.01), -2 / np.sqrt(4.01)],
            [1 / np.sqrt(1.01), 2 / np.sqrt(4.01)],
        ],
        rtol=1e-6,
    )
    mean, var = bn.get_weights()[2:]
    np.testing.assert_allclose(
        mean, [0.1 * 2, 0.1 * 12], rtol=1e-6
    )  # 0 * 0.9 + batch * 0.1
    np.testing.assert_allclose(
        var, [0.9 + 0.1 * 1, 0.9 + 0.1 * 4], rtol=1e-6
    )  # 1 * 0.9 + batch * 0.1
    np.testing.assert_allclose(
        bn(x), (x - mean) / np.sqrt(var + 0.01), rtol=1e-6
    )  # inference
    np.testing.assert_array_equal(bn.get_weights()[2], mean)  # unchanged by it


def test_fit_updates_moving_statistics_once_per_step_even_when_threads_split_batches(
    monkeypatch,
):
    monkeypatch.setattr(parallel, "get_num_threads", lambda: 2)
    assert len(parallel.split(64)) == 2 and parallel.split(64, whole=True) == [
        slice(0, 64)
    ]
    model = conv_bn_model()
    x, y = data(64)
    conv, bn = model.layers[0], model.layers[1]
    z = conv(x)  # BN's input before the step
    before = bn.get_weights()
    model.train_on_batch(x, y)
    mean = z.reshape(-1, 3).mean(axis=0)
    var = z.reshape(-1, 3).var(axis=0)
    np.testing.assert_allclose(
        bn.get_weights()[2], before[2] * 0.99 + mean * 0.01, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        bn.get_weights()[3], before[3] * 0.99 + var * 0.01, rtol=1e-5
    )


def test_frozen_bn_infers_inside_fit_and_never_updates():
    model = conv_bn_model(
        trainable=False,
        gamma_initializer="random_normal",
        moving_mean_initializer="ones",
    )
    bn = model.layers[1]
    before = bn.get_weights()
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    z = model.layers[0](x)
    np.testing.assert_array_equal(bn(z, training=True), bn(z, training=False))
    # trainable toggled after the build: compile() picks it up, as Keras needs a recompile
    model = conv_bn_model()
    model.layers[1].trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.layers[1].get_weights()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(before, model.layers[1].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bias_feeding_bn_stays_exactly_zero_while_others_train():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, padding="same"),  # bias feeds BN: exactly zero
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(3, 3, activation="relu"),  # relu between: it trains
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(4),  # into a rank-2 BN: zero too
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    x, y = data()
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[1], 0.0)
    np.testing.assert_array_equal(model.layers[5].get_weights()[1], 0.0)
    assert np.abs(model.layers[2].get_weights()[1]).max() > 1e-3
    # The computed gradient is float noise, not zero: what the plan replaces.
    out, caches = model.forward(x, training=True)
    dz = np.random.default_rng(1).normal(size=caches[1].y.shape).astype("float32")
    dx, _ = model.layers[1].backward(dz, caches[1])
    _, (dkernel, dbias) = model.layers[0].backward(dx, caches[0])
    assert 0 < np.abs(dbias).max() < 1e-4 * np.abs(dkernel).max()


def test_config_round_trip_and_summary_formula():
    bn = keras.layers.BatchNormalization(
        axis=1, momentum=0.9, epsilon=0.01, center=False, name="bn"
    )
    config = bn.get_config()
    assert (
        config["momentum"] == 0.9
        and config["renorm"] is False
        and config["synchronized"] is False
    )
    again = keras.layers.BatchNormalization.from_config(config)
    assert again.get_config() == config
    model = conv_bn_model()
    lines = []
    model.summary(print_fn=lines.append, show_formula=True, line_length=140)
    assert "4*3 = 12 (2*3 non-trainable)" in "".join(lines)
    assert " Non-trainable params: 6 (24.00 B)" in "".join(lines)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(momentum=1.5),
            "`momentum` must be a number in \\[0, 1\\].*Received: momentum=1.5",
        ),
        (dict(momentum=-0.1), "momentum=-0.1"),
        (dict(epsilon=0), "`epsilon` must be a positive number"),
        (dict(axis=(1, 2)), "`axis` must be one integer"),
        (dict(center="yes"), "`center` must be True or False"),
        (dict(renorm=True), "does not support `renorm`"),
    ],
)
def test_bad_arguments_name_the_layer_and_argument(kwargs, match):
    with pytest.raises(ShapeError, match=match) as info:
        keras.layers.BatchNormalization(name="my_bn", **kwargs)
    assert "'my_bn'" in str(info.value)


def test_bad_axis_for_the_input_is_refused_at_build():
    with pytest.raises(ShapeError, match="axis 0 is the batch axis"):
        keras.Sequential([keras.Input((4, 3)), keras.layers.BatchNormalization(axis=0)])
    with pytest.raises(ShapeError, match="axis 3 is out of bounds"):
        keras.Sequential([keras.Input((4, 3)), keras.layers.BatchNormalization(axis=3)])
