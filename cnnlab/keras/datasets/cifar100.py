"""``keras.datasets.cifar100.load_data(label_mode="fine")``: Keras's tuples, read without unpickling."""

from ...data.cifar import load_cifar100 as load_data
