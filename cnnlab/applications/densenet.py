"""``keras.applications.densenet``: DenseNet121/169/201 (Huang et al., 2017), as Keras 3 builds them.

A 7x7 stride-2 stem and a max pool, then four dense blocks separated by transitions. In a dense
block each conv block (BN, ReLU, 1x1 convolution to 128, BN, ReLU, 3x3 convolution to 32)
concatenates its 32 new channels to everything before it; a transition (BN, ReLU, 1x1 convolution
halving the channels, 2x2 average pool) shrinks the map. Every BatchNormalization has epsilon
1.001e-5. The three sizes differ only in the blocks per dense block. Layer names, weight order and
parameter counts are Keras's: DenseNet121 has 8,062,504 parameters with the top, 7,037,504 without.
"""

from __future__ import annotations

from ..errors import CnnlabError
from ..layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Concatenate,
    Conv2D,
    Dense,
    GlobalAveragePooling2D,
    MaxPooling2D,
    ZeroPadding2D,
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

WEIGHTS_URL = BASE_WEIGHTS_URL + "densenet/"
EPSILON = 1.001e-5
#: blocks per dense block -> (Keras's name of its ImageNet files, MD5 with the top, MD5 without)
IMAGENET_FILES = {
    (6, 12, 24, 16): (
        "densenet121",
        "9d60b8095a5708f2dcce2bca79d332c7",
        "30ee3e1110167f948a6b9946edeeb738",
    ),
    (6, 12, 32, 32): (
        "densenet169",
        "d699b8f76981ab1b30698df4c175e90b",
        "b8c4d4c20dd625c148057b9ff1c1176b",
    ),
    (6, 12, 48, 32): (
        "densenet201",
        "1ceb130c1ea1b78c3bf6114dbdfd8807",
        "c13680b51ded0fb44dff2d8f86ac8bb1",
    ),
}


def _batch_norm(name):
    return BatchNormalization(axis=-1, epsilon=EPSILON, name=name)


def dense_block(x, blocks, name):
    """``blocks`` conv blocks, each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BN, ReLU, a 1x1 convolution to ``reduction`` of the channels, a 2x2 average pool."""
    x = _batch_norm(f"{name}_bn")(x)
    x = Activation("relu", name=f"{name}_relu")(x)
    x = Conv2D(int(x.shape[-1] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """The bottleneck (1x1 to 4 x growth_rate, then 3x3 to growth_rate), concatenated to ``x``."""
    x1 = _batch_norm(f"{name}_0_bn")(x)
    x1 = Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = _batch_norm(f"{name}_1_bn")(x1)
    x1 = Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(
        x1
    )
    return Concatenate(axis=-1, name=f"{name}_concat")([x, x1])


def DenseNet(
    blocks,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="densenet",
):
    """The DenseNet family's one builder (Keras's ``densenet.DenseNet``): ``blocks`` lists the conv
    blocks of the four dense blocks (``[6, 12, 24, 16]`` is DenseNet121)."""
    check_arguments(weights, include_top, classes, pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=224,
        min_size=32,
        data_format="channels_last",
        require_flatten=include_top,
        weights=weights,
    )
    img_input, inputs = image_input(input_tensor, input_shape)

    x = ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = _batch_norm("conv1_bn")(x)
    x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = MaxPooling2D(3, strides=2, name="pool1")(x)

    x = dense_block(x, blocks[0], name="conv2")
    x = transition_block(x, 0.5, name="pool2")
    x = dense_block(x, blocks[1], name="conv3")
    x = transition_block(x, 0.5, name="pool3")
    x = dense_block(x, blocks[2], name="conv4")
    x = transition_block(x, 0.5, name="pool4")
    x = dense_block(x, blocks[3], name="conv5")

    x = _batch_norm("bn")(x)
    x = Activation("relu", name="relu")(x)

    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling, avg_name="avg_pool", max_name="max_pool")

    imagenet = None
    known = IMAGENET_FILES.get(tuple(blocks))
    if known is not None:
        top = "" if include_top else "_notop"
        fname = f"{known[0]}_weights_tf_dim_ordering_tf_kernels{top}.h5"
        imagenet = KerasWeights(
            fname, WEIGHTS_URL + fname, known[1] if include_top else known[2]
        )
    elif weights == "imagenet":
        raise CnnlabError(
            f"weights_path undefined: Keras has ImageNet weights only for DenseNet121/169/201. "
            f"Received: blocks={list(blocks)}"
        )
    return finish(inputs, x, name, weights, imagenet)


def _sized(depth, blocks):
    """``DenseNet<depth>``: the builder with one size's blocks (Keras's DenseNet121/169/201)."""

    def model(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=f"densenet{depth}",
    ):
        return DenseNet(
            list(blocks),
            include_top,
            weights,
            input_tensor,
            input_shape,
            pooling,
            classes,
            classifier_activation,
            name=name,
        )

    model.__name__ = model.__qualname__ = f"DenseNet{depth}"
    model.__doc__ = (
        f"DenseNet{depth} with Keras 3's arguments and defaults (``keras.applications.DenseNet{depth}``): "
        f"dense blocks of {', '.join(map(str, blocks))} conv blocks.\n\n    Inputs ``(N, H, W, 3)`` "
        f'preprocessed by :func:`preprocess_input` (mode ``"torch"``); sides of at least 32, 224 by '
        f'default. ``weights``: None, ``"imagenet"`` or a path to a weights file; ``pooling`` (without '
        f'the top): None, ``"avg"`` or ``"max"``. Returns a functional ``Model``.\n    '
    )
    return model


DenseNet121 = _sized(121, (6, 12, 24, 16))
DenseNet169 = _sized(169, (6, 12, 32, 32))
DenseNet201 = _sized(201, (6, 12, 48, 32))


def preprocess_input(x, data_format=None):
    """Pixels from ``[0, 255]`` to ``[0, 1]``, then standardized per channel with ImageNet's mean and
    standard deviation (mode ``"torch"``), as DenseNet was trained."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="torch")


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each prediction row (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
