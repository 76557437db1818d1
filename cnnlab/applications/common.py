"""What every application shares: Keras's argument checks, the input, the pooling and the weights.

An architecture module (``mobilenet_v2.py`` is the model to follow) does, in Keras's order::

    check_arguments(weights, include_top, classes, pooling)
    input_shape = input_shape_for(input_shape, include_top, weights)  # default_size=224, min_size=32
    img_input, inputs = image_input(input_tensor, input_shape)
    x = ...the layers, with Keras's names...
    if include_top:
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    return finish(inputs, x, name, weights, KerasWeights(fname, url, file_hash))

``finish`` builds the functional model and loads ``weights``: a path (``.weights.h5`` as Keras 3
saves it, a legacy ``.h5`` as Keras's applications download, ``.keras``, ``.safetensors``: the
model's ``load_weights``, which checks every array's shape before copying any), or
``"imagenet"`` (Keras's file, found by :func:`cnnlab.applications.files.keras_file`).
"""

from __future__ import annotations

import os
import warnings
from typing import NamedTuple

from ..errors import CnnlabError
from ..layers import GlobalAveragePooling2D, GlobalMaxPooling2D, Input, KerasTensor
from ..layers.graph import get_source_inputs
from ..model import Model
from . import imagenet_utils
from .files import keras_file

BASE_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


class KerasWeights(NamedTuple):
    """Keras's ImageNet weights file of one architecture: its name in the cache, URL and hash."""

    fname: str
    origin: str
    file_hash: str | None = None  # MD5 from Keras's source; None where Keras gives none


def _is_path(weights) -> bool:
    return isinstance(weights, (str, os.PathLike)) and os.path.exists(weights)


def check_arguments(weights, include_top, classes, pooling=None):
    """Keras's checks of ``weights`` and ``classes``; also refuse a ``pooling`` Keras would ignore."""
    if not (weights is None or weights == "imagenet" or _is_path(weights)):
        raise CnnlabError(
            "The `weights` argument should be either `None` (random initialization), 'imagenet' "
            "(pre-training on ImageNet), or the path to the weights file to be loaded.  "
            f"Received: weights={weights}"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise CnnlabError(
            "If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
            f"Received classes={classes}"
        )
    if include_top and (
        isinstance(classes, bool) or not isinstance(classes, int) or classes < 1
    ):
        raise CnnlabError(
            f"`classes` must be a positive integer. Received: classes={classes!r}"
        )
    if pooling not in (None, "avg", "max"):
        # Keras silently builds no pooling for any other value; a typo should not change the model.
        raise CnnlabError(
            f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}"
        )


def input_shape_for(input_shape, include_top, weights, default_size=224, min_size=32):
    """Keras's ``obtain_input_shape`` for an application (channels_last; a classifier needs a fixed size)."""
    return imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=min_size,
        data_format="channels_last",
        require_flatten=include_top,
        weights=weights,
    )


def weights_rows(rows, cols, published):
    """The image side in the name of the ImageNet file to load: ``rows`` when Keras publishes weights
    for that square size, else 224 with Keras's warning (the MobileNets)."""
    if rows == cols and rows in published:
        return rows
    sizes = ", ".join(str(r) for r in published)
    warnings.warn(
        f"`input_shape` is undefined or non-square, or `rows` is not in [{sizes}]. "
        "Weights for input shape (224, 224) will be loaded as the default.",
        stacklevel=3,
    )
    return 224


def image_input(input_tensor, input_shape):
    """``(x, inputs)``: the tensor the network starts from, and the model's inputs (Keras's
    ``get_source_inputs`` of ``input_tensor``, or a new ``Input(shape=input_shape)``)."""
    if input_tensor is not None and not isinstance(input_tensor, KerasTensor):
        raise CnnlabError(
            "input_tensor is not a Keras tensor (cnnlab builds on keras.Input or a layer's output); "
            f"Received `input_tensor={input_tensor!r}`"
        )
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    return input_tensor, get_source_inputs(input_tensor)


def pool(x, pooling, avg_name=None, max_name=None):
    """The feature extractor's optional global pooling (``pooling="avg"`` / ``"max"``)."""
    if pooling == "avg":
        return GlobalAveragePooling2D(name=avg_name)(x)
    if pooling == "max":
        return GlobalMaxPooling2D(name=max_name)(x)
    return x


def finish(inputs, outputs, name, weights, imagenet: KerasWeights | None):
    """The functional model, with ``weights`` loaded (a path, ``"imagenet"`` or None)."""
    model = Model(inputs, outputs, name=name)
    if weights == "imagenet":
        path = keras_file(
            imagenet.fname,
            imagenet.origin,
            imagenet.file_hash,
            what=f"the ImageNet weights of {name}",
        )
        model.load_weights(path)
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model
