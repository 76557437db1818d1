"""``keras.datasets``."""

from . import cifar10, cifar100, fashion_mnist, mnist
