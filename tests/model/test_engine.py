"""The fast engine and the reference executor give the same outputs, losses and
gradients (and the same weights after training) on random models, Sequential and graphs.

The fast engine crops, pools before bias and activation, splits the batch across
threads and updates one flat buffer; the reference runs layer by layer on one thread.
Only the summation order differs (the thread split), hence float32 tolerances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab import keras
from cnnlab.keras import layers
from cnnlab.model import parallel

ACTS = ["relu", "tanh", "linear", "elu", "sigmoid"]


class Draw:
    """Choices from a NumPy generator (the model is built in the test, not in a strategy)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, options):
        return options[int(self.rng.integers(len(options)))]


def random_sequential(draw):
    size = draw(range(9, 14))
    model = [keras.Input((size, size, 2))]
    for _ in range(draw([1, 2])):
        kernel, padding = draw([2, 3]), draw(["valid", "same"])
        model.append(
            layers.Conv2D(
                draw([2, 3]),
                kernel,
                padding=padding,
                activation=draw(ACTS),
                bias_initializer="random_normal",
            )
        )
        size = size - kernel + 1 if padding == "valid" else size
        if draw([True, False]):
            # A valid pooling needs at least 2 cells (seed 191 drew 9 -> 3 -> 1 before it).
            pool_padding = draw(["valid", "same"]) if size >= 2 else "same"
            model.append(layers.MaxPooling2D(2, padding=pool_padding))
            size = size // 2 if pool_padding == "valid" else -(-size // 2)
    model += [layers.Flatten(), layers.Dense(3, activation="softmax")]
    return keras.Sequential(model)


def random_graph(draw):
    inp = keras.Input((10, 10, 2))
    c = layers.Conv2D(3, 3, activation=draw(ACTS), bias_initializer="random_normal")(
        inp
    )
    p = layers.MaxPooling2D()(c)  # a Conv feeding one MaxPooling: rewritten
    branch = layers.Conv2D(3, 3, padding="same", activation=draw(ACTS))(p)
    if draw([True, False]):  # fan-out from c: its pooling must stay as it is
        p = layers.add([p, layers.MaxPooling2D()(layers.Conv2D(3, 1)(c))])
    h = (
        layers.add([p, branch])
        if draw([True, False])
        else layers.concatenate([p, branch])
    )
    return keras.Model(inp, layers.Dense(3, activation="softmax")(layers.Flatten()(h)))


def make_model(seed, kind):
    keras.utils.set_random_seed(seed)
    draw = Draw(seed)
    return random_sequential(draw) if kind == "sequential" else random_graph(draw)


def run(model, weights, x, y, fast):
    cnnlab.backend.set_fast_path(fast)
    try:
        model.set_weights(weights)
        model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        out = model.predict(x, verbose=0)
        loss = model.evaluate(x, y, verbose=0)
        y_fwd, trace = model.forward(x, training=True)
        top = np.random.default_rng(1).standard_normal(y_fwd.shape).astype(np.float32)
        grads = model.backward(top, trace)
        model.fit(x, y, batch_size=len(x), epochs=2, shuffle=False, verbose=0)
        return out, loss, grads, model.get_weights()
    finally:
        cnnlab.backend.set_fast_path(None)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model_seed=st.integers(0, 1000),
    kind=st.sampled_from(["sequential", "graph"]),
    seed=st.integers(0, 100),
)
def test_fast_engine_equals_reference(model_seed, kind, seed):
    model = make_model(model_seed, kind)
    parallel.set_num_threads(2)
    try:
        rng = np.random.default_rng(seed)
        shape = model.input_shape[1:]
        x = rng.standard_normal((40, *shape)).astype(np.float32)
        y = rng.integers(0, 3, 40)
        weights = model.get_weights()
        fast = run(model, weights, x, y, True)
        ref = run(model, weights, x, y, False)
        np.testing.assert_allclose(fast[0], ref[0], rtol=1e-5, atol=1e-6)
        assert fast[1] == pytest.approx(ref[1], rel=1e-5)
        assert len(fast[2]) == len(ref[2])
        for a, b in zip(fast[2], ref[2]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        for a, b in zip(fast[3], ref[3]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    finally:
        parallel.set_num_threads(None)


def test_the_switch_and_what_it_turns_off(monkeypatch):
    model = keras.Sequential(
        [
            keras.Input((9, 9, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(2),
        ]
    )
    assert model._pool_first[0] and model._crops[0] == (6, 6)  # 7 -> 3 reads 6
    from cnnlab.model import engine

    fast_program = model._run_program()
    assert type(fast_program.steps[0].layer).__name__ == "ConvThenMaxPool"
    monkeypatch.setenv("CNNLAB_FAST_PATH", "0")
    assert not cnnlab.backend.fast_path()
    assert model._run_program() is model._program  # the reference: one step per layer
    assert engine.batch_parts(512, model.layers, training=True) == [slice(0, 512)]
    monkeypatch.delenv("CNNLAB_FAST_PATH")
    cnnlab.backend.set_fast_path(False)
    assert not cnnlab.backend.fast_path()
    cnnlab.backend.set_fast_path(None)
    assert cnnlab.backend.fast_path()


def test_fan_out_disables_the_pooling_rewrite():
    inp = keras.Input((8, 8, 1))
    c = layers.Conv2D(2, 3, activation="relu")(inp)
    model = keras.Model(
        inp, layers.add([layers.MaxPooling2D()(c), layers.AveragePooling2D(2)(c)])
    )
    from cnnlab.model import engine

    _, crops, fused = engine.plan(model._program)
    assert not fused and not crops
