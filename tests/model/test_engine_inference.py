"""The fast engine's inference program (engine step 5): a Conv with the BatchNormalization
(folded into its kernel and bias), activation layer and MaxPooling that read it, run as one
chunked step. predict, predict_on_batch and evaluate equal the reference executor's on random
models; training and ``model.forward`` keep the per-layer program."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnlab
from cnnlab import keras
from cnnlab.keras import layers
from cnnlab.model import engine

ACTIVATION_LAYERS = [
    lambda: layers.ReLU(),
    lambda: layers.Activation("tanh"),
    lambda: layers.LeakyReLU(0.1),
    lambda: layers.Activation("swish"),  # not monotonic: the pooling must stay after it
    lambda: layers.ReLU(max_value=2.0, threshold=0.1),
]


def random_model(seed):
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    size = int(rng.integers(7, 12))
    stack = [keras.Input((size, size, int(rng.integers(1, 4))))]
    side = size  # the maps' side so far: every drawn layer fits the map it reads
    for _ in range(int(rng.integers(1, 3))):
        with_bn = bool(rng.integers(3))
        kernel = min(int(rng.integers(1, 4)), side)
        padding = ["valid", "same"][int(rng.integers(2))]
        strides = int(rng.integers(1, 3)) if rng.integers(4) == 0 else 1
        stack.append(
            layers.Conv2D(
                int(rng.integers(2, 6)),
                kernel,
                padding=padding,
                strides=strides,
                use_bias=bool(rng.integers(2)),
                activation=None if with_bn or rng.integers(2) else "relu",
                bias_initializer="random_normal",
            )
        )
        side = (
            (side - kernel) // strides + 1
            if padding == "valid"
            else -(-side // strides)
        )
        if with_bn:
            stack.append(
                layers.BatchNormalization(
                    gamma_initializer="random_normal",  # negative scales too
                    beta_initializer="random_normal",
                    moving_mean_initializer="random_normal",
                    moving_variance_initializer=keras.initializers.RandomUniform(
                        0.5, 2.0
                    ),
                    scale=bool(rng.integers(4)),
                    center=bool(rng.integers(4)),
                )
            )
        if rng.integers(3):
            stack.append(ACTIVATION_LAYERS[int(rng.integers(len(ACTIVATION_LAYERS)))]())
        if rng.integers(2) and side >= 2:
            pool_padding = ["valid", "same"][int(rng.integers(2))]
            stack.append(layers.MaxPooling2D(2, padding=pool_padding))
            side = side // 2 if pool_padding == "valid" else -(-side // 2)
    stack += [layers.Flatten(), layers.Dense(3, activation="softmax")]
    return keras.Sequential(stack)


def outputs(model, x, y, fast):
    cnnlab.backend.set_fast_path(fast)
    try:
        return (
            model.predict(x, batch_size=len(x), verbose=0),
            model.predict_on_batch(x[:1]),
            model.evaluate(x, y, verbose=0),
        )
    finally:
        cnnlab.backend.set_fast_path(None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_seed=st.integers(0, 10_000), seed=st.integers(0, 100))
def test_inference_program_equals_the_reference(model_seed, seed):
    model = random_model(model_seed)
    model.compile("sgd", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((37, *model.input_shape[1:])).astype(np.float32)
    y = rng.integers(0, 3, len(x))
    fast, ref = outputs(model, x, y, True), outputs(model, x, y, False)
    np.testing.assert_allclose(fast[0], ref[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast[1], ref[1], rtol=1e-5, atol=1e-6)
    assert fast[2] == pytest.approx(ref[2], rel=1e-5, abs=1e-6)
    program = model._run_program(inference=True)
    fused = [s for s in program.steps if isinstance(s.layer, engine.InferenceConv)]
    assert len(fused) == sum(isinstance(layer, layers.Conv2D) for layer in model.layers)
    for (
        step
    ) in fused:  # a non-monotonic activation keeps its pooling as a step of its own
        if step.layer.pool is not None:
            assert cnnlab.ops.activations.is_non_decreasing(
                step.layer.act.activation_name, step.layer.act._act_kwargs
            )


def conv_bn_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            layers.Conv2D(4, 3, padding="same", use_bias=False),
            layers.BatchNormalization(moving_mean_initializer="random_normal"),
            layers.ReLU(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_training_and_forward_keep_the_layer_by_layer_program():
    model = conv_bn_model()
    x = np.random.default_rng(0).standard_normal((16, 8, 8, 2)).astype(np.float32)
    inference = model._run_program(inference=True)
    assert [type(s.layer).__name__ for s in inference.steps] == [
        "InferenceConv",
        "Flatten",
        "Dense",
    ]
    assert type(inference.steps[0].layer.bn).__name__ == "BatchNormalization"
    training = model._run_program(training=True)
    assert not any(isinstance(s.layer, engine.InferenceConv) for s in training.steps)
    y, trace = model.forward(x)
    model.predict(x, verbose=0)  # in between: backward still uses forward's program
    grads = model.backward(np.ones_like(y), trace)
    assert len(grads) == len(model.trainable_weights)
    with pytest.raises(cnnlab.errors.CnnlabError, match="keeps no cache"):
        inference.steps[0].layer.backward(y, None)
    # Training moves the moving statistics and weights; the fold follows them at once.
    model.fit(x, np.zeros(16, int), epochs=2, verbose=0)
    fast = model.predict(x, verbose=0)
    cnnlab.backend.set_fast_path(False)
    try:
        np.testing.assert_allclose(
            fast, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
        )
    finally:
        cnnlab.backend.set_fast_path(None)


def test_a_training_call_of_batch_norm_is_not_folded():
    inp = keras.Input((6, 6, 1))
    h = layers.Conv2D(2, 3)(inp)
    h = layers.BatchNormalization()(
        h, training=True
    )  # batch statistics even in predict
    model = keras.Model(inp, layers.Dense(1)(layers.Flatten()(h)))
    program = model._run_program(inference=True)
    assert [type(s.layer).__name__ for s in program.steps][:2] == [
        "InferenceConv",
        "BatchNormalization",
    ]
    assert program.steps[0].layer.bn is None
