"""``keras.applications.vgg16``: VGG16 (Simonyan and Zisserman, 2014), as Keras 3 builds it.

Five blocks of 3x3 ``same`` convolutions with ReLU (2, 2, 3, 3, 3 of them; 64 to 512 filters), each
followed by 2x2 max pooling; the top flattens into two 4096-unit ReLU layers and the classifier.
138,357,544 parameters with the top at 224x224, 14,714,688 without.
"""

from __future__ import annotations

from ..layers import Conv2D, Dense, Flatten, MaxPooling2D
from . import imagenet_utils
from .common import (
    BASE_WEIGHTS_URL,
    KerasWeights,
    check_arguments,
    finish,
    image_input,
    input_shape_for,
    pool,
)

_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels"
IMAGENET_TOP = KerasWeights(
    f"{_FILE}.h5",
    f"{BASE_WEIGHTS_URL}vgg16/{_FILE}.h5",
    "64373286793e3c8b2b4e3219cbf3544b",
)
IMAGENET_NO_TOP = KerasWeights(
    f"{_FILE}_notop.h5",
    f"{BASE_WEIGHTS_URL}vgg16/{_FILE}_notop.h5",
    "6d6bbae143d832006294945121d1f1fc",
)
# (filters, convolutions) of blocks 1..5
_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def VGG16(
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="vgg16",
):
    """VGG16 with Keras 3's arguments and defaults (``keras.applications.VGG16``).

    Inputs ``(N, H, W, 3)`` preprocessed by :func:`preprocess_input` (BGR, ImageNet means
    subtracted); sides of at least 32. Returns a functional ``Model``.
    """
    check_arguments(weights, include_top, classes, pooling)
    input_shape = input_shape_for(input_shape, include_top, weights)
    img_input, inputs = image_input(input_tensor, input_shape)
    x = img_input
    for block, (filters, convolutions) in enumerate(_BLOCKS, start=1):
        for i in range(1, convolutions + 1):
            x = Conv2D(
                filters,
                (3, 3),
                activation="relu",
                padding="same",
                name=f"block{block}_conv{i}",
            )(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    imagenet = IMAGENET_TOP if include_top else IMAGENET_NO_TOP
    return finish(inputs, x, name, weights, imagenet)


preprocess_input = imagenet_utils.preprocessor("caffe")
decode_predictions = imagenet_utils.decode_predictions
