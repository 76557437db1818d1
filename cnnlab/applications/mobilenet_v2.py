"""``keras.applications.mobilenet_v2``: MobileNetV2 (Sandler et al., 2018), as Keras 3 builds it.

Inverted residual blocks: a 1x1 expansion (x6), a 3x3 depthwise convolution (stride 2 after an
asymmetric ``ZeroPadding2D``, TensorFlow's "same"), a linear 1x1 projection, and an ``Add`` when the
block keeps the shape. ``alpha`` scales every width (rounded to a multiple of 8). Layer names,
weight order and parameter counts are Keras's: 3,538,984 parameters with the top, 2,257,984 without.
"""

from __future__ import annotations

from ..errors import CnnlabError
from ..layers import (
    Add,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    GlobalAveragePooling2D,
    ReLU,
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

WEIGHTS_URL = BASE_WEIGHTS_URL + "mobilenet_v2/"
IMAGENET_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
IMAGENET_ROWS = (96, 128, 160, 192, 224)


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor``, never more than 10 % below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _batch_norm(name):
    return BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=name)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = Conv2D(
            expansion * in_channels,
            1,
            padding="same",
            use_bias=False,
            name=f"{prefix}expand",
        )(x)
        x = _batch_norm(f"{prefix}expand_BN")(x)
        x = ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = (
            "expanded_conv_"  # the first block has no expansion, and Keras's own prefix
        )
    if stride == 2:
        x = ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad"
        )(x)
    x = DepthwiseConv2D(
        kernel_size=3,
        strides=stride,
        use_bias=False,
        padding="same" if stride == 1 else "valid",
        name=f"{prefix}depthwise",
    )(x)
    x = _batch_norm(f"{prefix}depthwise_BN")(x)
    x = ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = Conv2D(
        pointwise_filters, 1, padding="same", use_bias=False, name=f"{prefix}project"
    )(x)
    x = _batch_norm(f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return Add(name=f"{prefix}add")([inputs, x])
    return x


# (filters, stride, expansion) of blocks 0..16
_BLOCKS = (
    [(16, 1, 1)]
    + [(24, 2, 6), (24, 1, 6)]
    + [(32, 2, 6)] + [(32, 1, 6)] * 2
    + [(64, 2, 6)] + [(64, 1, 6)] * 3
    + [(96, 1, 6)] * 3
    + [(160, 2, 6)] + [(160, 1, 6)] * 2
    + [(320, 1, 6)]
)  # fmt: skip


def _default_size(input_shape, input_tensor):
    """Keras's rows for the weights' file name: a square side Keras has weights for, else 224."""
    shape = None
    if input_shape is not None:
        shape = tuple(input_shape)[:2]
    elif input_tensor is not None and getattr(input_tensor, "shape", None) is not None:
        shape = tuple(input_tensor.shape)[1:3]
    if shape is not None and shape[0] == shape[1] and shape[0] in IMAGENET_ROWS:
        return shape[0]
    return 224


def MobileNetV2(
    input_shape=None,
    alpha=1.0,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name=None,
):
    """MobileNetV2 with Keras 3's arguments and defaults (``keras.applications.MobileNetV2``).

    Inputs ``(N, H, W, 3)`` preprocessed by :func:`preprocess_input` (to ``[-1, 1]``); sides of at
    least 32. ``weights``: None, ``"imagenet"`` or a path to a weights file; ``pooling`` (without the
    top): None (the 4D feature map), ``"avg"`` or ``"max"``. Returns a functional ``Model``.
    """
    check_arguments(weights, include_top, classes, pooling)
    if (
        input_shape is not None
        and input_tensor is not None
        and hasattr(input_tensor, "shape")
    ):
        if input_tensor.shape[2] != input_shape[1]:
            raise CnnlabError(
                "input_tensor.shape[2] must equal input_shape[1]; Received "
                f"`input_tensor.shape={input_tensor.shape}`, `input_shape={input_shape}`"
            )
    input_shape = input_shape_for(
        input_shape,
        include_top,
        weights,
        default_size=_default_size(input_shape, input_tensor),
    )
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in IMAGENET_ALPHAS:
            raise CnnlabError(
                "If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, "
                f"`1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`"
            )
        rows = weights_rows(rows, cols, IMAGENET_ROWS)
    img_input, inputs = image_input(input_tensor, input_shape)

    x = Conv2D(
        _make_divisible(32 * alpha, 8),
        3,
        strides=(2, 2),
        padding="same",
        use_bias=False,
        name="Conv1",
    )(img_input)
    x = _batch_norm("bn_Conv1")(x)
    x = ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(
            x,
            filters=filters,
            alpha=alpha,
            stride=stride,
            expansion=expansion,
            block_id=block_id,
        )
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = Conv2D(last_block_filters, 1, use_bias=False, name="Conv_1")(x)
    x = _batch_norm("Conv_1_bn")(x)
    x = ReLU(6.0, name="out_relu")(x)

    if include_top:
        x = GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling)
    if name is None:
        name = f"mobilenetv2_{alpha:0.2f}_{rows}"
    top = "" if include_top else "_no_top"
    fname = (
        f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}{top}.h5"
    )
    return finish(inputs, x, name, weights, KerasWeights(fname, WEIGHTS_URL + fname))


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions
