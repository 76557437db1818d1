"""Grad-CAM on a transfer-learning model: a pretrained base used as one layer (``base(x, training=False)``).

By default Grad-CAM looks inside the base and takes its last layer with spatial output (the last conv
block's activation, as Keras's Grad-CAM example does); a layer inside the base can be named alone or by
its path. Every map equals the one computed on the same network written flat, without nesting.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import explain, keras
from cnnlab.explain.common import ExplainError
from cnnlab.keras import layers
from cnnlab.layers import clear_session


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def nested_and_flat(pooling=None, seed=0):
    """The same weights twice: a head on a frozen nested base, and the same layers in one flat graph."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((10, 10, 3))
    x = layers.Conv2D(5, 3, padding="same", name="conv1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(6, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.ReLU(name="relu2")(x)
    if pooling:
        x = layers.GlobalAveragePooling2D(name="base_pool")(x)
    base = keras.Model(inp, x, name="base")
    base.trainable = False
    top = keras.Input((10, 10, 3))
    h = base(top, training=False)
    if not pooling:
        h = layers.GlobalAveragePooling2D(name="pool")(h)
    nested = keras.Model(top, layers.Dense(3, activation="softmax", name="head")(h))
    flat_in = keras.Input((10, 10, 3))
    h = flat_in
    for layer in base.layers[1:] + nested.layers[2:]:
        h = layer(h)
    flat = keras.Model(flat_in, h)
    rng = np.random.default_rng(seed)
    # Give the head a signal to explain: a random kernel far from zero.
    nested.get_layer("head").set_weights(
        [rng.normal(0, 1, (6, 3)).astype("float32"), np.zeros(3, "float32")]
    )
    image = rng.normal(0, 1, (10, 10, 3)).astype("float32")
    return nested, flat, image


def assert_same_map(a, b):
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a.cam, b.cam, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.heatmap, b.heatmap, rtol=1e-5, atol=1e-6)
    assert a.class_index == b.class_index and a.score == pytest.approx(
        b.score, rel=1e-6
    )


def test_the_default_layer_is_the_last_spatial_layer_inside_the_base():
    nested, flat, image = nested_and_flat()
    result = explain.grad_cam(nested, image)
    assert result.layer == "base/relu2" and result.layer_index == 1
    assert result.heatmap.shape == (10, 10) and result.heatmap.max() == pytest.approx(
        1.0
    )
    assert_same_map(result, explain.grad_cam(flat, image, layer="relu2"))


def test_a_layer_inside_the_base_by_name_or_path():
    nested, flat, image = nested_and_flat()
    for name in ("conv2", "base/conv2"):
        result = explain.grad_cam(nested, image, layer=name, class_index=2)
        assert result.layer == "base/conv2"
        assert_same_map(
            result, explain.grad_cam(flat, image, layer="conv2", class_index=2)
        )
    early = explain.grad_cam(
        nested, image, layer="bn1", class_index=1, counterfactual=True
    )
    assert_same_map(
        early,
        explain.grad_cam(flat, image, layer="bn1", class_index=1, counterfactual=True),
    )
    assert np.abs(early.weights).max() > 0  # a real gradient reached the inner layer


def test_a_base_with_pooling_is_looked_into():
    # keras.applications' pooling="avg": the base's output has no spatial axes, its last conv block has.
    nested, flat, image = nested_and_flat(pooling="avg")
    result = explain.grad_cam(nested, image)
    assert result.layer == "base/relu2"
    assert_same_map(result, explain.grad_cam(flat, image, layer="relu2"))


def test_unknown_and_non_spatial_inner_layers_are_refused():
    nested, _, image = nested_and_flat(pooling="avg")
    with pytest.raises(ExplainError, match="no layer named 'nope'"):
        explain.grad_cam(nested, image, layer="nope")
    with pytest.raises(ExplainError, match="no layer named 'nope'"):
        explain.grad_cam(nested, image, layer="base/nope")
    with pytest.raises(ExplainError, match="no spatial axes"):
        explain.grad_cam(nested, image, layer="base/base_pool")
    with pytest.raises(ExplainError, match="not a model"):
        explain.grad_cam(nested, image, layer="head/kernel")


def test_the_report_shows_grad_cam_inside_the_base(tmp_path):
    nested, _, image = nested_and_flat()
    report = explain.build_report(nested, image, str(tmp_path / "explain"))
    assert report.gradcam is not None and report.gradcam.layer == "base/relu2"
    assert (tmp_path / "explain" / "grad_cam.png").is_file()
    assert "base/relu2" in (tmp_path / "explain" / "report.html").read_text(
        encoding="utf-8"
    )
