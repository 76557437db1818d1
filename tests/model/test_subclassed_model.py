"""A subclassed ``keras.Model`` (``__init__`` holding layers, ``call`` with keras.ops) trains through
the tape, with gradients equal to float64 central differences (issue 13, acceptance 2)."""

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.keras import layers, ops


class Residual(layers.Layer):
    """A custom layer inside the model: x + scale * tanh(x @ w)."""

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], input_shape[-1]), initializer="glorot_uniform"
        )
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, x):
        return x + self.scale * ops.tanh(ops.matmul(x, self.w))


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embed = layers.Dense(6, activation="relu")
        self.blocks = [Residual(), Residual()]
        self.features = keras.Sequential(
            [layers.Dense(5, activation="tanh"), layers.Dense(4)]
        )
        self.head = layers.Dense(3)

    def call(self, x, training=None):
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        mixed = ops.concatenate(
            [self.features(h), h[:, :2] * ops.mean(h, axis=-1, keepdims=True)], axis=-1
        )
        return self.head(mixed) + ops.sum(x, axis=-1, keepdims=True)


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal(
        (n, 3)
    ).astype(np.float32)


def test_the_subclassed_model_computes_its_call_and_tracks_every_layer():
    keras.utils.set_random_seed(0)
    net = Net()
    x, _ = data()
    y = net(x)
    assert y.shape == (12, 3)
    assert len(net.trainable_weights) == 2 + 2 * 2 + 4 + 2
    h = net.embed(x)
    for block in net.blocks:
        h = block(h)
    expected = net.head(
        np.concatenate([net.features(h), h[:, :2] * h.mean(-1, keepdims=True)], -1)
    ) + x.sum(-1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_its_gradients_match_float64_central_differences():
    keras.utils.set_random_seed(1)
    net = Net()
    x, _ = data(5)
    net(x)
    for owner, key in net.weight_slots():
        owner._weights[key] = owner._weights[key].astype(np.float64)
    x64 = x.astype(np.float64)
    out, trace = net.forward(x64, training=True)
    r = np.random.default_rng(2).standard_normal(out.shape)
    grads = net.backward(r, trace)
    weights = net.trainable_weights
    assert len(grads) == len(weights)

    def loss():
        return float(np.sum(net.forward(x64, training=True)[0] * r))

    for w, g in zip(weights, grads):
        numeric = np.zeros(w.shape)
        flat, out_flat = w.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss()
            flat[i] = old - 1e-6
            down = loss()
            flat[i] = old
            out_flat[i] = (up - down) / 2e-6
        err = np.max(np.abs(g - numeric)) / max(1.0, np.max(np.abs(numeric)))
        assert err < 1e-6, err


def test_fit_trains_it_and_one_sgd_step_is_minus_lr_times_the_gradient():
    keras.utils.set_random_seed(2)
    net = Net()
    x, y = data(16)
    net.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    net(x)
    before = [w.copy() for w in net.trainable_weights]
    out, trace = net.forward(x, training=True)
    grads = net.backward(2 * (out - y) / out.size, trace)
    net.train_on_batch(x, y)
    for w0, w1, g in zip(before, net.trainable_weights, grads):
        np.testing.assert_allclose(w1, w0 - 0.05 * g, rtol=1e-5, atol=1e-6)
    history = net.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


def test_a_subclassed_model_refuses_to_train_through_numpy():
    class NumpyNet(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return np.exp(self.dense(x))

    net = NumpyNet()
    x = np.ones((4, 3), np.float32)
    assert net.predict(x, verbose=0).shape == (4, 2)
    net.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"\(NumpyNet\) cannot be trained.*numpy.exp"):
        net.fit(x, np.ones((4, 2), np.float32), verbose=0)
