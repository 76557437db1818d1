"""``keras.datasets.mnist.load_data()``: Keras's tuples of uint8 arrays."""

from ...data.mnist import load_data, load_sample
