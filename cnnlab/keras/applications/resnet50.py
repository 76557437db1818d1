"""``keras.applications.resnet50``."""

from ...applications.resnet import ResNet50, decode_predictions, preprocess_input
