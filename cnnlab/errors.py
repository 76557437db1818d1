"""cnnlab's error class.

Every message names what went wrong (the operation or layer), the shapes it
got, and what would fix it, and ends like Keras's errors in ``Received: ...``.
"""


class CnnlabError(ValueError):
    """Raised for input that cannot work. A ``ValueError``, so callers catching
    Keras-style errors catch it too."""


class ShapeError(CnnlabError):
    """Shapes that do not fit together (rank, channels, size shrinking to zero)."""
