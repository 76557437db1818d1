"""``preprocess_input`` in Keras's three modes, against Keras's own values (tests/fixtures/applications)."""

from __future__ import annotations

import numpy as np
import pytest
from app_fixtures import FIXTURES

from cnnlab.applications import imagenet_utils, mobilenet_v2
from cnnlab.errors import CnnlabError

VALUES = np.load(FIXTURES / "imagenet_utils.npz", allow_pickle=False)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("what", ["batch", "pixels", "image"])
def test_modes_equal_keras(mode, what):
    expected = VALUES[f"{mode}_{what}"]
    got = imagenet_utils.preprocess_input(VALUES[what].copy(), mode=mode)
    assert (
        got.dtype == expected.dtype
    )  # float64 stays float64, uint8 becomes float32, as in Keras
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_channels_first_equals_keras(mode):
    x = np.moveaxis(VALUES["batch"], -1, 1).copy()
    got = imagenet_utils.preprocess_input(x, mode=mode, data_format="channels_first")
    np.testing.assert_array_equal(got, VALUES[f"{mode}_batch_cf"])


def test_a_float_array_is_written_over_as_in_keras():
    x = VALUES["batch"].copy()
    out = mobilenet_v2.preprocess_input(x)
    assert out is x and np.array_equal(x, VALUES["tf_batch"])
    pixels = VALUES["pixels"].copy()
    mobilenet_v2.preprocess_input(pixels)
    assert np.array_equal(
        pixels, VALUES["pixels"]
    )  # uint8 is cast to a new float32 array


def test_unknown_mode_and_format():
    with pytest.raises(CnnlabError, match="Received: mode=keras"):
        imagenet_utils.preprocess_input(VALUES["batch"].copy(), mode="keras")
    with pytest.raises(CnnlabError, match="Received: data_format=nhwc"):
        imagenet_utils.preprocess_input(VALUES["batch"].copy(), data_format="nhwc")


@pytest.mark.parametrize("mode", ["tf", "torch"])
def test_on_a_model_tensor_it_adds_the_same_arithmetic(mode):
    """TensorFlow's transfer-learning tutorial writes ``x = preprocess_input(inputs)`` in the model."""
    from cnnlab import keras

    inputs = keras.Input(shape=(5, 4, 3))
    model = keras.Model(inputs, imagenet_utils.preprocess_input(inputs, mode=mode))
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Rescaling",
    ]
    got = model.predict(VALUES["batch"], verbose=0)
    np.testing.assert_allclose(got, VALUES[f"{mode}_batch"], rtol=1e-6, atol=1e-6)


def test_caffe_on_a_model_tensor_says_what_to_do():
    from cnnlab import keras

    with pytest.raises(
        CnnlabError,
        match=r"preprocess the image arrays before the model.*Received: a KerasTensor",
    ):
        imagenet_utils.preprocess_input(keras.Input(shape=(5, 4, 3)), mode="caffe")
