"""``keras.applications.mobilenet``: MobileNet (Howard et al., 2017), as Keras 3 builds it.

A standard 3x3 convolution, then 13 depthwise-separable blocks (3x3 depthwise, batch norm, ReLU6,
1x1 pointwise, batch norm, ReLU6); a stride-2 block pads ``((0, 1), (0, 1))`` first. ``alpha``
scales the widths, ``depth_multiplier`` the depthwise channels. The top is Keras's: global average
pooling kept 4D, dropout, a 1x1 convolution as classifier, a reshape and the activation.
"""

from __future__ import annotations

from ..errors import CnnlabError
from ..layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    ReLU,
    Reshape,
    ZeroPadding2D,
)
from . import imagenet_utils
from .common import (
    BASE_WEIGHTS_URL,
    KerasWeights,
    check_arguments,
    finish,
    image_input,
    input_shape_for,
    pool,
    weights_rows,
)

WEIGHTS_URL = BASE_WEIGHTS_URL + "mobilenet/"
IMAGENET_ALPHAS = (0.25, 0.50, 0.75, 1.0)
IMAGENET_ROWS = (128, 160, 192, 224)
_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.50: "5_0", 0.25: "2_5"}

# (pointwise filters, strides) of blocks 1..13
_BLOCKS = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    + [(512, 1)] * 5
    + [(1024, 2), (1024, 1)]
)  # fmt: skip


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    x = Conv2D(
        int(filters * alpha),
        kernel,
        padding="same",
        use_bias=False,
        strides=strides,
        name="conv1",
    )(inputs)
    x = BatchNormalization(axis=-1, name="conv1_bn")(x)
    return ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(
    inputs, pointwise_conv_filters, alpha, depth_multiplier, strides, block_id
):
    x = inputs
    if strides != 1:
        x = ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(x)
    x = DepthwiseConv2D(
        (3, 3),
        padding="same" if strides == 1 else "valid",
        depth_multiplier=depth_multiplier,
        strides=strides,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )(x)
    x = BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = Conv2D(
        int(pointwise_conv_filters * alpha),
        (1, 1),
        padding="same",
        use_bias=False,
        strides=(1, 1),
        name=f"conv_pw_{block_id}",
    )(x)
    x = BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def MobileNet(
    input_shape=None,
    alpha=1.0,
    depth_multiplier=1,
    dropout=1e-3,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """MobileNet with Keras 3's arguments and defaults (``keras.applications.MobileNet``).

    Inputs ``(N, H, W, 3)`` preprocessed by :func:`preprocess_input` (to ``[-1, 1]``), sides of at
    least 32; ``dropout`` is the rate before the classifier. Returns a functional ``Model``.
    """
    check_arguments(weights, include_top, classes, pooling)
    default_size = 224
    if input_shape is not None:
        rows, cols = tuple(input_shape)[:2]
        if rows == cols and rows in IMAGENET_ROWS:
            default_size = rows
    input_shape = input_shape_for(
        input_shape, include_top, weights, default_size=default_size
    )
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if depth_multiplier != 1:
            raise CnnlabError(
                "If imagenet weights are being loaded, depth multiplier must be 1.  "
                f"Received depth_multiplier={depth_multiplier}"
            )
        if alpha not in IMAGENET_ALPHAS:
            raise CnnlabError(
                "If imagenet weights are being loaded, alpha can be one of`0.25`, `0.50`, `0.75` "
                f"or `1.0` only.  Received alpha={alpha}"
            )
        rows = weights_rows(rows, cols, IMAGENET_ROWS)
    img_input, inputs = image_input(input_tensor, input_shape)

    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, strides) in enumerate(_BLOCKS, start=1):
        x = _depthwise_conv_block(
            x, filters, alpha, depth_multiplier, strides, block_id
        )
    if include_top:
        x = GlobalAveragePooling2D(keepdims=True)(x)
        x = Dropout(dropout, name="dropout")(x)
        x = Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = Reshape((classes,), name="reshape_2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    if name is None:
        name = f"mobilenet_{alpha:0.2f}_{rows}"
    top = "" if include_top else "_no_top"
    # Keras names the file by alpha's digits ("2_5" also for any alpha it does not know)
    fname = f"mobilenet_{_ALPHA_TEXT.get(alpha, '2_5')}_{rows}_tf{top}.h5"
    return finish(inputs, x, name, weights, KerasWeights(fname, WEIGHTS_URL + fname))


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions
