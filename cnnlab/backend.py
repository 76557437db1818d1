"""The array module every op uses.

cnnlab's arithmetic goes through ``xp`` (NumPy by default) so that an array
library with NumPy's API (CuPy, for instance) can run the same code. Ops call
``xp.<function>``, never ``numpy.<function>``, for anything ``xp`` offers.
"""
import numpy

xp = numpy

#: The dtype of weights and activations, as in Keras.
floatx = "float32"


def as_strided(x, shape, strides):
    """A read-only strided view of ``x`` (sliding windows without copying)."""
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides, writeable=False)
