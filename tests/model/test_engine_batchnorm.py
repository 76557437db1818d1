"""Models with BatchNormalization on the fast engine: the batch is split across threads and
the parts add their statistics (``cnnlab.part_sums``), and the result is the reference
executor's (one thread, whole batch) up to float32 rounding: losses, weight updates and
moving statistics after training steps, on random Conv-BN-ReLU models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab import keras
from cnnlab.keras import layers
from cnnlab.model import engine, parallel


def random_bn_model(seed):
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    size = int(rng.integers(6, 10))
    stack = [keras.Input((size, size, int(rng.integers(1, 4))))]
    for _ in range(int(rng.integers(1, 3))):
        stack.append(
            layers.Conv2D(
                int(rng.integers(2, 5)),
                3,
                padding="same",
                use_bias=bool(rng.integers(2)),
            )
        )
        stack.append(
            layers.BatchNormalization(
                gamma_initializer="random_normal",
                beta_initializer="random_normal",
                momentum=0.8,
            )
        )
        stack.append(layers.ReLU())
        if rng.integers(2):
            stack.append(layers.MaxPooling2D(2))
    stack += [
        layers.Flatten(),
        layers.Dense(4),
        layers.BatchNormalization(),
        layers.Dense(3, activation="softmax"),
    ]
    return keras.Sequential(stack)


def train(model, weights, x, y, fast):
    cnnlab.backend.set_fast_path(fast)
    try:
        model.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
        parts = engine.batch_parts(len(x), model._all_leaves(), training=True)
        losses = [float(model.train_on_batch(x, y)) for _ in range(2)]
        return parts, losses, model.get_weights()
    finally:
        cnnlab.backend.set_fast_path(None)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model_seed=st.integers(0, 1000),
    seed=st.integers(0, 100),
    n=st.sampled_from([16, 29, 40]),
)
def test_split_batch_norm_equals_the_whole_batch(model_seed, seed, n):
    model = random_bn_model(model_seed)
    parallel.set_num_threads(2)
    try:
        rng = np.random.default_rng(seed)
        x = (rng.standard_normal((n, *model.input_shape[1:])) * 2 + 0.5).astype(
            np.float32
        )
        y = rng.integers(0, 3, n)
        weights = model.get_weights()
        fast_parts, fast_losses, fast_w = train(model, weights, x, y, True)
        ref_parts, ref_losses, ref_w = train(model, weights, x, y, False)
        assert len(fast_parts) == 2 and len(ref_parts) == 1  # the BN model was split
        assert fast_losses == pytest.approx(ref_losses, rel=1e-5)
        for a, b, w in zip(fast_w, ref_w, weights):
            # The update (w - w0) agrees: per-part statistics would make it differ by far more.
            np.testing.assert_allclose(a - w, b - w, rtol=2e-3, atol=2e-6)
    finally:
        parallel.set_num_threads(None)


def test_an_error_in_one_part_is_raised_not_the_released_wait(monkeypatch):
    model = random_bn_model(0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    parallel.set_num_threads(2)
    bn = next(
        layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)
    )
    original = type(bn)._backward
    calls = []

    def failing(self, dz, cache, need_dx=True):
        calls.append(1)
        if len(calls) == 2:  # one of the two parts
            raise FloatingPointError("boom")
        return original(self, dz, cache, need_dx)

    monkeypatch.setattr(type(bn), "_backward", failing)
    try:
        x = np.zeros((32, *model.input_shape[1:]), np.float32)
        with pytest.raises(FloatingPointError, match="boom"):
            model.train_on_batch(x, np.zeros(32, int))
    finally:
        parallel.set_num_threads(None)
