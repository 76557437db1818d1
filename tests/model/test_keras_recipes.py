"""Idioms from real Keras programs (keras-io's Grad-CAM recipe) that must act as in Keras."""

import numpy as np

from cnnlab import keras
from cnnlab.keras import layers


def _model():
    inputs = keras.Input((8, 8, 2))
    x = layers.Conv2D(3, 3, activation="relu", name="last_conv")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs)


def test_setting_activation_none_gives_logits_even_after_predict():
    model = _model()
    x = np.random.default_rng(0).random((2, 8, 8, 2)).astype("float32")
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    model.layers[-1].activation = None
    logits = model.predict(x, verbose=0)
    feats = (
        keras.Model(model.inputs, model.get_layer("last_conv").output)
        .predict(x, verbose=0)
        .mean(axis=(1, 2))
    )
    kernel, bias = model.layers[-1].get_weights()
    np.testing.assert_allclose(logits, feats @ kernel + bias, rtol=1e-5, atol=1e-6)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        e / e.sum(axis=1, keepdims=True), probs, rtol=1e-5, atol=1e-6
    )
    model.layers[-1].activation = "softmax"
    np.testing.assert_allclose(model.predict(x, verbose=0), probs, rtol=1e-6)


def test_functional_model_input_and_output_are_its_constructor_structure():
    model = _model()
    assert model.output is model.outputs[0] and model.input is model.inputs[0]
    grad_model = keras.Model(
        model.inputs, [model.get_layer("last_conv").output, model.output]
    )
    assert isinstance(grad_model.output, list) and grad_model.output[1] is model.output
    conv, preds = grad_model(np.zeros((1, 8, 8, 2), "float32"))
    assert np.asarray(conv).shape == (1, 6, 6, 3) and np.asarray(preds).shape == (1, 4)
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    two = keras.Model({"a": a, "b": b}, layers.Add()([a, b]))
    assert set(two.input) == {"a", "b"} and two.input["b"] is b


def test_add_weight_takes_keras_keywords():
    layer = layers.Dense(2)
    w = layer.add_weight(
        shape=(3, 2), initializer="ones", trainable=False, name="scale"
    )
    v = layer.add_weight(
        shape=(2,)
    )  # Keras's defaults: glorot_uniform, trainable, an auto name
    assert w.shape == (3, 2) and np.all(w == 1.0) and w.dtype == np.float32
    assert (
        "scale" not in layer.trainable_weight_names
        and "variable" in layer.trainable_weight_names
    )
    assert v.shape == (2,) and np.any(v != 0.0)
    assert layer.add_weight(shape=(1,)).shape == (1,) and len(layer.weights) == 3


def test_model_subclass_call_still_runs_with_cnnlab_layers():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3, kernel_initializer="ones")

        def call(self, inputs):
            return self.dense(inputs)

    x = np.arange(4, dtype="float32").reshape(2, 2)
    np.testing.assert_allclose(
        Tiny()(x), np.repeat(x.sum(axis=1, keepdims=True), 3, axis=1)
    )
