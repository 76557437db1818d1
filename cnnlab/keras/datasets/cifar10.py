"""``keras.datasets.cifar10.load_data()``: Keras's tuples of uint8 arrays, read without unpickling."""

from ...data.cifar import load_batch
from ...data.cifar import load_cifar10 as load_data
