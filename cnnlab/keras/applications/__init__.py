"""``keras.applications``: the architecture functions at the top level and Keras's submodules
(``keras.applications.mobilenet_v2.preprocess_input``). The code is in ``cnnlab.applications``."""

from ...applications import (
    VGG16,
    DenseNet121,
    DenseNet169,
    DenseNet201,
    EfficientNetB0,
    EfficientNetB1,
    EfficientNetB2,
    EfficientNetB3,
    EfficientNetB4,
    EfficientNetB5,
    EfficientNetB6,
    EfficientNetB7,
    MobileNet,
    MobileNetV2,
    ResNet50,
    ResNet50V2,
    ResNet101,
    ResNet101V2,
    ResNet152,
    ResNet152V2,
    Xception,
)
from . import (
    densenet,
    efficientnet,
    imagenet_utils,
    mobilenet,
    mobilenet_v2,
    resnet,
    resnet50,
    resnet_v2,
    vgg16,
    xception,
)
