"""Transfer learning end to end, as Keras's transfer-learning guide writes it, on a generated image folder.

A small MobileNetV2 (alpha 0.35, 32x32) pretrained on other generated pictures (stripes, checks, rings,
circles, squares, crosses: ``scripts/make_transfer_base.py`` wrote its Keras weights file) is loaded
with ``weights=PATH``, frozen and called with ``training=False`` under a new head; ``fit`` on a folder of
a new task (triangles, grids of thin lines, diamonds: never shown to the base), read by ``image_dataset_from_directory``
with ``preprocess_input`` in the model, trains the head to well above chance on held-out pictures
while every base weight stays bit-identical.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.data import synthetic_photos
from cnnlab.keras import layers
from cnnlab.layers import clear_session

pytest.importorskip("PIL")
pytest.importorskip("h5py")
WEIGHTS = (
    pathlib.Path(__file__).resolve().parents[1]
    / "fixtures"
    / "applications"
    / "transfer_base.weights.h5"
)
SIZE = 32
#: Three classes: chance is 1/3. Measured 0.900 on the 30 held-out pictures after 8 epochs.
THRESHOLD = 0.7


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def train_head(tmp_path, weights):
    """Keras's guide on the generated folders: ``(held-out accuracy, base weights before, base)``."""
    train_dir = synthetic_photos.write_folder(
        str(tmp_path / "train"), per_class=12, seed=10, size=48
    )
    val_dir = synthetic_photos.write_folder(
        str(tmp_path / "val"), per_class=10, seed=11, size=48
    )
    keras.utils.set_random_seed(0)
    train = keras.utils.image_dataset_from_directory(
        train_dir, image_size=(SIZE, SIZE), batch_size=8, seed=1, verbose=False
    )
    val = keras.utils.image_dataset_from_directory(
        val_dir, image_size=(SIZE, SIZE), batch_size=16, shuffle=False, verbose=False
    )
    assert train.class_names == sorted(synthetic_photos.TARGET)

    base = keras.applications.MobileNetV2(
        alpha=0.35, include_top=False, weights=weights, input_shape=(SIZE, SIZE, 3)
    )
    base.trainable = False
    before = [w.copy() for w in base.get_weights()]
    inputs = keras.Input((SIZE, SIZE, 3))
    # mobilenet_v2.preprocess_input, in the model
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(3e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 1280 * 3 + 3

    # The same in-model preprocessing as the module's function.
    pixels = np.random.default_rng(0).uniform(0, 255, (2, SIZE, SIZE, 3))
    pixels = pixels.astype(np.float32)
    np.testing.assert_allclose(
        model.layers[1](pixels),
        keras.applications.mobilenet_v2.preprocess_input(pixels.copy()),
        atol=1e-6,
    )
    history = model.fit(train, validation_data=val, epochs=8, verbose=0)
    return history.history["val_accuracy"][-1], before, base


def test_a_frozen_pretrained_base_learns_a_new_task_from_few_images(tmp_path):
    accuracy, before, base = train_head(tmp_path, str(WEIGHTS))
    print(f"held-out accuracy after 8 epochs: {accuracy:.3f} (threshold {THRESHOLD})")
    assert accuracy >= THRESHOLD
    for got, expected in zip(base.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


def test_without_the_pretrained_weights_the_head_learns_nothing(tmp_path):
    # The contrast: a random base (weights=None) gives features that tell the classes apart no better
    # than chance, so what the head learns above comes from the pretraining.
    accuracy, _, _ = train_head(tmp_path, None)
    print(f"held-out accuracy with a random base: {accuracy:.3f}")
    assert accuracy < 0.5
