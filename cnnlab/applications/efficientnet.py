"""``keras.applications.efficientnet``: EfficientNetB0-B7 (Tan and Le, 2019), as Keras 3 builds them.

One network, scaled: ``width_coefficient`` multiplies every width (rounded to a multiple of 8, never
more than 10 % down), ``depth_coefficient`` the repeats of each stage (rounded up). A stem (the
preprocessing *inside* the model: ``Rescaling(1/255)`` then a ``Normalization`` whose mean and
variance are weights; a stride-2 3x3 convolution), seven stages of inverted residual blocks (1x1
expansion, depthwise convolution, squeeze-and-excitation, 1x1 projection, and stochastic depth, a
``Dropout`` with ``noise_shape=(None, 1, 1, 1)``, before the residual ``Add``), a 1x1 convolution to
1280 x width, swish throughout. Layer names, weight order and parameter counts are Keras's:
EfficientNetB0 has 5,330,571 parameters with the top, 4,049,571 without. ``preprocess_input`` is
the identity: the model takes pixels in ``[0, 255]``.
"""

from __future__ import annotations

import copy
import math

from ..errors import CnnlabError
from ..layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    GlobalAveragePooling2D,
    Normalization,
    Rescaling,
    Reshape,
    ZeroPadding2D,
    add,
    multiply,
)
from . import imagenet_utils
from .common import KerasWeights, check_arguments, finish, image_input, pool

WEIGHTS_URL = "https://storage.googleapis.com/keras-applications/"
#: Keras's MD5 of each file: (with the top, without).
WEIGHTS_HASHES = {
    "b0": ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
    "b1": ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
    "b2": ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
    "b3": ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
    "b4": ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
    "b5": ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
    "b6": ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
    "b7": ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
}

#: The seven stages of EfficientNetB0; the other sizes scale the filters and the repeats.
DEFAULT_BLOCKS_ARGS = [
    {"kernel_size": k, "repeats": r, "filters_in": fi, "filters_out": fo, "expand_ratio": e,
     "id_skip": True, "strides": s, "se_ratio": 0.25}
    for k, r, fi, fo, e, s in (
        (3, 1, 32, 16, 1, 1),
        (3, 2, 16, 24, 6, 2),
        (5, 2, 24, 40, 6, 2),
        (3, 3, 40, 80, 6, 2),
        (5, 3, 80, 112, 6, 1),
        (5, 4, 112, 192, 6, 2),
        (3, 1, 192, 320, 6, 1),
    )
]  # fmt: skip

CONV_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
DENSE_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


def EfficientNet(
    width_coefficient,
    depth_coefficient,
    default_size,
    dropout_rate=0.2,
    drop_connect_rate=0.2,
    depth_divisor=8,
    activation="swish",
    blocks_args="default",
    name="efficientnet",
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    weights_name=None,
):
    """The EfficientNet family's one builder (Keras's ``efficientnet.EfficientNet``): B0-B7 call it
    with their coefficients, default size and dropout rate."""
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    check_arguments(weights, include_top, classes, pooling)
    input_shape = imagenet_utils.obtain_input_shape(
        input_shape,
        default_size=default_size,
        min_size=32,
        data_format="channels_last",
        require_flatten=include_top,
        weights=weights,
    )
    img_input, inputs = image_input(input_tensor, input_shape)

    def round_filters(filters, divisor=depth_divisor):
        """``filters * width_coefficient`` to a multiple of ``divisor``, at most 10 % below it."""
        filters *= width_coefficient
        new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        if new_filters < 0.9 * filters:
            new_filters += divisor
        return int(new_filters)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    # The stem: the model takes pixels in [0, 255] and normalizes them itself.
    x = Rescaling(1.0 / 255.0)(img_input)
    x = Normalization(axis=-1)(x)
    if weights == "imagenet":
        # Keras's note: the original divides by the variance, Normalization by its square root, so
        # ImageNet weights come with one more division by sqrt(stddev) (keras issue tf#49930).
        x = Rescaling([1.0 / math.sqrt(stddev) for stddev in imagenet_utils.TORCH_STD])(
            x
        )
    x = ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = Conv2D(
        round_filters(32),
        3,
        strides=2,
        padding="valid",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="stem_conv",
    )(x)
    x = BatchNormalization(axis=-1, name="stem_bn")(x)
    x = Activation(activation, name="stem_activation")(x)

    blocks_args = copy.deepcopy(blocks_args)
    b = 0
    blocks = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise CnnlabError(
                f"The number of repeats in `EfficientNet` must be > 0. Received: repeats={args['repeats']}"
            )
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:  # only a stage's first block changes the stride and the width
                args["strides"] = 1
                args["filters_in"] = args["filters_out"]
            x = block(
                x,
                activation,
                drop_connect_rate * b / blocks,  # stochastic depth grows with depth
                name=f"block{i + 1}{chr(j + 97)}_",
                **args,
            )
            b += 1

    x = Conv2D(
        round_filters(1280),
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name="top_conv",
    )(x)
    x = BatchNormalization(axis=-1, name="top_bn")(x)
    x = Activation(activation, name="top_activation")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate > 0:
            x = Dropout(dropout_rate, name="top_dropout")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(
            classes,
            activation=classifier_activation,
            kernel_initializer=DENSE_KERNEL_INITIALIZER,
            name="predictions",
        )(x)
    else:
        x = pool(x, pooling, avg_name="avg_pool", max_name="max_pool")

    hashes = WEIGHTS_HASHES.get(weights_name, (None, None))
    fname = name + (".h5" if include_top else "_notop.h5")
    file_hash = hashes[0] if include_top else hashes[1]
    return finish(
        inputs, x, name, weights, KerasWeights(fname, WEIGHTS_URL + fname, file_hash)
    )


def block(
    inputs,
    activation="swish",
    drop_rate=0.0,
    name="",
    filters_in=32,
    filters_out=16,
    kernel_size=3,
    strides=1,
    expand_ratio=1,
    se_ratio=0.0,
    id_skip=True,
):
    """An inverted residual block (Keras's ``efficientnet.block``), its layers named ``{name}...``."""
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = Conv2D(
            filters,
            1,
            padding="same",
            use_bias=False,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}expand_conv",
        )(inputs)
        x = BatchNormalization(axis=-1, name=f"{name}expand_bn")(x)
        x = Activation(activation, name=f"{name}expand_activation")(x)
    else:
        x = inputs

    if (
        strides == 2
    ):  # TensorFlow's "same" for a stride-2 kernel: pad, then a valid convolution
        x = ZeroPadding2D(
            padding=imagenet_utils.correct_pad(x, kernel_size), name=f"{name}dwconv_pad"
        )(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = DepthwiseConv2D(
        kernel_size,
        strides=strides,
        padding=conv_pad,
        use_bias=False,
        depthwise_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}dwconv",
    )(x)
    x = BatchNormalization(axis=-1, name=f"{name}bn")(x)
    x = Activation(activation, name=f"{name}activation")(x)

    if (
        0 < se_ratio <= 1
    ):  # squeeze and excitation: a per-channel gate from the global average
        filters_se = max(1, int(filters_in * se_ratio))
        se = GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = Conv2D(
            filters_se,
            1,
            padding="same",
            activation=activation,
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}se_reduce",
        )(se)
        se = Conv2D(
            filters,
            1,
            padding="same",
            activation="sigmoid",
            kernel_initializer=CONV_KERNEL_INITIALIZER,
            name=f"{name}se_expand",
        )(se)
        x = multiply([x, se], name=f"{name}se_excite")

    x = Conv2D(
        filters_out,
        1,
        padding="same",
        use_bias=False,
        kernel_initializer=CONV_KERNEL_INITIALIZER,
        name=f"{name}project_conv",
    )(x)
    x = BatchNormalization(axis=-1, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            # Stochastic depth: in training a whole sample's residual branch is dropped at once.
            x = Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = add([x, inputs], name=f"{name}add")
    return x


def _sized(label, width, depth, size, dropout):
    """``EfficientNet<label>``: the builder with one size's coefficients (Keras's B0-B7 functions)."""
    default_name = f"efficientnet{label.lower()}"

    def model(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=default_name,
    ):
        return EfficientNet(
            width,
            depth,
            size,
            dropout,
            name=name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
            weights_name=label.lower(),
        )

    model.__name__ = model.__qualname__ = f"EfficientNet{label}"
    model.__doc__ = (
        f"EfficientNet{label} with Keras 3's arguments and defaults (``keras.applications.EfficientNet{label}``):"
        f" width x{width}, depth x{depth}, {size}x{size} by default (sides of at least 32), top dropout "
        f"{dropout}.\n\n    Inputs ``(N, H, W, 3)`` with pixel values in ``[0, 255]`` (the model rescales and "
        f'normalizes them). ``weights``: None, ``"imagenet"`` or a path to a weights file; ``pooling``\n    '
        f'(without the top): None, ``"avg"`` or ``"max"``. Returns a functional ``Model``.\n    '
    )
    return model


EfficientNetB0 = _sized("B0", 1.0, 1.0, 224, 0.2)
EfficientNetB1 = _sized("B1", 1.0, 1.1, 240, 0.2)
EfficientNetB2 = _sized("B2", 1.1, 1.2, 260, 0.3)
EfficientNetB3 = _sized("B3", 1.2, 1.4, 300, 0.3)
EfficientNetB4 = _sized("B4", 1.4, 1.8, 380, 0.4)
EfficientNetB5 = _sized("B5", 1.6, 2.2, 456, 0.4)
EfficientNetB6 = _sized("B6", 1.8, 2.6, 528, 0.5)
EfficientNetB7 = _sized("B7", 2.0, 3.1, 600, 0.5)


def preprocess_input(x, data_format=None):
    """The identity, as in Keras: EfficientNet's preprocessing is inside the model (its ``Rescaling``
    and ``Normalization`` layers), so it takes pixels in ``[0, 255]`` as they are."""
    return x


def decode_predictions(preds, top=5):
    """The ``top`` ImageNet classes of each prediction row (see ``imagenet_utils.decode_predictions``)."""
    return imagenet_utils.decode_predictions(preds, top=top)
