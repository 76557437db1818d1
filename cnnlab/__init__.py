"""cnnlab: a small, transparent, fast CNN lab on NumPy.

``from cnnlab import keras`` for the Keras-compatible API; ``cnnlab.ops`` for
the operations themselves. Importing cnnlab loads NumPy only.
"""

__version__ = "0.1.0"

from . import ops  # noqa: E402,F401
