"""Shared test fixtures."""

import os
import warnings

import pytest
from hypothesis import settings

# CI (CI=true) draws the same hypothesis examples on every run, so a submission's CI result does not depend on
# the luck of the draw; developers' runs keep exploring new examples (and replay failures from .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def seed004_model():
    """A factory for seed 004's model exactly as the seed writes it (``input_shape=`` on the
    first layer, whose Keras 3 warning is silenced), with fresh automatic names."""
    from cnnlab import keras

    def build():
        keras.backend.clear_session()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return keras.Sequential(
                [
                    keras.layers.Conv2D(
                        32, (3, 3), activation="relu", input_shape=(28, 28, 1)
                    ),
                    keras.layers.MaxPooling2D((2, 2)),
                    keras.layers.Conv2D(64, (3, 3), activation="relu"),
                    keras.layers.MaxPooling2D((2, 2)),
                    keras.layers.Flatten(),
                    keras.layers.Dense(128, activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )

    return build


@pytest.fixture(autouse=True, scope="session")
def no_mnist_of_this_machine(tmp_path_factory):
    """The CLI takes MNIST from CNNLAB_DATA or the Keras cache when they hold it; the tests
    must see neither (they use the bundled sample, and pass the same on every machine)."""
    import os

    saved = {k: os.environ.get(k) for k in ("CNNLAB_DATA", "KERAS_HOME")}
    os.environ.pop("CNNLAB_DATA", None)
    os.environ["KERAS_HOME"] = str(tmp_path_factory.mktemp("keras_home"))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
