"""Shared test fixtures."""
import warnings

import pytest


@pytest.fixture
def seed004_model():
    """A factory for seed 004's model exactly as the seed writes it (``input_shape=`` on the
    first layer, whose Keras 3 warning is silenced), with fresh automatic names."""
    from cnnlab import keras

    def build():
        keras.backend.clear_session()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.Sequential([
                keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                keras.layers.MaxPooling2D((2, 2)),
                keras.layers.Conv2D(64, (3, 3), activation="relu"),
                keras.layers.MaxPooling2D((2, 2)),
                keras.layers.Flatten(),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])

    return build
