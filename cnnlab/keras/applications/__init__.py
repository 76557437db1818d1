"""``keras.applications``: the architecture functions at the top level and Keras's submodules
(``keras.applications.mobilenet_v2.preprocess_input``). The code is in ``cnnlab.applications``."""

from ...applications import MobileNetV2
from . import imagenet_utils, mobilenet_v2

__all__ = ["MobileNetV2", "imagenet_utils", "mobilenet_v2"]
