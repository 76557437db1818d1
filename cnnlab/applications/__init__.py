"""``keras.applications``: Keras's ImageNet architectures, built from cnnlab's layers.

Each architecture module has the model function(s), ``preprocess_input`` and
``decode_predictions``, with Keras 3's names, arguments, defaults, layer names and weight order,
so Keras's weight files load (``weights=`` a path, or ``"imagenet"``: see ``files``).
Shared pieces: ``common`` (argument checks, input, pooling, loading), ``imagenet_utils``
(preprocessing modes, class index, input-shape rules), ``files`` (finding Keras's files).
"""

from . import imagenet_utils, mobilenet_v2
from .mobilenet_v2 import MobileNetV2

__all__ = ["MobileNetV2", "imagenet_utils", "mobilenet_v2"]
