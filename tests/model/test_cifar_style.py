"""A CIFAR-style model (Conv-BN-ReLU blocks with ``same`` padding, augmentation, dropout) learns
synthetic 32x32x3 images well above chance, and ``cnnlab.explain`` works on it."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import explain, keras
from cnnlab.layers import clear_session


def synthetic(n, seed):
    """Class k: a bright 8x8 square in colour channel k at a random place, on noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.4, (n, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 3, n)
    corners = rng.integers(2, 22, (n, 2))
    for i, (k, (r, c)) in enumerate(zip(y, corners)):
        x[i, r : r + 8, c : c + 8, k] = 1.0
    return x, y, corners


def cifar_style_model():
    # momentum 0.9: with 48 steps in all, the default 0.99 would leave the moving statistics 60% at
    # their initial values (0.99**48), and inference (which uses them) far from training.
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            L.RandomFlip("horizontal", seed=1),
            L.RandomTranslation(0.1, 0.1, seed=2),
            L.Conv2D(8, 3, padding="same"),
            L.BatchNormalization(momentum=0.9),
            L.ReLU(),
            L.MaxPooling2D(),
            L.Conv2D(16, 3, padding="same"),
            L.BatchNormalization(momentum=0.9),
            L.ReLU(),
            L.MaxPooling2D(),
            L.Dropout(0.2),
            L.GlobalAveragePooling2D(),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.fixture(scope="module")
def trained():
    clear_session()
    keras.utils.set_random_seed(14)
    model = cifar_style_model()
    x, y, _ = synthetic(384, 0)
    x_test, y_test, corners = synthetic(96, 1)
    before = model.evaluate(x_test, y_test, verbose=0)[1]
    history = model.fit(
        x, y, epochs=4, batch_size=32, verbose=0, validation_data=(x_test, y_test)
    )
    return model, before, history, (x_test, y_test, corners)


def test_accuracy_rises_well_above_chance(trained):
    model, before, history, (x_test, y_test, _) = trained
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    assert accuracy >= 0.8 > before + 0.2, (before, accuracy, history.history)
    assert history.history["loss"][-1] < history.history["loss"][0]
    conv_biases = [model.layers[i].get_weights()[1] for i in (2, 6)]
    assert all(
        (b == 0).all() for b in conv_biases
    )  # biases feeding BN: exactly zero after Adam


def test_explain_works_on_it(trained, tmp_path):
    model, _, history, (x_test, y_test, corners) = trained
    image = x_test[0]
    f = explain.filters(model)
    assert f.layer == "conv2d" and f.images.shape == (8, 3, 3)
    np.testing.assert_array_equal(f.kernel, model.layers[2].get_weights()[0])
    maps = explain.feature_maps(
        model, image, layer="batch_normalization"
    )  # inference-mode BN output
    assert maps.maps.shape == (8, 32, 32) and np.isfinite(maps.maps).all()
    bn_out = model.layers[3](model.layers[2](image[None]))
    np.testing.assert_allclose(
        maps.maps, np.moveaxis(bn_out[0], -1, 0), rtol=1e-5, atol=1e-6
    )
    cam = explain.grad_cam(model, image)
    heat = np.asarray(cam)
    assert heat.shape == (32, 32) and np.isfinite(heat).all()
    (r, c) = corners[0]
    inside = heat[r : r + 8, c : c + 8].mean()
    assert inside > heat.mean(), (
        "Grad-CAM should light up the square that decides the class"
    )
    report = explain.build_report(
        model,
        image,
        tmp_path / "report",
        label=int(y_test[0]),
        test_data=(x_test[:32], y_test[:32]),
        history=history.history,
    )
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "BatchNormalization" in page and "RandomFlip" in page
    assert report is not None
