"""``keras.applications.vgg16``."""

from ...applications.vgg16 import VGG16, decode_predictions, preprocess_input
