"""The augmentation layers: identity in inference, seeded, on batches; Keras's argument meanings
pinned by hand-computed cases (a stand-in generator fixes each draw at an end of its range);
clear errors for nonsense arguments; the backward pass is the forward's adjoint; Keras's file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import ShapeError
from cnnlab.layers import clear_session

L = keras.layers
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


class EndOfRange:
    """A generator whose every draw is the top (or bottom) of the range asked for."""

    def __init__(self, top=True):
        self.top = top

    def uniform(self, low, high, size=None):
        return np.full(
            size if size is not None else (), high if self.top else low, dtype=float
        )

    def random(self, size=None):
        return np.zeros(size)  # every coin says "flip" (u <= 0.5)


def images(n=3, h=5, w=5, c=2, seed=0):
    return np.random.default_rng(seed).random((n, h, w, c)).astype("float32")


ALL = [
    lambda: L.RandomFlip(seed=1),
    lambda: L.RandomRotation(0.2, seed=1),
    lambda: L.RandomZoom(0.3, seed=1),
    lambda: L.RandomTranslation(0.2, 0.3, seed=1),
    lambda: L.RandomContrast(0.5, value_range=(0, 1), seed=1),
    lambda: L.RandomBrightness(0.2, value_range=(0, 1), seed=1),
    lambda: L.RandomCrop(3, 4, seed=1),
]
NAMES = [
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
    "RandomCrop",
]


@pytest.mark.parametrize("make", ALL, ids=NAMES)
def test_identity_in_inference_random_and_seeded_in_training(make):
    x = images(8)
    layer = make()
    np.testing.assert_array_equal(
        layer(x), x
    )  # inference (RandomCrop included: Keras 3)
    first = layer(x, training=True)
    assert (
        not np.array_equal(first, x[:, : first.shape[1], : first.shape[2]])
        or type(layer).__name__ == "RandomCrop"
    )
    assert (
        not np.array_equal(layer(x, training=True), first)
        or type(layer).__name__ == "RandomCrop"
    )
    clear_session()
    np.testing.assert_array_equal(
        make()(x, training=True), first
    )  # the same seed, the same draws
    assert first.dtype == np.float32


def test_flip_meanings():
    x = images()
    for mode, expected in [
        ("horizontal", x[:, :, ::-1]),
        ("vertical", x[:, ::-1]),
        ("horizontal_and_vertical", x[:, ::-1, ::-1]),
    ]:  # one coin flips both axes
        y, _ = L.RandomFlip(mode)._augment(x, EndOfRange())
        np.testing.assert_array_equal(y, expected, err_msg=mode)
    outcomes = {
        L.RandomFlip("horizontal", seed=s)(x[:1], training=True).tobytes()
        for s in range(12)
    }
    assert outcomes == {x[:1].tobytes(), x[:1, :, ::-1].tobytes()}


def test_rotation_factor_is_a_fraction_of_a_full_turn():
    x = images(h=5, w=5)
    y, _ = L.RandomRotation(0.25, interpolation="nearest")._augment(
        x, EndOfRange()
    )  # +90 degrees
    np.testing.assert_array_equal(y, np.rot90(x, 1, axes=(1, 2)))  # counter-clockwise
    y, _ = L.RandomRotation((-0.5, 0.25), interpolation="nearest")._augment(
        x, EndOfRange(top=False)
    )
    np.testing.assert_allclose(y, x[:, ::-1, ::-1], atol=1e-6)  # -180 degrees
    assert L.RandomRotation(0.1).factor == (-0.1, 0.1) and L.RandomRotation(
        (0.3, -0.2)
    ).factor == (-0.2, 0.3)


def test_zoom_and_translation_meanings():
    ramp = np.tile(np.arange(5, dtype="float32"), (1, 5, 1)).reshape(
        1, 5, 5, 1
    )  # value = column
    # height_factor 0.2 drawn at its top: zoom 1.2 (zoom out): column j reads 2 + 1.2*(j - 2)
    y, _ = L.RandomZoom(0.2, fill_mode="nearest")._augment(ramp, EndOfRange())
    np.testing.assert_allclose(
        y[0, 2, :, 0], np.clip(2 + 1.2 * (np.arange(5) - 2), 0, 4), atol=1e-6
    )
    y, _ = L.RandomZoom(0.2, width_factor=(-0.5, -0.5), fill_mode="nearest")._augment(
        ramp, EndOfRange()
    )
    np.testing.assert_allclose(
        y[0, 2, :, 0], 2 + 0.5 * (np.arange(5) - 2), atol=1e-6
    )  # zoom in x2
    # fractions of the size: 0.4 of 5 rows = 2 down, 0.2 of 5 columns = 1 right; constant fill
    y, _ = L.RandomTranslation(
        0.4, 0.2, fill_mode="constant", fill_value=-1.0
    )._augment(images(1), EndOfRange())
    x = images(1)
    np.testing.assert_allclose(y[:, 2:, 1:], x[:, :-2, :-1], atol=1e-6)
    assert (y[:, :2] == -1).all() and (y[:, :, :1] == -1).all()


def test_contrast_and_brightness_meanings():
    x = np.array([0.2, 0.4, 0.6, 0.8], dtype="float32").reshape(1, 2, 2, 1)  # mean 0.5
    y, _ = L.RandomContrast(0.5, value_range=(0, 1))._augment(
        x, EndOfRange()
    )  # factor 1.5
    np.testing.assert_allclose(y.reshape(-1), [0.05, 0.35, 0.65, 0.95], atol=1e-6)
    y, _ = L.RandomContrast(0.5, value_range=(0, 1))._augment(
        x, EndOfRange(top=False)
    )  # factor 1 - 0 = 1
    np.testing.assert_allclose(y, x, atol=1e-7)  # Keras 3: [1, 1 + f]
    assert L.RandomContrast(0.5).factor == (0, 0.5) and L.RandomContrast(
        (0.2, 0.3)
    ).factor == (0.2, 0.3)
    y, _ = L.RandomBrightness(0.1, value_range=(0, 255))._augment(
        x * 255, EndOfRange()
    )  # + 0.1 * 255
    np.testing.assert_allclose(
        y.reshape(-1), np.array([0.2, 0.4, 0.6, 0.8]) * 255 + 25.5, rtol=1e-6
    )
    y, _ = L.RandomBrightness((-0.5, 0.3), value_range=(1, 0))._augment(
        x, EndOfRange(top=False)
    )
    np.testing.assert_allclose(
        y.reshape(-1), [0.0, 0.0, 0.1, 0.3], atol=1e-6
    )  # -0.5, clipped at 0


def test_crop_meanings():
    x = np.arange(2 * 6 * 8, dtype="float32").reshape(2, 6, 8, 1)
    layer = L.RandomCrop(4, 3, seed=0)
    model = keras.Sequential([keras.Input((6, 8, 1)), layer])
    assert model.output_shape == (None, 4, 3, 1)
    windows = {layer(x, training=True)[0, 0, 0, 0] for _ in range(300)}
    assert windows == {
        float(8 * r + c) for r in range(3) for c in range(6)
    }  # every top-left corner
    y = layer(x, training=True)
    assert (y[1] - y[0] == 48).all()  # one window per batch
    np.testing.assert_array_equal(layer(x), x)  # inference: uncropped (Keras 3.15)
    # not larger in both axes: the centred window of the target's aspect ratio (Keras's rule)
    y, _ = L.RandomCrop(6, 4)._augment(x, EndOfRange())
    np.testing.assert_array_equal(y, x[:, :, 2:6])
    # 12 x 4 from 6 x 8: the window of aspect 3 is 6 x 2 from column 3; Keras slices 6 x 4 from there
    # and resizes it to 12 x 4 (bilinear, half-pixel centres: explain's independent resize_linear)
    from cnnlab.explain.resize import resize_linear

    y, _ = L.RandomCrop(12, 4)._augment(x, EndOfRange())
    assert y.shape == (2, 12, 4, 1)
    np.testing.assert_allclose(
        y[1, :, :, 0], resize_linear(x[1, 0:6, 3:7, 0], (12, 4)), atol=1e-5
    )


@pytest.mark.parametrize("make", ALL[:6], ids=NAMES[:6])
def test_backward_is_the_adjoint_of_the_forward(make):
    """y = A x (+ a constant): then <dy, A x> = <A^T dy, x>, whatever A the draw gave."""
    layer = make()
    if type(layer).__name__ in ("RandomContrast", "RandomBrightness"):
        layer.value_range = (
            [-100, 100] if type(layer).__name__ == "RandomBrightness" else (-100, 100)
        )
    x = images(4).astype("float64")
    y, cache = layer.forward(x, training=True)
    constant, _ = layer.forward(np.zeros_like(x), training=False)
    dy = np.random.default_rng(3).standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    assert grads == []
    if type(layer).__name__ == "RandomBrightness":
        delta = (y - x).mean(axis=(1, 2, 3), keepdims=True)
        np.testing.assert_allclose(np.sum(dy * (y - delta)), np.sum(dx * x), rtol=1e-10)
    elif getattr(layer, "fill_mode", "reflect") != "constant":
        np.testing.assert_allclose(np.sum(dy * y), np.sum(dx * x), rtol=1e-10)
    np.testing.assert_array_equal(
        layer.backward(dy, layer.forward(x)[1])[0], dy
    )  # inference: identity
    assert constant.shape == x.shape


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: L.RandomRotation("0.1", name="r"),
            r"RandomRotation 'r': `factor` must be a number or a pair",
        ),
        (
            lambda: L.RandomRotation((0.1, 0.2, 0.3), name="r"),
            r"'r': `factor`.*Received: factor=\(0.1, 0.2, 0.3\)",
        ),
        (
            lambda: L.RandomRotation(1.5, name="r"),
            r"'r': `factor` must be .* in \[-1, 1\]",
        ),
        (lambda: L.RandomRotation(None, name="r"), r"'r': `factor`"),
        (lambda: L.RandomRotation([0.1, "a"], name="r"), r"'r': `factor`"),
        (
            lambda: L.RandomRotation(0.1, fill_mode="mirror", name="r"),
            r"'r': `fill_mode` must be one of",
        ),
        (
            lambda: L.RandomRotation(0.1, interpolation="bicubic", name="r"),
            r"'r': `interpolation`",
        ),
        (
            lambda: L.RandomZoom(-1.0, name="z"),
            r"'z': `height_factor` must be .* in \(-1, 1\]",
        ),
        (
            lambda: L.RandomZoom(0.1, width_factor=(0.1,), name="z"),
            r"'z': `width_factor`",
        ),
        (lambda: L.RandomTranslation(0.1, 2, name="t"), r"'t': `width_factor`"),
        (
            lambda: L.RandomContrast(-0.2, name="c"),
            r"'c': `factor` must be .* in \[0, 1\]",
        ),
        (
            lambda: L.RandomBrightness(0.2, value_range=(0,), name="b"),
            r"'b': `value_range` must be a pair",
        ),
        (lambda: L.RandomFlip("diagonal", name="f"), r"'f': `mode` must be one of"),
        (
            lambda: L.RandomCrop(0, 3, name="k"),
            r"'k': `height` must be a positive integer",
        ),
        (
            lambda: L.RandomCrop(3, 2.5, name="k"),
            r"'k': `width` must be a positive integer",
        ),
        (lambda: L.RandomFlip(seed="x", name="f"), r"'f': `seed` must be an integer"),
        (
            lambda: L.RandomFlip(data_format="channels_first", name="f"),
            r"'f': cnnlab supports only",
        ),
    ],
)
def test_nonsense_arguments_name_the_layer_and_argument(make, match):
    with pytest.raises(ShapeError, match=match):
        make()


def test_keras_file_with_every_augmentation_layer(tmp_path):
    """Keras's file loads (inference: every layer is the identity, RandomCrop included) and the
    same layers built in cnnlab are saved with Keras's configs."""
    sys.path.insert(0, str(FIXTURES))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
    from bn_models import augmented_model
    from test_keras_fixtures import archive, comparable_layers

    model = keras.models.load_model(FIXTURES / "augment.keras")
    with np.load(FIXTURES / "augment_io.npz", allow_pickle=False) as data:
        np.testing.assert_allclose(
            model.predict(data["x"], verbose=0), data["y"], atol=1e-6
        )
    clear_session()
    augmented_model(keras).save(tmp_path / "ours.keras")
    assert comparable_layers(
        archive(tmp_path / "ours.keras")[2], names=False
    ) == comparable_layers(archive(FIXTURES / "augment.keras")[2], names=False)


@pytest.mark.parametrize("height, width", [(3, 4), (12, 4)])
def test_crop_backward_is_the_adjoint_in_both_paths(height, width):
    layer = L.RandomCrop(height, width, seed=3)
    x = np.random.default_rng(0).random((2, 6, 8, 1))
    y, cache = layer.forward(x, training=True)
    assert y.shape == (2, height, width, 1)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx, _ = layer.backward(dy, cache)
    np.testing.assert_allclose(np.sum(dy * y), np.sum(dx * x), rtol=1e-10)
