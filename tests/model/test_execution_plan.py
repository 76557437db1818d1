"""The model's execution plan (crops, pooling before bias + activation) is exact:
it gives the same outputs and gradients as running each layer on its own."""

import numpy as np
import pytest

from cnnlab import keras

layers = keras.layers


def plain_forward_backward(model, x, dy):
    """Layer by layer, no plan: the reference."""
    caches, h = [], x
    for layer in model.layers:
        h, cache = layer.forward(h, training=True)
        caches.append(cache)
    grads = []
    for layer, cache in reversed(list(zip(model.layers, caches))):
        dy, g = layer.backward(dy, cache)
        grads = g + grads
    return h, grads


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear", "elu"])
@pytest.mark.parametrize("size, padding", [(13, "valid"), (12, "valid"), (11, "same")])
def test_plan_matches_layer_by_layer(activation, size, padding):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((size, size, 2)),
            layers.Conv2D(
                3,
                3,
                activation=activation,
                padding=padding,
                bias_initializer="random_normal",
            ),
            layers.MaxPooling2D(2, padding=padding),
            layers.Conv2D(
                4, 2, activation=activation, bias_initializer="random_normal"
            ),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )
    assert any(model._pool_first)
    x = np.random.default_rng(0).standard_normal((5, size, size, 2)).astype(np.float64)
    for layer in model.layers:  # float64 so the comparison is tight
        layer.set_weights([w.astype(np.float64) for w in layer.get_weights()])
        for key in list(layer._weights):
            layer._weights[key] = layer._weights[key].astype(np.float64)
    y_plan, caches = model.forward(x, training=True)
    dy = np.random.default_rng(2).standard_normal(y_plan.shape)
    grads_plan = model.backward(dy, caches)
    y_ref, grads_ref = plain_forward_backward(model, x, dy)
    np.testing.assert_allclose(y_plan, y_ref, rtol=1e-12, atol=1e-12)
    assert len(grads_plan) == len(grads_ref) == 6
    for a, b in zip(grads_plan, grads_ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_negative_slope_is_not_reordered():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(2, 3),
            layers.LeakyReLU(),
            layers.MaxPooling2D(),
        ]
    )
    conv = layers.Conv2D(2, 3, activation="relu")
    assert conv.defers_to_pooling()
    leaky = layers.ReLU(negative_slope=-0.5)
    assert leaky.activation_name == "relu_general"
    model2 = keras.Sequential(
        [keras.Input((8, 8, 1)), layers.Conv2D(2, 3), layers.MaxPooling2D()]
    )
    assert model2._pool_first[0] and not any(model._pool_first)


def test_crop_skips_the_row_pooling_discards():
    model = keras.Sequential(
        [keras.Input((13, 13, 1)), layers.Conv2D(2, 3), layers.MaxPooling2D()]
    )
    assert model._crops[0] == (10, 10)  # 11 -> 5 reads only 10 cells
    x = np.random.default_rng(0).standard_normal((2, 13, 13, 1)).astype(np.float32)
    outputs, _ = model.layer_outputs(x)
    assert outputs[0].shape == (2, 11, 11, 2)  # looking inside still shows the full map
    np.testing.assert_allclose(model.predict(x, verbose=0), outputs[-1], rtol=1e-6)
