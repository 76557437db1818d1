"""Image files to arrays and back, the way Keras reads them: ``load_img``,
``img_to_array``, ``array_to_img``, ``save_img``, and the decode-and-resize step of
``image_dataset_from_directory``.

Decoding uses Pillow (``pip install 'cnnlab[images]'``; also part of ``cnnlab[plots]``
and ``cnnlab[cli]``). The formats Keras's data sets read are ``.bmp .gif .jpeg .jpg .png``
(:data:`IMAGE_FORMATS`); an animated GIF gives its first frame, as Keras's
``expand_animations=False`` does. Colour modes convert as Keras does:
``"grayscale"`` 1 channel, ``"rgb"`` 3 (alpha dropped), ``"rgba"`` 4. EXIF
orientation is not applied (Keras and TensorFlow ignore it too), so a photo is
read as it is stored.

Resizing for data sets is :func:`cnnlab.ops.resize.resize_images`, TensorFlow's
``tf.image.resize`` (half-pixel centres, no antialiasing), not Pillow's ``resize``.
``load_img(target_size=...)`` resizes with Pillow, as Keras's ``load_img`` does.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np

from ..errors import CnnlabError
from ..ops.resize import check_interpolation, resize_images
from ..ops.shapes import aspect_ratio_box

#: Extensions ``image_dataset_from_directory`` lists (Keras's ``ALLOWLIST_FORMATS``).
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def pillow():
    """Pillow's ``Image`` module, or a clear error saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise CnnlabError(
            "reading and writing image files needs Pillow: pip install 'cnnlab[images]' "
            "(or pip install Pillow)"
        ) from None
    return Image


def channels_for(color_mode, where="load_img"):
    if color_mode not in COLOR_MODES:
        raise CnnlabError(
            f'{where}: color_mode must be one of "grayscale", "rgb", "rgba". '
            f"Received: color_mode={color_mode!r}"
        )
    return COLOR_MODES[color_mode]


def _open(path):
    Image = pillow()
    if isinstance(path, io.BytesIO):
        return Image.open(path)
    if isinstance(path, (str, bytes, pathlib.Path)) or hasattr(path, "__fspath__"):
        with open(os.fspath(path), "rb") as f:  # read whole: the file is closed at once
            return Image.open(io.BytesIO(f.read()))
    raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")


def _convert(img, num_channels):
    if num_channels == 1:
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    mode = _PIL_MODES[num_channels]
    return img if img.mode == mode else img.convert(mode)


# --------------------------------------------------------------------------- Keras's utils


_PIL_RESAMPLING = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def load_img(
    path,
    color_mode="rgb",
    target_size=None,
    interpolation="nearest",
    keep_aspect_ratio=False,
):
    """``keras.utils.load_img``: a Pillow image in ``color_mode``, resized with Pillow to
    ``target_size = (height, width)`` if given (``keep_aspect_ratio`` crops the centre first)."""
    num_channels = channels_for(color_mode)
    img = _convert(_open(path), num_channels)
    if target_size is None:
        return img
    width_height = (int(target_size[1]), int(target_size[0]))
    if img.size == width_height:
        return img
    if interpolation not in _PIL_RESAMPLING:
        raise CnnlabError(
            f"load_img: invalid interpolation method {interpolation!r}. Supported methods are "
            f"{', '.join(_PIL_RESAMPLING)}. Received: interpolation={interpolation!r}"
        )
    resample = getattr(pillow().Resampling, interpolation.upper())
    box = None
    if keep_aspect_ratio:
        width, height = img.size
        target_width, target_height = width_height
        crop_height = min(height, (width * target_height) // target_width)
        crop_width = min(width, (height * target_width) // target_height)
        top, left = (height - crop_height) // 2, (width - crop_width) // 2
        box = (left, top, left + crop_width, top + crop_height)
    return img.resize(width_height, resample, box=box)


def _data_format(data_format):
    data_format = "channels_last" if data_format is None else str(data_format).lower()
    if data_format not in ("channels_last", "channels_first"):
        raise CnnlabError(
            f'data_format must be "channels_last" or "channels_first". '
            f"Received: data_format={data_format!r}"
        )
    return data_format


def img_to_array(img, data_format=None, dtype=None):
    """``keras.utils.img_to_array``: a Pillow image as a float32 ``(H, W, C)`` array."""
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise CnnlabError(
            f"img_to_array: unsupported image shape: {x.shape}. Received: shape={x.shape}"
        )
    return (
        np.ascontiguousarray(x.transpose(2, 0, 1))
        if data_format == "channels_first"
        else x
    )


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """``keras.utils.array_to_img``: an ``(H, W, C)`` array (C = 1, 3, 4) as a Pillow image;
    ``scale`` stretches it to 0..255 first."""
    Image = pillow()
    data_format = _data_format(data_format)
    x = np.array(x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise CnnlabError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype("uint8"), "RGB" if channels == 3 else "RGBA")
    if channels == 1:
        if np.max(x) > 255:
            return Image.fromarray(x[:, :, 0].astype("int32"), "I")
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise CnnlabError(
        f"array_to_img: unsupported channel number: {channels} (1, 3 or 4). Received: shape={x.shape}"
    )


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """``keras.utils.save_img``: write an array as an image file (format from the extension)."""
    if file_format is None and isinstance(path, (str, pathlib.Path)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn(
            "The JPEG format does not support RGBA images, converting to RGB.",
            stacklevel=2,
        )
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


# --------------------------------------------------------------------------- data sets


def _grayscale_as_tensorflow(img):
    """A colour image as one channel the way TensorFlow's decoders make it: JPEG's own
    luma (libjpeg's grayscale output), otherwise libpng's weights, truncated:
    ``(9797 R + 19234 G + 3737 B) >> 15`` (Pillow's ``convert("L")`` rounds another
    way and is one level off on many pixels)."""
    if img.format == "JPEG":
        img.draft("L", img.size)
        if img.mode == "L":
            return np.asarray(img)
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint32)
    gray = (rgb[..., 0] * 9797 + rgb[..., 1] * 19234 + rgb[..., 2] * 3737) >> 15
    return gray.astype(np.uint8)


def decode_image(path, num_channels):
    """The pixels of an image file as a ``uint8`` array ``(H, W, num_channels)``
    (the first frame of an animation), converted as TensorFlow's ``decode_image``
    converts it. Raises :class:`CnnlabError` naming the file."""
    try:
        img = _open(path)
        if num_channels == 1 and img.mode not in ("L", "I;16", "I"):
            x = _grayscale_as_tensorflow(img)
        else:
            x = np.asarray(_convert(img, num_channels))
    except (
        OSError,
        ValueError,
        SyntaxError,
    ) as e:  # UnidentifiedImageError is an OSError
        raise CnnlabError(
            f"cannot read the image {os.fspath(path)}: {e}. Received: {os.fspath(path)!r}"
        ) from None
    if x.ndim == 2:
        x = x[:, :, None]
    return x


def smart_resize(x, size, interpolation="bilinear", data_format="channels_last"):
    """``keras.preprocessing.image.smart_resize``: the largest centred crop of ``x``
    (``(H, W, C)`` or ``(N, H, W, C)``) with the aspect ratio of ``size = (height, width)``,
    resized to ``size`` (:func:`cnnlab.ops.resize.resize_images`)."""
    if _data_format(data_format) != "channels_last":
        raise CnnlabError(
            f"smart_resize: cnnlab is channels_last only. Received: data_format={data_format!r}"
        )
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise CnnlabError(
            f"smart_resize: Expected an image array with shape `(height, width, channels)`, or "
            f"`(batch_size, height, width, channels)`. Received: shape={x.shape}"
        )
    if len(size) != 2:
        raise CnnlabError(
            f"smart_resize: Expected `size` to be a tuple of 2 integers. Received: size={size}"
        )
    target_h, target_w = int(size[0]), int(size[1])
    height, width = x.shape[-3], x.shape[-2]
    top, crop_h = aspect_ratio_box(height, width, target_h, target_w, "crop")
    left, crop_w = aspect_ratio_box(width, height, target_w, target_h, "crop")
    return resize_images(
        x[..., top : top + crop_h, left : left + crop_w, :],
        (target_h, target_w),
        interpolation,
    )


def fit_to_size(
    x,
    image_size,
    interpolation="bilinear",
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
):
    """One image ``(H, W, C)`` to ``image_size = (height, width)`` as Keras's data sets do it:
    plain ``tf.image.resize``; or the largest centred crop of the target's aspect ratio,
    resized (``crop_to_aspect_ratio``, :func:`smart_resize`); or resized to fit and
    padded with zeros around it (``pad_to_aspect_ratio``, ``tf.image.resize_with_pad``).
    Returns float32 (``"nearest"`` keeps the image's dtype, as TensorFlow does)."""
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise CnnlabError(
            "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`."
        )
    target_h, target_w = image_size
    height, width = x.shape[0], x.shape[1]
    if crop_to_aspect_ratio:
        return smart_resize(x, image_size, interpolation)
    if pad_to_aspect_ratio:
        # tf.image.resize_with_pad, in float32 as TensorFlow computes it
        f_h, f_w = np.float32(height), np.float32(width)
        ratio = max(f_w / np.float32(target_w), f_h / np.float32(target_h))
        new_hf, new_wf = f_h / ratio, f_w / ratio
        new_h, new_w = int(np.floor(new_hf)), int(np.floor(new_wf))
        top = max(0, int(np.floor((np.float32(target_h) - new_hf) / np.float32(2))))
        left = max(0, int(np.floor((np.float32(target_w) - new_wf) / np.float32(2))))
        inner = resize_images(x, (new_h, new_w), interpolation)
        out = np.zeros((target_h, target_w, x.shape[2]), dtype=inner.dtype)
        out[top : top + new_h, left : left + new_w] = inner
        return out
    return resize_images(x, image_size, interpolation)


def load_and_resize(
    path,
    image_size,
    num_channels,
    interpolation="bilinear",
    crop_to_aspect_ratio=False,
    pad_to_aspect_ratio=False,
):
    """Decode one file and bring it to ``image_size``: ``(height, width, num_channels)``,
    values 0..255 as Keras yields them (float32; uint8 with ``"nearest"``, as in Keras)."""
    interpolation = check_interpolation(interpolation, "image_dataset_from_directory")
    return fit_to_size(
        decode_image(path, num_channels),
        image_size,
        interpolation,
        crop_to_aspect_ratio,
        pad_to_aspect_ratio,
    )
