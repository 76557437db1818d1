"""``compile(loss=fn)`` with ``fn(y_true, y_pred)`` written with keras.ops: the gradient comes
from the tape, the per-sample values are reduced by their mean, as Keras does."""

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.keras import ops
from cnnlab.model.losses import get
from cnnlab.ops.tape import TapeError


def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def huber(y_true, y_pred, delta=0.5):
    error = y_pred - y_true
    small = ops.abs(error) <= delta
    return ops.mean(
        ops.where(
            small, 0.5 * ops.square(error), delta * (ops.abs(error) - 0.5 * delta)
        ),
        axis=-1,
    )


def softmax_xent(y_true, y_pred):
    return -ops.sum(y_true * ops.log_softmax(y_pred), axis=-1)


def numeric_grad(fn, y_true, y_pred):
    g = np.zeros_like(y_pred)
    for idx in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[idx] += 1e-6
        down[idx] -= 1e-6
        g[idx] = (
            np.mean(np.asarray(fn(y_true, up))) - np.mean(np.asarray(fn(y_true, down)))
        ) / 2e-6
    return g


@pytest.mark.parametrize("fn", [my_mse, huber, softmax_xent])
def test_gradient_matches_numeric_in_float64(fn):
    rng = np.random.default_rng(0)
    y_pred = rng.standard_normal((5, 3))
    y_true = np.eye(3)[rng.integers(0, 3, 5)]
    loss = get(fn)
    assert loss.name == fn.__name__
    value, grad = loss.value_and_grad(y_true, y_pred)
    assert np.isclose(value, np.mean(np.asarray(fn(y_true, y_pred))))
    err = np.max(np.abs(grad - numeric_grad(fn, y_true, y_pred)))
    assert err < 1e-6, err
    assert np.isclose(loss(y_true, y_pred), value)


def test_a_custom_loss_trains_exactly_like_the_builtin_one():
    def model():
        keras.utils.set_random_seed(7)
        return keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.Dense(2),
            ]
        )

    rng = np.random.default_rng(1)
    x, y = (
        rng.standard_normal((32, 4)).astype(np.float32),
        rng.standard_normal((32, 2)).astype(np.float32),
    )
    builtin, custom = model(), model()
    builtin.compile(optimizer="adam", loss="mse")
    custom.compile(optimizer="adam", loss=my_mse)
    h1 = builtin.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    h2 = custom.fit(x, y, epochs=3, batch_size=8, verbose=0, shuffle=False)
    assert np.allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for a, b in zip(builtin.get_weights(), custom.get_weights()):
        assert np.allclose(a, b, atol=1e-5)
    assert np.isclose(
        custom.evaluate(x, y, verbose=0), builtin.evaluate(x, y, verbose=0), rtol=1e-5
    )


def test_sample_weight_is_keras_weighted_mean():
    y_true, y_pred = np.zeros((4, 2)), np.arange(8.0).reshape(4, 2)
    w = np.array([1.0, 0.0, 2.0, 0.5])
    value, grad = get(my_mse).value_and_grad(y_true, y_pred, sample_weight=w)
    per_sample = (y_pred**2).mean(-1)
    assert np.isclose(value, (w * per_sample).sum() / 4)
    assert np.allclose(grad, w[:, None] * 2 * y_pred / 2 / 4)


def test_labels_are_brought_to_the_predictions_rank_and_dtype():
    seen = {}

    def spy(y_true, y_pred):
        seen["shape"], seen["dtype"] = y_true.shape, y_true.dtype
        return ops.square(y_pred - y_true)

    get(spy).value_and_grad(np.array([1, 0, 1]), np.zeros((3, 1), np.float32))
    assert seen == {"shape": (3, 1), "dtype": np.float32}


def test_a_numpy_loss_refuses_to_train_with_the_line():
    def numpy_loss(y_true, y_pred):
        return np.mean((np.asarray(y_pred) - y_true) ** 2, axis=-1)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss=numpy_loss)
    with pytest.raises(
        TapeError,
        match=r"Loss function 'numpy_loss' cannot be trained.*the loss function.*"
        r"test_custom_loss.py",
    ):
        model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), verbose=0)
