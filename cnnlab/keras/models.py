"""``keras.models``."""
from ..model import Model, Sequential  # noqa: F401


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """``keras.models.load_model``: a model from a ``.keras`` file (or a legacy ``.h5`` file).
    ``custom_objects``: the user's own classes the file names; nothing named in a file is imported."""
    from ..saving import load_model as _load_model
    return _load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
