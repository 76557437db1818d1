"""``keras.models``."""
from ..model import Sequential  # noqa: F401


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``keras.models.load_model``: a model from a ``.keras`` file. ``custom_objects`` must be empty:
    cnnlab builds only its own layers and never imports code named in a file."""
    from ..model.saving import load_model as _load_model
    return _load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
