"""``keras.datasets.fashion_mnist.load_data()``: Keras's tuples of uint8 arrays."""

from ...data.fashion_mnist import load_data
