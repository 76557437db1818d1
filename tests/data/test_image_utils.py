"""keras.utils.load_img / img_to_array / array_to_img / save_img / smart_resize and
the keras.preprocessing.image aliases."""

import numpy as np
import pytest

pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from cnnlab import keras  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402


def test_round_trip_and_color_modes(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (6, 9, 3)).astype(np.float32)
    path = str(tmp_path / "a.png")
    keras.utils.save_img(path, x, scale=False)
    img = keras.utils.load_img(path)
    assert img.mode == "RGB" and img.size == (9, 6)
    arr = keras.utils.img_to_array(img)
    assert arr.dtype == np.float32 and arr.shape == (6, 9, 3)
    np.testing.assert_array_equal(arr, x)
    assert keras.utils.img_to_array(
        keras.utils.load_img(path, color_mode="grayscale")
    ).shape == (6, 9, 1)
    assert keras.utils.img_to_array(
        keras.utils.load_img(path, color_mode="rgba")
    ).shape == (6, 9, 4)
    assert keras.utils.img_to_array(img, data_format="channels_first").shape == (
        3,
        6,
        9,
    )
    small = keras.utils.load_img(path, target_size=(3, 4), interpolation="bilinear")
    assert small.size == (4, 3)
    np.testing.assert_array_equal(
        np.asarray(small),
        np.asarray(Image.open(path).resize((4, 3), Image.Resampling.BILINEAR)),
    )
    cropped = keras.utils.load_img(path, target_size=(6, 6), keep_aspect_ratio=True)
    np.testing.assert_array_equal(
        np.asarray(cropped), x[:, 1:7].astype(np.uint8)
    )  # centre crop, no resize


def test_array_to_img_scales_like_keras():
    img = keras.utils.array_to_img(np.array([[[0.0], [0.5]], [[1.0], [0.25]]]))
    assert img.mode == "L"
    np.testing.assert_array_equal(np.asarray(img), [[0, 127], [255, 63]])
    assert keras.utils.array_to_img(np.full((2, 2, 1), 300.0), scale=False).mode == "I"
    with pytest.raises(CnnlabError, match="rank 3"):
        keras.utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(CnnlabError, match="channel number: 2"):
        keras.utils.array_to_img(np.zeros((2, 2, 2)))


def test_save_jpeg_of_rgba_warns_and_converts(tmp_path):
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        keras.utils.save_img(str(tmp_path / "a.jpg"), np.zeros((4, 4, 4)))
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"


def test_load_img_errors(tmp_path):
    path = str(tmp_path / "a.png")
    keras.utils.save_img(path, np.zeros((4, 4, 3)))
    with pytest.raises(CnnlabError, match="color_mode"):
        keras.utils.load_img(path, color_mode="cmyk")
    with pytest.raises(CnnlabError, match="invalid interpolation"):
        keras.utils.load_img(path, target_size=(2, 2), interpolation="cubic")
    with pytest.raises(TypeError, match="path-like"):
        keras.utils.load_img(3)


def test_smart_resize_takes_the_centre_crop():
    x = np.arange(4 * 8, dtype=np.float32).reshape(4, 8, 1)
    out = keras.preprocessing.image.smart_resize(x, (4, 4))
    np.testing.assert_array_equal(out, x[:, 2:6])
    assert keras.preprocessing.image.smart_resize(np.stack([x, x]), (2, 2)).shape == (
        2,
        2,
        2,
        1,
    )


def test_preprocessing_aliases_are_the_utils():
    for name in ("load_img", "img_to_array", "array_to_img", "save_img"):
        assert getattr(keras.preprocessing.image, name) is getattr(keras.utils, name)
    assert (
        keras.preprocessing.image_dataset_from_directory
        is keras.utils.image_dataset_from_directory
    )
