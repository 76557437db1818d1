"""Bad input gets a message that names the layer or loss, the shapes, and the fix."""

import re
import warnings

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError

layers = keras.layers


def small_cnn(loss="sparse_categorical_crossentropy", units=10):
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(units, activation="softmax"),
        ]
    )
    model.compile("adam", loss, ["accuracy"])
    return model


def test_mnist_batch_without_channel_axis_says_add_it():
    model = small_cnn()
    x = np.zeros((8, 28, 28), np.float64)
    with pytest.raises(ValueError, match=re.escape("x[..., None]")) as err:
        model.fit(x, np.zeros(8, int), verbose=0)
    assert "(8, 28, 28)" in str(err.value)


def test_conv2d_called_on_3d_batch_says_add_channel_axis():
    with pytest.raises(ValueError) as err:
        layers.Conv2D(4, 3, name="my_conv")(np.zeros((8, 28, 28), np.float32))
    message = str(err.value)
    assert (
        "my_conv" in message and "x[..., None]" in message and "(8, 28, 28)" in message
    )


def test_input_shape_with_batch_axis_says_so():
    with pytest.raises(ValueError) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers.Conv2D(32, 3, input_shape=(60000, 28, 28, 1))
    message = str(err.value)
    assert "batch axis" in message and "(28, 28, 1)" in message


def test_spatial_size_reaching_zero_names_layer_and_arithmetic():
    with pytest.raises(ValueError) as err:
        keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                layers.Conv2D(4, 3),
                layers.MaxPooling2D(),
                layers.Conv2D(4, 5, name="too_big"),
            ]
        )
    message = str(err.value)
    assert "too_big" in message
    assert "floor((3 - 5) / 1) + 1 = -1" in message
    assert 'padding="same"' in message


def test_one_hot_labels_with_sparse_loss_name_the_loss_and_fix():
    model = small_cnn("sparse_categorical_crossentropy")
    y = keras.utils.to_categorical(np.arange(8) % 10, 10)
    with pytest.raises(ValueError) as err:
        model.fit(np.zeros((8, 28, 28, 1)), y, verbose=0)
    message = str(err.value)
    assert (
        "sparse_categorical_crossentropy" in message
        and "categorical_crossentropy" in message
    )
    assert "(8, 10)" in message


def test_integer_labels_with_categorical_loss_suggest_sparse_or_to_categorical():
    model = small_cnn("categorical_crossentropy")
    with pytest.raises(ValueError) as err:
        model.fit(np.zeros((8, 28, 28, 1)), np.arange(8), verbose=0)
    message = str(err.value)
    assert "sparse_categorical_crossentropy" in message and "to_categorical" in message


def test_label_out_of_range_names_loss_and_classes():
    model = small_cnn(units=5)
    with pytest.raises(ValueError) as err:
        model.fit(np.zeros((8, 28, 28, 1)), np.arange(8), verbose=0)
    message = str(err.value)
    assert (
        "sparse_categorical_crossentropy" in message
        and "7" in message
        and "5 outputs" in message
    )


def test_mismatched_lengths():
    with pytest.raises(CnnlabError, match=r"same number of samples"):
        small_cnn().fit(np.zeros((8, 28, 28, 1)), np.zeros(7, int), verbose=0)


def test_channel_mismatch_names_both():
    conv = layers.Conv2D(4, 3, name="rgb_conv")
    conv(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError) as err:
        conv(np.zeros((1, 8, 8, 1), np.float32))
    assert "rgb_conv" in str(err.value) and "3 input channels" in str(err.value)


def test_nan_in_batch_is_reported_with_batch_index_before_update():
    model = small_cnn()
    x = np.zeros((64, 28, 28, 1), np.float32)
    x[40, 3, 3, 0] = np.nan
    before = model.get_weights()
    with pytest.raises(CnnlabError, match=r"batch 1 of epoch 1 contains NaN"):
        model.fit(x, np.zeros(64, int), batch_size=32, shuffle=False, verbose=0)
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, after)
    )  # batch 0 trained, batch 1 refused
