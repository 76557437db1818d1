"""The seeds' worked examples, with the correct answers (MISSION.md, "Worked examples").

The seeds contain arithmetic slips; these tests pin the truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab.errors import ShapeError
from cnnlab.ops import (
    activations,
    categorical_crossentropy,
    conv_forward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    flatten_forward,
    max_pool_forward,
    output_size,
    param_count,
    param_formula,
    sparse_categorical_crossentropy,
)
from cnnlab.ops.shapes import output_shape

# --------------------------------------------------------------------------- seed 000: convolution and pooling

SEED0_INPUT = [[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_seed000_feature_map_is_cross_correlation(dtype):
    x = np.array(SEED0_INPUT, dtype=dtype).reshape(1, 4, 4, 1)
    w = np.array([[1, 0, -1]] * 3, dtype=dtype).reshape(3, 3, 1, 1)
    y, _ = conv_forward(x, w)
    assert y.shape == (1, 2, 2, 1)
    assert y.dtype == dtype
    # the seed writes [[3, 1], [2, 0]]; the truth is:
    np.testing.assert_array_equal(y[0, :, :, 0], [[-1, 1], [-1, -3]])
    # first entry spelled out: 1*1 + 2*0 + 1*(-1) + 0*1 + 1*0 + 3*(-1) + 2*1 + 1*0 + 0*(-1)
    assert (
        y[0, 0, 0, 0]
        == 1 * 1 + 2 * 0 + 1 * -1 + 0 * 1 + 1 * 0 + 3 * -1 + 2 * 1 + 1 * 0 + 0 * -1
        == -1
    )


def test_seed000_feature_map_is_not_true_convolution():
    """A flipped (true) convolution would give the negated map here; the layer must not flip."""
    x = np.array(SEED0_INPUT, dtype=np.float64).reshape(1, 4, 4, 1)
    w = np.array([[1, 0, -1]] * 3, dtype=np.float64).reshape(3, 3, 1, 1)
    y, _ = conv_forward(x, w)
    flipped, _ = conv_forward(x, w[::-1, ::-1].copy())
    np.testing.assert_array_equal(flipped[0, :, :, 0], [[1, -1], [1, 3]])
    assert not np.array_equal(y, flipped)


def test_seed000_max_pool_2x2():
    x = np.array([[1, 3], [2, 4]], dtype=np.float32).reshape(1, 2, 2, 1)
    y, _ = max_pool_forward(x, (2, 2))
    assert y.shape == (1, 1, 1, 1)
    assert y.item() == 4.0


def test_seed000_pooling_halves_each_side():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    y, _ = max_pool_forward(x, (2, 2), (2, 2))
    assert y.shape == (1, 2, 2, 1)
    assert y.size * 4 == x.size  # a quarter of the elements
    np.testing.assert_array_equal(y[0, :, :, 0], [[5, 7], [13, 15]])
    assert output_size(4, 2, 2) == 2
    assert output_size(11, 2, 2) == 5  # odd sizes floor
    y, _ = max_pool_forward(np.zeros((1, 11, 11, 1)), (2, 2))
    assert y.shape == (1, 5, 5, 1)


# --------------------------------------------------------------------------- seed 002: output sizes


def test_seed002_output_size_formula():
    assert output_size(5, 3) == 3  # 5x5 with 3x3 -> 3x3
    assert output_size(5, 3, pad_before=1, pad_after=1) == 5
    assert output_size(7, 3, stride=2) == 3  # floor((7 - 3 + 0) / 2) + 1
    assert output_size(28, 5) == 24
    y, _ = conv_forward(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)))
    assert y.shape == (1, 3, 3, 1)
    y, _ = conv_forward(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)), padding=1)
    assert y.shape == (1, 5, 5, 1)


# --------------------------------------------------------------------------- parameter counts


def test_seed002_network_shapes_and_parameters():
    x = np.zeros((1, 28, 28, 1), dtype=np.float32)
    h, _ = conv_forward(x, np.zeros((5, 5, 1, 10), np.float32))
    assert h.shape == (1, 24, 24, 10)
    h, _ = max_pool_forward(h, (2, 2))
    assert h.shape == (1, 12, 12, 10)
    h, _ = conv_forward(h, np.zeros((5, 5, 10, 20), np.float32))
    assert h.shape == (1, 8, 8, 20)
    h, _ = max_pool_forward(h, (2, 2))
    assert h.shape == (1, 4, 4, 20)
    h, _ = flatten_forward(h)
    assert h.shape == (1, 320)

    kernels = [(5, 5, 1, 10), (5, 5, 10, 20), (320, 100), (100, 10)]
    assert [param_count(k) for k in kernels] == [260, 5_020, 32_100, 1_010]
    assert sum(param_count(k) for k in kernels) == 38_390
    assert [param_count(k, use_bias=False) for k in kernels] == [
        250,
        5_000,
        32_000,
        1_000,
    ]
    assert sum(param_count(k, use_bias=False) for k in kernels) == 38_250


def test_seed004_keras_model_shapes_and_parameters():
    x = np.zeros((1, 28, 28, 1), dtype=np.float32)
    h, _ = conv_forward(x, np.zeros((3, 3, 1, 32), np.float32))
    assert h.shape == (1, 26, 26, 32)
    h, _ = max_pool_forward(h, (2, 2))
    assert h.shape == (1, 13, 13, 32)
    h, _ = conv_forward(h, np.zeros((3, 3, 32, 64), np.float32))
    assert h.shape == (1, 11, 11, 64)
    h, _ = max_pool_forward(h, (2, 2))
    assert h.shape == (1, 5, 5, 64)
    h, _ = flatten_forward(h)
    assert h.shape == (1, 1_600)

    kernels = [(3, 3, 1, 32), (3, 3, 32, 64), (1_600, 128), (128, 10)]
    assert [param_count(k) for k in kernels] == [320, 18_496, 204_928, 1_290]
    assert sum(param_count(k) for k in kernels) == 225_034


def test_seed002_dense_parameter_counts():
    assert param_count((128, 256)) == 33_024
    assert param_count((320, 1000)) == 321_000
    assert param_count((320, 1000), use_bias=False) == 320_000
    assert param_count((128, 64)) + param_count((64, 10)) == 8_256 + 650


def test_param_formula_shows_the_arithmetic():
    def plain(text):  # thousands separators are a presentation choice
        return text.replace(",", "")

    assert plain(param_formula((3, 3, 1, 32))) == "3*3*1*32 + 32 = 320"
    assert plain(param_formula((128, 256))) == "128*256 + 256 = 33024"
    assert plain(param_formula((320, 1000), use_bias=False)) == "320*1000 = 320000"


def test_dense_is_affine_with_one_bias_per_output_neuron():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    b = np.array([10.0, 20.0, 30.0])
    y, _ = dense_forward(x, w, b)
    np.testing.assert_array_equal(y, [[12.0, 24.0, 29.0]])


# --------------------------------------------------------------------------- cross-entropy


@pytest.mark.parametrize(
    "probs,label,expected,places",
    [
        ([0.3, 0.7], 0, 1.204, 3),
        ([0.2, 0.7, 0.1], 0, 1.609, 3),
        ([0.3 / 9] * 7 + [0.7] + [0.3 / 9] * 2, 7, 0.3567, 4),
        ([0.9, 0.1], 0, 0.1054, 4),
    ],
)
def test_seed002_crossentropy_values(probs, label, expected, places):
    p = np.array([probs], dtype=np.float32)
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    one_hot = np.eye(p.shape[1], dtype=np.float32)[[label]]
    loss, _ = categorical_crossentropy(one_hot, p)
    assert round(loss, places) == expected
    assert loss == pytest.approx(-math.log(probs[label]), rel=1e-5)
    sparse, _ = sparse_categorical_crossentropy(np.array([label]), p)
    assert sparse == pytest.approx(loss, rel=1e-6)


def test_crossentropy_averages_over_samples():
    p = np.array([[0.3, 0.7], [0.9, 0.1]])
    loss, _ = sparse_categorical_crossentropy(np.array([0, 0]), p)
    assert loss == pytest.approx((-math.log(0.3) - math.log(0.9)) / 2, rel=1e-12)


def test_crossentropy_clips_a_zero_probability_like_keras():
    loss, grad = categorical_crossentropy(
        np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    )
    assert loss == pytest.approx(-math.log(1e-7), rel=1e-9)  # 16.118...
    assert np.all(np.isfinite(grad))


def test_crossentropy_from_logits_gradient_is_softmax_minus_label():
    z = np.array([[2.0, 1.0, 0.1]])
    loss, grad = categorical_crossentropy(
        np.array([[1.0, 0.0, 0.0]]), z, from_logits=True
    )
    p = np.exp(z) / np.exp(z).sum()
    assert loss == pytest.approx(-math.log(p[0, 0]), rel=1e-12)
    np.testing.assert_allclose(grad, p - [[1.0, 0.0, 0.0]], rtol=1e-12)


# --------------------------------------------------------------------------- activations and dropout


def test_seed002_leaky_relu_slope():
    x = np.array([-10.0, 0.0, 3.0], dtype=np.float32)
    np.testing.assert_allclose(
        activations.leaky_relu(x, negative_slope=0.01), [-0.1, 0.0, 3.0], rtol=1e-6
    )
    np.testing.assert_allclose(
        activations.leaky_relu(x), [-2.0, 0.0, 3.0]
    )  # keras.activations default 0.2
    np.testing.assert_allclose(
        activations.leaky_relu(x, negative_slope=0.3), [-3.0, 0.0, 3.0], rtol=1e-6
    )


def test_relu_sigmoid_tanh_softmax_values():
    x = np.array([-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(activations.relu(x), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(activations.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)
    assert activations.sigmoid(np.array([0.0]))[0] == 0.5
    np.testing.assert_allclose(activations.tanh(x), np.tanh(x))
    s = activations.softmax(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(s.sum(), 1.0)
    assert s.argmax() == 2
    big = activations.softmax(np.array([[1000.0, 1000.0]]))  # no overflow
    np.testing.assert_array_equal(big, [[0.5, 0.5]])


def test_seed002_dropout_half_during_training_identity_at_inference():
    x = np.ones((200, 500), dtype=np.float32)
    rng = np.random.default_rng(0)
    y, mask = dropout_forward(x, 0.5, rng, training=True)
    assert y.dtype == np.float32
    dropped = np.mean(y == 0)
    assert 0.49 < dropped < 0.51  # about half (n = 100,000)
    assert set(np.unique(y).tolist()) == {0.0, 2.0}  # survivors doubled
    assert y.mean() == pytest.approx(1.0, abs=0.02)  # the expectation is kept
    dy = np.full_like(x, 3.0)
    np.testing.assert_array_equal(
        dropout_backward(dy, mask), np.where(y == 0, 0.0, 6.0)
    )

    y_inf, mask_inf = dropout_forward(x, 0.5, rng, training=False)
    assert y_inf is x and mask_inf is None
    assert dropout_backward(dy, mask_inf) is dy


def test_dropout_is_reproducible_from_the_generator_and_rejects_bad_rates():
    x = np.arange(20, dtype=np.float64).reshape(4, 5) + 1
    y1, _ = dropout_forward(x, 0.3, np.random.default_rng(5))
    y2, _ = dropout_forward(x, 0.3, np.random.default_rng(5))
    np.testing.assert_array_equal(y1, y2)
    kept = y1 != 0
    np.testing.assert_allclose(y1[kept], x[kept] / 0.7)
    y0, m0 = dropout_forward(x, 0.0, np.random.default_rng(5))
    assert y0 is x and m0 is None
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="rate"):
            dropout_forward(x, bad, np.random.default_rng(0))


# --------------------------------------------------------------------------- too small inputs


def test_output_shape_error_explains_the_arithmetic_and_suggests_same():
    with pytest.raises(ShapeError) as info:
        output_shape((4, 2), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0)))
    msg = str(info.value)
    assert "size 2" in msg  # the input size along the failing axis
    assert "kernel 3" in msg
    assert 'padding="same"' in msg
    assert "axis 1" in msg
    assert "= 0" in msg  # floor((2 - 3) / 1) + 1 = 0
    assert isinstance(info.value, ValueError)


def test_conv_on_too_small_input_raises_shape_error():
    with pytest.raises(ShapeError, match=r'padding="same"') as info:
        conv_forward(np.zeros((1, 2, 2, 1)), np.zeros((3, 3, 1, 4)))
    assert "(2, 2)" in str(info.value)
    # the same input works with "same"
    y, _ = conv_forward(np.zeros((1, 2, 2, 1)), np.zeros((3, 3, 1, 4)), padding="same")
    assert y.shape == (1, 2, 2, 4)


def test_seed004_model_on_tiny_images_fails_at_the_second_pool():
    """A 6x6 image through the seed-004 stack: 4x4 -> pool 2x2 -> conv 3x3 needs at least 3."""
    h, _ = conv_forward(np.zeros((1, 6, 6, 1)), np.zeros((3, 3, 1, 2)))
    h, _ = max_pool_forward(h, (2, 2))
    assert h.shape == (1, 2, 2, 2)
    with pytest.raises(ShapeError, match="size 2"):
        conv_forward(h, np.zeros((3, 3, 2, 2)))
    with pytest.raises(ShapeError, match="max_pool"):
        max_pool_forward(np.zeros((1, 1, 1, 1)), (2, 2))


def test_relu_general_matches_keras_docstring_examples():
    """keras.activations.relu(x, negative_slope, max_value, threshold), Keras 3's own examples.
    Keras computes ``x * (x > threshold)``: an input equal to the threshold gives 0."""
    if "relu_general" not in activations.ACTIVATIONS:
        pytest.skip("relu_general not registered")
    relu = activations.relu_general
    x = np.array([-10, -5, 0.0, 5, 10], dtype=np.float32)
    np.testing.assert_array_equal(relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(relu(x, threshold=5.0), [0, 0, 0, 0, 10])
