"""``keras.applications``: Keras's ImageNet architectures, built from cnnlab's layers.

Each architecture module has the model function(s), ``preprocess_input`` and
``decode_predictions``, with Keras 3's names, arguments, defaults, layer names and weight order,
so Keras's weight files load (``weights=`` a path, or ``"imagenet"``: see ``files``).
Shared pieces: ``common`` (argument checks, input, pooling, loading), ``imagenet_utils``
(preprocessing modes, class index, input-shape rules), ``files`` (finding Keras's files).
``mobilenet_v2.py`` is the model for a new architecture module.
"""

from . import (
    densenet,
    efficientnet,
    imagenet_utils,
    mobilenet,
    mobilenet_v2,
    resnet,
    resnet_v2,
    vgg16,
    xception,
)
from .densenet import DenseNet121, DenseNet169, DenseNet201
from .efficientnet import (
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
)
from .mobilenet import MobileNet
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet50, ResNet101, ResNet152
from .resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from .vgg16 import VGG16
from .xception import Xception

__all__ = [
    "DenseNet121",
    "DenseNet169",
    "DenseNet201",
    "EfficientNetB0",
    "EfficientNetB1",
    "EfficientNetB2",
    "EfficientNetB3",
    "EfficientNetB4",
    "EfficientNetB5",
    "EfficientNetB6",
    "EfficientNetB7",
    "MobileNet",
    "MobileNetV2",
    "ResNet50",
    "ResNet50V2",
    "ResNet101",
    "ResNet101V2",
    "ResNet152",
    "ResNet152V2",
    "VGG16",
    "Xception",
    "densenet",
    "efficientnet",
    "imagenet_utils",
    "mobilenet",
    "mobilenet_v2",
    "resnet",
    "resnet_v2",
    "vgg16",
    "xception",
]
