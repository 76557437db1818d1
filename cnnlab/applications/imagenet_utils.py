"""``keras.applications.imagenet_utils``: preprocessing, decoding and the input-shape rules of the applications.

Keras's semantics (keras/src/applications/imagenet_utils.py), for NumPy arrays in ``channels_last``:

* ``preprocess_input(x, mode=...)``: ``"caffe"`` flips RGB to BGR and subtracts the ImageNet means
  (no scaling); ``"tf"`` maps ``[0, 255]`` to ``[-1, 1]``; ``"torch"`` maps to ``[0, 1]`` and then
  standardizes each channel. As in Keras, a floating-point array is changed *in place* (pass
  ``np.copy(x)`` to keep it) and keeps its dtype; any other dtype is cast to float32 first.
* ``decode_predictions(preds, top=5)``: the ``top`` classes of each row as
  ``(wordnet id, name, score)``, from ``imagenet_class_index.json`` (found by
  :func:`cnnlab.applications.files.keras_file`: the Keras cache, ``$CNNLAB_DATA``, then a download
  checked against Keras's hash).
* ``obtain_input_shape`` / ``correct_pad`` / ``validate_activation``: the rules every architecture
  shares for ``input_shape``, stride-2 zero padding and the classifier's activation.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from ..errors import CnnlabError
from ..layers import KerasTensor, Rescaling
from . import files

CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"  # Keras's MD5 of the file

# ImageNet's channel statistics, as Keras writes them.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)

_class_index_cache: dict = {}


def _check_data_format(data_format):
    if data_format is None:
        return "channels_last"
    if data_format not in ("channels_first", "channels_last"):
        raise CnnlabError(
            "Expected data_format to be one of `channels_first` or "
            f"`channels_last`. Received: data_format={data_format}"
        )
    return data_format


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocess a batch of images ``(N, H, W, 3)`` (or one image ``(H, W, 3)``) with values in ``[0, 255]``.

    ``mode``: ``"caffe"`` (RGB -> BGR, minus the ImageNet means), ``"tf"`` (to ``[-1, 1]``) or
    ``"torch"`` (to ``[0, 1]``, then per-channel standardization). A floating-point NumPy array is
    written over, as Keras does; other inputs are converted (integers to float32) first.
    """
    if mode not in {"caffe", "tf", "torch"}:
        raise CnnlabError(
            f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}"
        )
    data_format = _check_data_format(data_format)
    if isinstance(x, KerasTensor):
        return _symbolic(x, data_format, mode)
    if not isinstance(x, np.ndarray):
        # Keras's tensor branch returns a new tensor; a list or scalar becomes a fresh array here.
        x = np.asarray(x)
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype(np.float32, copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    channels_first = data_format == "channels_first"
    # The channel axis: 0 for one channels_first image, 1 for a channels_first batch, -1 otherwise.
    axis = (0 if x.ndim == 3 else 1) if channels_first else x.ndim - 1
    if mode == "torch":
        x /= 255.0
        mean, std = TORCH_MEAN, TORCH_STD
    else:
        x = np.flip(x, axis=axis)  # RGB -> BGR (a view, as Keras's x[..., ::-1])
        mean, std = CAFFE_MEAN_BGR, None
    shape = [1] * x.ndim
    shape[axis] = 3
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def _symbolic(x, data_format, mode):
    """``preprocess_input`` on a model's tensor (``x = preprocess_input(inputs)``, TensorFlow's
    transfer-learning idiom): the same arithmetic as a ``Rescaling`` layer in the graph."""
    if mode == "caffe" or data_format != "channels_last":
        # caffe's RGB -> BGR reorders channels, which no cnnlab layer does without weights of its own
        raise CnnlabError(
            f"preprocess_input(mode={mode!r}, data_format={data_format!r}) on a model's tensor is not "
            "available in cnnlab (it reorders the channels); preprocess the image arrays before the model "
            f"instead: model.predict(preprocess_input(images)). Received: a KerasTensor of shape {x.shape}"
        )
    if mode == "tf":
        return Rescaling(1 / 127.5, offset=-1.0)(x)
    # torch: (x / 255 - mean) / std, as one scale and offset per channel
    scale = [1 / (255.0 * s) for s in TORCH_STD]
    offset = [-m / s for m, s in zip(TORCH_MEAN, TORCH_STD)]
    return Rescaling(scale, offset=offset)(x)


_MODE_DOCS = {
    "caffe": 'RGB to BGR and the ImageNet channel means subtracted (mode ``"caffe"``)',
    "tf": 'Pixels scaled from ``[0, 255]`` to ``[-1, 1]`` (mode ``"tf"``)',
    "torch": 'Pixels scaled to ``[0, 1]``, then standardized per channel (mode ``"torch"``)',
}


def preprocessor(mode: str):
    """An architecture module's ``preprocess_input(x, data_format=None)``: this module's in ``mode``."""

    def preprocess(x, data_format=None):
        return preprocess_input(x, data_format=data_format, mode=mode)

    preprocess.__name__ = preprocess.__qualname__ = "preprocess_input"
    preprocess.__doc__ = (
        f"{_MODE_DOCS[mode]}, as the network was trained; see ``imagenet_utils``."
    )
    return preprocess


def _class_index():
    path = files.keras_file(
        CLASS_INDEX_FILE,
        CLASS_INDEX_PATH,
        CLASS_INDEX_HASH,
        what="the ImageNet class index",
    )
    key = (os.path.abspath(path), os.path.getmtime(path), os.path.getsize(path))
    if key not in _class_index_cache:
        with open(path, encoding="utf-8") as f:
            try:
                index = json.load(f)
            except ValueError as e:
                raise CnnlabError(
                    f"{path}: not a JSON class index ({e}). Received: filepath={path}"
                ) from None
        _class_index_cache.clear()
        _class_index_cache[key] = index
    return _class_index_cache[key]


def decode_predictions(preds, top=5):
    """Decode an ImageNet model's predictions ``(N, 1000)``: per sample a list of the ``top``
    ``(class_name, class_description, score)`` tuples, best first."""
    shape = getattr(preds, "shape", None)
    if shape is None or len(shape) != 2 or shape[1] != 1000:
        raise CnnlabError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, 1000)). Received array with shape: {shape}"
        )
    index = _class_index()
    results = []
    for pred in np.asarray(preds):
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(index[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results


def obtain_input_shape(
    input_shape, default_size, min_size, data_format, require_flatten, weights=None
):
    """The model's input shape from the user's ``input_shape`` (or None), checked by Keras's rules.

    With ``weights="imagenet"`` the input has 3 channels, and with the top it must be
    ``(default_size, default_size, 3)``; otherwise each side is at least ``min_size``; with the
    top (a fixed-size classifier) no side may be None. ``channels_last`` only (cnnlab's layout).
    """
    if data_format != "channels_last":
        raise CnnlabError(
            "cnnlab's applications are built channels_last (NHWC), Keras's default layout. "
            f"Received: data_format={data_format}"
        )
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        if input_shape[-1] not in {1, 3}:
            warnings.warn(
                "This model usually expects 1 or 3 input channels. However, it was passed an "
                f"input_shape with {input_shape[-1]} input channels.",
                stacklevel=3,
            )
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default_shape:
            raise CnnlabError(
                "When setting `include_top=True` and loading `imagenet` weights, "
                f"`input_shape` should be {default_shape}.  Received: input_shape={input_shape}"
            )
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise CnnlabError(
                f"`input_shape` must be a tuple of three integers. Received: input_shape={input_shape}"
            )
        if input_shape[-1] != 3 and weights == "imagenet":
            raise CnnlabError(
                f"The input must have 3 channels; Received `input_shape={input_shape}`"
            )
        if any(side is not None and side < min_size for side in input_shape[:2]):
            raise CnnlabError(
                f"Input size must be at least {min_size}x{min_size}; Received: input_shape={input_shape}"
            )
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (None, None, 3)
    if require_flatten and None in input_shape:
        raise CnnlabError(
            "If `include_top` is True, you should specify a static `input_shape`. "
            f"Received: input_shape={input_shape}"
        )
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ``ZeroPadding2D`` padding ``((top, bottom), (left, right))`` that, before a ``valid``
    stride-2 convolution, centres the kernel as TensorFlow's ``same`` would on an even side."""
    rows, cols = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if rows is None else (1 - rows % 2, 1 - cols % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """With pre-trained weights the classifier's activation may only be None or softmax, as in Keras."""
    if weights is None:
        return
    from ..keras import activations

    chosen = activations.get(classifier_activation)
    if chosen not in (activations.get("softmax"), activations.get(None)):
        raise CnnlabError(
            "Only `None` and `softmax` activations are allowed for the `classifier_activation` argument "
            "when using pretrained weights, with `include_top=True`; Received: "
            f"classifier_activation={classifier_activation}"
        )
