"""``keras.applications``: the architecture functions at the top level and Keras's submodules
(``keras.applications.mobilenet_v2.preprocess_input``). The code is in ``cnnlab.applications``."""

from ...applications import (
    VGG16,
    MobileNet,
    MobileNetV2,
    ResNet50,
    ResNet50V2,
    ResNet101,
    ResNet101V2,
    ResNet152,
    ResNet152V2,
)
from . import (
    imagenet_utils,
    mobilenet,
    mobilenet_v2,
    resnet,
    resnet50,
    resnet_v2,
    vgg16,
)
