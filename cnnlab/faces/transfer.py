"""``cnnlab train --data DIR --base NAME``: transfer learning from one of ``keras.applications``.

The model is the one of Keras's transfer-learning guide::

    inputs = keras.Input((height, width, 3))              # pixels 0..255, as the folder is read
    x = <augmentation>(inputs)                             # with --augment
    x = <the base's preprocess_input, as layers>(x)
    x = base(x, training=False)                            # base.trainable = False: BN stays in inference
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(classes, activation="softmax")(x)

Preprocessing lives in the model (``Rescaling(1/127.5, offset=-1)`` for the ``"tf"`` mode, as the
guide writes it; a frozen 1x1 convolution for the per-channel modes), so a saved model reads raw
pixels and ``predict``/``evaluate``/``explain`` need only ``preprocessing.json``'s ``scale`` of 1.
``--fine-tune N`` then unfreezes the base's top ``N`` layers and trains again at a learning rate
100 times lower (the guide's 1e-3 -> 1e-5), recompiled as Keras requires.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CnnlabError


@dataclass(frozen=True)
class Base:
    """One architecture of ``keras.applications``: its function, module and ``preprocess_input`` mode."""

    function: str
    module: str
    mode: (
        str | None
    )  # Keras's imagenet_utils mode: "tf", "torch", "caffe"; None: the model rescales itself
    has_alpha: bool = False


#: ``--base`` names (Keras's module names, with the depth for the families), Keras's preprocessing modes.
BASES = {
    "mobilenet_v2": Base("MobileNetV2", "mobilenet_v2", "tf", has_alpha=True),
    "mobilenet": Base("MobileNet", "mobilenet", "tf", has_alpha=True),
    "resnet50": Base("ResNet50", "resnet", "caffe"),
    "resnet50_v2": Base("ResNet50V2", "resnet_v2", "tf"),
    "vgg16": Base("VGG16", "vgg16", "caffe"),
    "xception": Base("Xception", "xception", "tf"),
    "densenet121": Base("DenseNet121", "densenet", "torch"),
    "efficientnet_b0": Base("EfficientNetB0", "efficientnet", None),
}


def available_bases():
    """The ``--base`` names whose architecture this build of ``keras.applications`` has."""
    try:
        from .. import applications
    except ImportError:
        return []
    return [
        name for name, base in BASES.items() if hasattr(applications, base.function)
    ]


def lookup(name) -> Base:
    available = available_bases()
    if name not in available:
        raise CnnlabError(
            f"--base must be one of the architectures in keras.applications: "
            f"{', '.join(available) or '(none in this build)'}. Received: --base {name}"
        )
    return BASES[name]


def preprocessing(mode, channels=3):
    """``(layer, weights or None)`` pairs that compute Keras's ``preprocess_input`` of ``mode`` on
    pixels 0..255 (RGB); the weights are set once the layer is built."""
    from ..applications.imagenet_utils import CAFFE_MEAN_BGR, TORCH_MEAN, TORCH_STD
    from ..layers import Conv2D, Rescaling

    if mode is None:
        return []
    if mode == "tf":  # [-1, 1], as Keras's transfer-learning guide writes it
        return [(Rescaling(1 / 127.5, offset=-1.0, name="preprocess_input"), None)]
    # The per-channel modes are one affine map per pixel: y = x @ kernel + bias, frozen.
    kernel = np.zeros((1, 1, channels, channels), np.float32)
    if mode == "torch":  # x / 255, then (x - mean) / std per channel
        std = np.array(TORCH_STD, np.float64)
        kernel[0, 0] = np.diag(1 / (255 * std))
        bias = -np.array(TORCH_MEAN) / std
    elif mode == "caffe":  # RGB -> BGR, then minus the BGR means (no scaling)
        kernel[0, 0] = np.eye(channels)[::-1]
        bias = -np.array(CAFFE_MEAN_BGR)
    else:
        raise CnnlabError(f"unknown preprocess_input mode. Received: mode={mode!r}")
    conv = Conv2D(channels, 1, name="preprocess_input", trainable=False)
    return [(conv, [kernel, bias.astype(np.float32)])]


def build_base(name, image_size, weights=None, alpha=None):
    """``keras.applications.<Function>(include_top=False, weights=..., input_shape=(h, w, 3))``."""
    from .. import applications

    base_info = lookup(name)
    kwargs = dict(include_top=False, weights=weights, input_shape=(*image_size, 3))
    if alpha is not None:
        if not base_info.has_alpha:
            raise CnnlabError(
                f"--alpha is the width multiplier of MobileNet and MobileNetV2; {base_info.function} has none. "
                f"Received: --alpha {alpha} with --base {name}"
            )
        kwargs["alpha"] = alpha
    return getattr(applications, base_info.function)(**kwargs)


def transfer_model(base, mode, num_classes, augmentation=(), dropout=0.2):
    """The guide's model around a frozen ``base`` (see the module docstring)."""
    from ..layers import Dense, Dropout, GlobalAveragePooling2D, Input
    from ..model import Model

    base.trainable = False
    inputs = Input(tuple(base.input_shape[1:]))
    x = inputs
    for layer in augmentation:
        x = layer(x)
    for layer, weights in preprocessing(mode, base.input_shape[-1]):
        x = layer(x)
        if weights is not None:
            layer.set_weights(weights)
    x = base(x, training=False)
    if len(base.output_shape) == 4:
        x = GlobalAveragePooling2D(name="head_pool")(x)
    x = Dropout(dropout, name="head_dropout")(x)
    outputs = Dense(num_classes, activation="softmax", name="head")(x)
    return Model(inputs, outputs, name=f"{base.name}_transfer")


def unfreeze_top(base, n):
    """Fine-tuning: the base trainable again except its first ``len(base.layers) - n`` layers."""
    if n > len(base.layers):
        raise CnnlabError(
            f"--fine-tune N unfreezes the top N layers of the base, which has {len(base.layers)}. "
            f"Received: --fine-tune {n}"
        )
    base.trainable = True
    for layer in base.layers[: len(base.layers) - n]:
        layer.trainable = False


def frozen_count(base):
    """``(frozen, all)`` layers of the base that hold weights."""
    holding = [layer for layer in base.layers if layer.weights]
    return sum(not layer.trainable for layer in holding), len(holding)


def trainable_params(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def describe_weights(weights):
    if weights is None:
        return "random (weights=None)"
    if weights == "imagenet":
        return "imagenet (Keras's ImageNet weights file)"
    return str(weights)


def model_for_args(args, spec, image_size, num_classes, say=print):
    """``cnnlab train --base``: the compiled transfer model and its base; ``say`` prints what was built."""
    from .. import specs
    from ..layers import RandomFlip, RandomRotation

    if args.fine_tune and args.resume:
        raise CnnlabError(
            "--resume backs up one training run; --fine-tune runs two (the head, then the top of the base). "
            f"Leave one of them out. Received: --resume {args.resume} --fine-tune {args.fine_tune}"
        )
    base_info = lookup(args.base)
    base = build_base(args.base, image_size, args.weights, args.alpha)
    augmentation = (
        [
            RandomFlip("horizontal", name="augment_flip"),
            RandomRotation(0.1, name="augment_rotation"),
        ]
        if args.augment
        else []
    )
    model = transfer_model(base, base_info.mode, num_classes, augmentation)
    model.compile(**specs.compile_args(spec, args.optimizer, args.learning_rate))
    frozen, holding = frozen_count(base)
    alpha = f", alpha={args.alpha:g}" if args.alpha is not None else ""
    say(
        f"Base: {args.base} (keras.applications.{base_info.function}(include_top=False{alpha}, "
        f"input_shape={tuple(base.input_shape[1:])}), {len(base.layers)} layers), weights: "
        f"{describe_weights(args.weights)}"
    )
    say(
        f"Frozen: {frozen} of {holding} base layers with weights (base.trainable = False, called with "
        f"training=False); trainable params: {trainable_params(model):,} of {model.count_params():,} (the head)"
    )
    return model, base


def fine_tune(model, base, args, spec, history, train, val, guard, say=print):
    """Unfreeze the base's top ``--fine-tune`` layers, recompile 100 times slower, train ``--epochs`` more;
    returns the history of both phases (the epochs numbered on, as ``initial_epoch`` does)."""
    from .. import specs

    rate = float(model.optimizer.learning_rate) / 100
    unfreeze_top(base, args.fine_tune)
    opt = args.optimizer or spec.get("optimizer") or "adam"
    model.compile(**specs.compile_args({**spec, "optimizer": opt}, None, rate))
    frozen, holding = frozen_count(base)
    say(
        f"Fine-tuning: the top {args.fine_tune} layers of the base unfrozen ({holding - frozen} of {holding} "
        f"with weights now train; BatchNormalization stays in inference mode, the base being called with "
        f"training=False); learning rate {rate:g}; trainable params: {trainable_params(model):,}"
    )
    second = model.fit(
        train,
        epochs=2 * args.epochs,
        initial_epoch=args.epochs,
        callbacks=[guard],
        validation_data=val,
        verbose=0 if args.quiet else 1,
    )
    second.history = {
        k: list(history.history.get(k, [])) + list(v) for k, v in second.history.items()
    }
    return second
