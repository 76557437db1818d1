"""``keras.applications.mobilenet``."""

from ...applications.mobilenet import MobileNet, decode_predictions, preprocess_input
