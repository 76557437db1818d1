"""``keras.preprocessing``: Keras 3's aliases of the image utilities."""
from ...data.directory import image_dataset_from_directory  # noqa: F401
from . import image  # noqa: F401
