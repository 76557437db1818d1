"""``keras.applications.xception``: Xception (Chollet, 2017), as Keras 3 builds it.

An entry flow of two plain convolutions and three blocks of separable convolutions whose shortcut is
a strided 1x1 convolution; a middle flow of eight residual blocks of three separable convolutions at
728 channels; an exit flow to 2048 channels. Layer names, weight order and parameter counts are
Keras's: 22,910,480 parameters with the top, 20,861,480 without. The shortcuts' convolutions, batch
normalizations and additions carry no name in Keras's code, so they take the automatic ones
(``conv2d``, ``batch_normalization``, ``add``, ...), as there. Inputs of at least 71x71.
"""

from __future__ import annotations

from ..layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    SeparableConv2D,
    add,
)
from . import imagenet_utils
from .common import (
    BASE_WEIGHTS_URL,
    KerasWeights,
    check_arguments,
    finish,
    image_input,
    pool,
)

WEIGHTS_URL = BASE_WEIGHTS_URL + "xception/"


def _separable(x, filters, name):
    """A 3x3 separable convolution (no bias) and its batch normalization."""
    x = SeparableConv2D(filters, (3, 3), padding="same", use_bias=False, name=name)(x)
    return BatchNormalization(axis=-1, name=f"{name}_bn")(x)


def _shortcut(x, filters):
    """The strided 1x1 convolution beside a downsampling block (unnamed in Keras)."""
    residual = Conv2D(filters, (1, 1), strides=(2, 2), padding="same", use_bias=False)(
        x
    )
    return BatchNormalization(axis=-1)(residual)


def _downsampling_block(x, filters, block, first_relu=True):
    """Entry and exit flow: [ReLU,] separable, ReLU, separable, 3x3 max pool stride 2, plus the
    shortcut. Keras names the ReLUs after the convolution that follows them (block 2 has no first one
    and calls its middle one ``block2_sepconv2_act``)."""
    residual = _shortcut(x, filters[1])
    if first_relu:
        x = Activation("relu", name=f"block{block}_sepconv1_act")(x)
    x = _separable(x, filters[0], f"block{block}_sepconv1")
    x = Activation("relu", name=f"block{block}_sepconv2_act")(x)
    x = _separable(x, filters[1], f"block{block}_sepconv2")
    x = MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"block{block}_pool")(
        x
    )
    return add([x, residual])


def Xception(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="xception",
):
    """Xception with Keras 3's arguments and defaults (``keras.applications.Xception``).

    Inputs ``(N, H, W, 3)`` preprocessed by :func:`preprocess_input` (to ``[-1, 1]``); sides of at
    least 71, 299 by default. ``weights``: None, ``"imagenet"`` or a path to a weights file;
    ``pooling`` (without the top): None (the 4D feature map), ``"avg"`` or ``"max"``. Returns a
    functional ``Model``.
    """
    check_arguments(weights, include_top, classes, pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=299,
        min_size=71,
        data_format="channels_last",
        require_flatten=include_top,
        weights=weights,
    )
    img_input, inputs = image_input(input_tensor, input_shape)

    x = Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(
        img_input
    )
    x = BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = Activation("relu", name="block1_conv1_act")(x)
    x = Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = Activation("relu", name="block1_conv2_act")(x)

    x = _downsampling_block(x, (128, 128), 2, first_relu=False)
    x = _downsampling_block(x, (256, 256), 3)
    x = _downsampling_block(x, (728, 728), 4)

    for i in range(8):  # the middle flow: blocks 5-12
        residual = x
        prefix = f"block{i + 5}"
        for j in (1, 2, 3):
            x = Activation("relu", name=f"{prefix}_sepconv{j}_act")(x)
            x = _separable(x, 728, f"{prefix}_sepconv{j}")
        x = add([x, residual])

    x = _downsampling_block(x, (728, 1024), 13)

    x = _separable(x, 1536, "block14_sepconv1")
    x = Activation("relu", name="block14_sepconv1_act")(x)
    x = _separable(x, 2048, "block14_sepconv2")
    x = Activation("relu", name="block14_sepconv2_act")(x)

    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    top = "" if include_top else "_notop"
    fname = f"xception_weights_tf_dim_ordering_tf_kernels{top}.h5"
    file_hash = (
        "0a58e3b7378bc2990ea3b43d5981f1f6"
        if include_top
        else "b0042744bf5b25fce3cb969f33bebb97"
    )
    return finish(
        inputs, x, name, weights, KerasWeights(fname, WEIGHTS_URL + fname, file_hash)
    )


def preprocess_input(x, data_format=None):
    """Scale pixels from ``[0, 255]`` to ``[-1, 1]`` (mode ``"tf"``), as Xception was trained."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each prediction row (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
