"""``keras.applications.resnet_v2``: ResNet50V2, ResNet101V2, ResNet152V2 (pre-activation ResNets,
built by :func:`cnnlab.applications.resnet.ResNet` with ``preact=True``); inputs scaled to [-1, 1]."""

from __future__ import annotations

from . import imagenet_utils
from .resnet import resnet_function

ResNet50V2 = resnet_function(50, 2)
ResNet101V2 = resnet_function(101, 2)
ResNet152V2 = resnet_function(152, 2)


preprocess_input = imagenet_utils.preprocessor("tf")
decode_predictions = imagenet_utils.decode_predictions
