"""``keras.applications.resnet``: ResNet50/101/152 (He et al., 2015) and, for ``resnet_v2``, the
pre-activation ResNet50V2/101V2/152V2 (He et al., 2016), written once as Keras 3 writes them.

:func:`ResNet` is the shared body: a 7x7 stride-2 convolution (padded by 3), 3x3 stride-2 max
pooling (padded by 1), the stacks of bottleneck blocks, and the top. Version 1 (``preact=False``)
normalizes after each convolution and adds before the last ReLU; version 2 (``preact=True``)
normalizes and activates *before* each block ("preact") and once more after the last stack
("post_bn"). A stack's ``stride1`` downsamples in its first block (v1) or its last (v2).
Parameter counts with the top at 224x224: ResNet50 25,636,712; ResNet50V2 25,613,800.
"""

from __future__ import annotations

from ..layers import (
    Activation,
    Add,
    BatchNormalization,
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
    input_shape_for,
    pool,
)

WEIGHTS_URL = BASE_WEIGHTS_URL + "resnet/"
#: Keras's MD5 of each ImageNet file: (with the top, without)
WEIGHTS_HASHES = {
    "resnet50": (
        "2cb95161c43110f7111970584f804107",
        "4d473c1dd8becc155b73f8504c6f6626",
    ),
    "resnet101": (
        "f1aeb4b969a6efcfb50fad2f0c20cfc5",
        "88cf7a10940856eca736dc7b7e228a21",
    ),
    "resnet152": (
        "100835be76be38e30d865e96f2aaae62",
        "ee4c566cf9a93f14d82f913c2dc6dd0c",
    ),
    "resnet50v2": (
        "3ef43a0b657b3be2300d5770ece849e0",
        "fac2f116257151a9d068a22e544a4917",
    ),
    "resnet101v2": (
        "6343647c601c52e1368623803854d971",
        "c0ed64b8031c3730f411d2eb4eea35b5",
    ),
    "resnet152v2": (
        "a49b44d1979771252814e80f8ec446f9",
        "ed17cf2e0169df9d443503ef94b23b33",
    ),
}
#: blocks per stack (conv2..conv5) of each depth
DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
_EPSILON = 1.001e-5  # Keras's (TensorFlow's original models') batch-norm epsilon


def _bn(name):
    return BatchNormalization(axis=3, epsilon=_EPSILON, name=name)


def imagenet_weights(weights_name, include_top):
    """Keras's ImageNet file of ``weights_name`` ("resnet50", "resnet50v2", ...)."""
    suffix = "" if include_top else "_notop"
    fname = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
    return KerasWeights(
        fname,
        WEIGHTS_URL + fname,
        WEIGHTS_HASHES[weights_name][0 if include_top else 1],
    )


def ResNet(
    stack_fn,
    preact,
    use_bias,
    include_top=True,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="resnet",
    weights_name=None,
):
    """The body every ResNet shares (Keras's ``keras.src.applications.resnet.ResNet``);
    ``stack_fn(x)`` adds the stacks of residual blocks."""
    check_arguments(weights, include_top, classes, pooling)
    input_shape = input_shape_for(input_shape, include_top, weights)
    img_input, inputs = image_input(input_tensor, input_shape)
    x = ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = _bn("conv1_bn")(x)
        x = Activation("relu", name="conv1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = _bn("post_bn")(x)
        x = Activation("relu", name="post_relu")(x)
    if include_top:
        x = GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = pool(x, pooling, avg_name="avg_pool", max_name="max_pool")
    imagenet = (
        imagenet_weights(weights_name, include_top)
        if weights_name in WEIGHTS_HASHES
        else None
    )
    if weights == "imagenet" and imagenet is None:
        weights = None  # Keras builds such a model without weights (no file is published for it)
    return finish(inputs, x, name, weights, imagenet)


def residual_block_v1(
    x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None
):
    """A bottleneck block: 1x1 (stride), 3x3, 1x1 to ``4 * filters``, added to the shortcut, ReLU."""
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = _bn(f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = _bn(f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = _bn(f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = _bn(f"{name}_3_bn")(x)
    x = Add(name=f"{name}_add")([shortcut, x])
    return Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(
    x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None
):
    """A pre-activation bottleneck block: BN and ReLU first, the stride in the 3x3 convolution,
    the shortcut a 1x1 convolution of the activated input, or a strided 1x1 max pooling."""
    preact = _bn(f"{name}_preact_bn")(x)
    preact = Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = _bn(f"{name}_1_bn")(x)
    x = Activation("relu", name=f"{name}_1_relu")(x)
    x = ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = Conv2D(
        filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv"
    )(x)
    x = _bn(f"{name}_2_bn")(x)
    x = Activation("relu", name=f"{name}_2_relu")(x)
    x = Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def stacks(depth, version):
    """``stack_fn`` for ResNet``depth`` (v1 or v2): conv2..conv5 with 64..512 filters."""
    counts = DEPTHS[depth]

    def stack_fn(x):
        for i, (filters, blocks) in enumerate(zip((64, 128, 256, 512), counts)):
            name = f"conv{i + 2}"
            if version == 1:
                # v1 downsamples at the start of every stack but the first
                x = stack_residual_blocks_v1(
                    x, filters, blocks, stride1=1 if i == 0 else 2, name=name
                )
            else:
                # v2 downsamples at the end of every stack but the last
                x = stack_residual_blocks_v2(
                    x, filters, blocks, stride1=1 if i == 3 else 2, name=name
                )
        return x

    return stack_fn


def resnet_function(depth, version):
    """Keras's ``ResNet{depth}`` (version 1) or ``ResNet{depth}V2`` (version 2), with its signature."""
    weights_name = f"resnet{depth}" + ("v2" if version == 2 else "")
    preprocessing = (
        "BGR, ImageNet means subtracted" if version == 1 else "to ``[-1, 1]``"
    )

    def model(
        include_top=True,
        weights="imagenet",
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=1000,
        classifier_activation="softmax",
        name=weights_name,
    ):
        return ResNet(
            stacks(depth, version),
            preact=version == 2,
            use_bias=True,
            name=name,
            weights_name=weights_name,
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            input_shape=input_shape,
            pooling=pooling,
            classes=classes,
            classifier_activation=classifier_activation,
        )

    title = f"ResNet{depth}" + ("V2" if version == 2 else "")
    model.__name__ = model.__qualname__ = title
    model.__doc__ = (
        f"{title} with Keras 3's arguments and defaults (``keras.applications.{title}``).\n\n"
        f"Inputs ``(N, H, W, 3)`` preprocessed by ``preprocess_input`` ({preprocessing}); sides of at "
        "least 32. Returns a functional ``Model``."
    )
    return model


ResNet50 = resnet_function(50, 1)
ResNet101 = resnet_function(101, 1)
ResNet152 = resnet_function(152, 1)


preprocess_input = imagenet_utils.preprocessor("caffe")
decode_predictions = imagenet_utils.decode_predictions
