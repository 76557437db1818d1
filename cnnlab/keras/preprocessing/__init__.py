"""``keras.preprocessing``: Keras 3's aliases of the image utilities."""

from ...data.directory import image_dataset_from_directory
from . import image
