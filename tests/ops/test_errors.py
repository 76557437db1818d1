"""Bad input gets a clear error naming the operation, the shapes and the fix,
never a bare NumPy broadcast error (MISSION.md, quality bars)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.errors import CnnlabError, ShapeError
from cnnlab.ops import (
    activations,
    avg_pool_forward,
    binary_crossentropy,
    categorical_crossentropy,
    conv_forward,
    dense_forward,
    global_max_pool_forward,
    max_pool_forward,
    mean_squared_error,
    reshape_forward,
    sparse_categorical_crossentropy,
)


def test_shape_error_is_a_value_error():
    assert issubclass(ShapeError, CnnlabError)
    assert issubclass(ShapeError, ValueError)


def test_conv_channel_mismatch_names_both_shapes():
    x = np.zeros((2, 5, 5, 3), dtype=np.float32)
    w = np.zeros((3, 3, 1, 4), dtype=np.float32)
    with pytest.raises(ShapeError) as info:
        conv_forward(x, w)
    msg = str(info.value)
    assert "(2, 5, 5, 3)" in msg
    assert "(3, 3, 1, 4)" in msg
    assert "3 channels" in msg and "expects 1" in msg
    assert "Received:" in msg


def test_conv_2d_on_a_3d_input_suggests_adding_a_channel_axis():
    x = np.zeros((8, 28, 28), dtype=np.float32)  # MNIST without the channel axis
    w = np.zeros((3, 3, 1, 32), dtype=np.float32)
    with pytest.raises(ShapeError) as info:
        conv_forward(x, w)
    msg = str(info.value)
    assert "x[..., None]" in msg
    assert "rank 4" in msg and "rank 3" in msg
    assert "(8, 28, 28)" in msg
    # and the suggestion works
    y, _ = conv_forward(x[..., None], w)
    assert y.shape == (8, 26, 26, 32)


def test_conv_rank_far_off_does_not_suggest_channel_axis():
    with pytest.raises(ShapeError) as info:
        conv_forward(np.zeros((28, 28)), np.zeros((3, 3, 1, 4)))
    assert "x[..., None]" not in str(info.value)
    assert "(28, 28)" in str(info.value)


@pytest.mark.parametrize(
    "kwargs,word",
    [
        ({"strides": 0}, "strides"),
        ({"strides": (1, 2, 3)}, "strides"),
        ({"dilation_rate": -1}, "dilation_rate"),
        ({"padding": "full"}, "padding"),
    ],
)
def test_conv_bad_hyperparameters_are_named(kwargs, word):
    with pytest.raises(ShapeError, match=word):
        conv_forward(np.zeros((1, 5, 5, 1)), np.zeros((3, 3, 1, 1)), **kwargs)


def test_kernel_without_channel_axes_is_explained():
    with pytest.raises(ShapeError, match="C_in, C_out"):
        conv_forward(np.zeros((1, 5, 1)), np.zeros((3,)))


def test_pool_errors():
    with pytest.raises(ShapeError, match="rank 4") as info:
        max_pool_forward(np.zeros((5, 5)), (2, 2))
    assert "(5, 5)" in str(info.value)
    with pytest.raises(ShapeError, match="padding"):
        avg_pool_forward(np.zeros((1, 4, 4, 1)), (2, 2), None, 1)
    with pytest.raises(ShapeError, match="pool_size"):
        max_pool_forward(np.zeros((1, 4, 4, 1)), 2)
    with pytest.raises(ShapeError, match="global_max_pool"):
        global_max_pool_forward(np.zeros((3, 4)))


def test_dense_feature_mismatch_names_both_shapes():
    with pytest.raises(ShapeError) as info:
        dense_forward(np.zeros((4, 1600)), np.zeros((320, 100)), np.zeros(100))
    msg = str(info.value)
    assert "(4, 1600)" in msg and "(320, 100)" in msg
    assert "1600" in msg and "320" in msg


def test_reshape_error_counts_values():
    with pytest.raises(ShapeError, match="12 values") as info:
        reshape_forward(np.zeros((2, 3, 4)), (5, 2))
    assert "(5, 2)" in str(info.value)


def test_loss_shape_errors():
    with pytest.raises(ShapeError, match="sparse_categorical_crossentropy") as info:
        categorical_crossentropy(np.array([0, 1, 2]), np.full((3, 3), 1 / 3))
    assert "(3,)" in str(info.value) and "(3, 3)" in str(info.value)
    with pytest.raises(ShapeError, match="look one-hot"):
        sparse_categorical_crossentropy(np.eye(3), np.full((3, 3), 1 / 3))
    with pytest.raises(ShapeError, match="label 5 is out of range"):
        sparse_categorical_crossentropy(np.array([0, 5]), np.full((2, 3), 1 / 3))
    with pytest.raises(ShapeError, match="label -1"):
        sparse_categorical_crossentropy(np.array([-1, 0]), np.full((2, 3), 1 / 3))
    with pytest.raises(ShapeError, match="whole class numbers"):
        sparse_categorical_crossentropy(np.array([0.5, 1.0]), np.full((2, 3), 1 / 3))
    with pytest.raises(ShapeError, match="3 labels for 2 predictions"):
        sparse_categorical_crossentropy(np.array([0, 1, 2]), np.full((2, 3), 1 / 3))
    with pytest.raises(ShapeError, match="binary_crossentropy"):
        binary_crossentropy(np.zeros((4,)), np.full((4, 1), 0.5))
    with pytest.raises(ShapeError, match="mean_squared_error"):
        mean_squared_error(np.zeros((4, 2)), np.zeros((4, 1)))


def test_sparse_labels_accept_float_whole_numbers_and_column_vectors():
    p = np.array([[0.3, 0.7], [0.9, 0.1]])
    a, _ = sparse_categorical_crossentropy(np.array([0.0, 1.0]), p)
    b, _ = sparse_categorical_crossentropy(np.array([[0], [1]], dtype=np.uint8), p)
    assert a == pytest.approx(b) == pytest.approx((-np.log(0.3) - np.log(0.1)) / 2)


def test_unknown_activation_lists_known_ones():
    with pytest.raises(ValueError, match="relu") as info:
        activations.get("rleu")
    assert "rleu" in str(info.value)
    assert activations.get(None) == activations.ACTIVATIONS["linear"]
    assert activations.get("ReLU") == activations.ACTIVATIONS["relu"]
