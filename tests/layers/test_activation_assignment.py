"""Issue 12 item 3: assigning ``layer.activation`` (None, a name, a function) takes effect,
as Keras's Grad-CAM example relies on (``model.layers[-1].activation = None`` for logits)."""

import numpy as np
import pytest

from cnnlab import keras

layers = keras.layers


def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((4,)),
            layers.Dense(5, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )


def logits_of(model, x):
    h = np.maximum(
        x @ model.layers[0].get_weights()[0] + model.layers[0].get_weights()[1], 0
    )
    kernel, bias = model.layers[1].get_weights()
    return h @ kernel + bias


def test_activation_none_gives_logits_in_predict_and_config():
    """Before: the assignment was accepted and ignored (the output stayed softmax)."""
    model = classifier()
    x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    probabilities = model.predict(x, verbose=0)
    assert np.allclose(probabilities.sum(-1), 1, atol=1e-6)
    model.layers[-1].activation = None
    logits = model.predict(x, verbose=0)
    assert np.allclose(logits, logits_of(model, x), atol=1e-5)
    assert not np.allclose(logits.sum(-1), 1)
    assert model.layers[-1].get_config()["activation"] == "linear"
    assert model.layers[-1].activation is keras.activations.linear


@pytest.mark.parametrize(
    "value, name",
    [
        ("tanh", "tanh"),
        (keras.activations.sigmoid, "sigmoid"),
        (keras.activations.relu, "relu"),
    ],
)
def test_a_name_or_a_function_takes_effect_in_forward_and_backward(value, name):
    model = classifier()
    layer = model.layers[-1]
    layer.activation = value
    assert layer.activation_name == name and layer.get_config()["activation"] == name
    x = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    z = logits_of(model, x)
    expected = keras.activations.get(name)(z)
    assert np.allclose(model.predict(x, verbose=0), expected, atol=1e-6)
    y, cache = layer.forward(
        np.maximum(
            x @ model.layers[0].get_weights()[0] + model.layers[0].get_weights()[1], 0
        )
    )
    dz = layer.backward(np.ones_like(y), cache)[1][
        1
    ]  # d bias = d z summed over the batch
    eps = 1e-3
    numeric = (
        keras.activations.get(name)(z + eps).sum(0)
        - keras.activations.get(name)(z - eps).sum(0)
    ) / (2 * eps)
    assert np.allclose(dz, numeric, atol=1e-2)


def test_an_unknown_activation_is_refused_clearly():
    layer = layers.Dense(2)
    with pytest.raises(ValueError, match="Unknown activation"):
        layer.activation = "no_such_activation"


def test_the_fused_softmax_cross_entropy_path_follows_the_assignment():
    """With softmax assigned, fit's loss is the cross-entropy of the softmax (the fused path);
    with None, the loss sees the raw outputs."""
    x = np.random.default_rng(3).standard_normal((8, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(8) % 3]
    model = classifier()
    model.layers[-1].activation = None
    model.layers[-1].activation = "softmax"
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="categorical_crossentropy")
    z = logits_of(model, x)
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert np.isclose(
        model.train_on_batch(x, y), float(-(y * np.log(p)).sum(-1).mean()), atol=1e-5
    )
    model.layers[-1].activation = None
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    assert np.isclose(
        model.train_on_batch(x, y), float(-(y * np.log(p)).sum(-1).mean()), atol=1e-5
    )


def test_pooling_first_is_re_planned_when_a_conv_activation_changes():
    """Conv + MaxPooling pools before the activation only for non-decreasing activations; assigning
    another one after the model was built must switch that shortcut off."""
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
        ]
    )
    assert model._pool_first[0]
    conv = model.layers[0]
    conv.activation = "softmax"  # over the channels: not monotone per channel
    x = np.random.default_rng(5).standard_normal((2, 6, 6, 1)).astype(np.float32)
    out = model.predict(x, verbose=0)
    reference = x
    for layer in model.layers:
        reference = layer(reference)
    assert np.allclose(out, reference, atol=1e-6)
    assert not model._pool_first[0]
