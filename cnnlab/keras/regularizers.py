"""``keras.regularizers``."""

from ..layers.regularizers import L1, L1L2, L2, Regularizer, get, serialize

l1, l2, l1_l2 = L1, L2, L1L2
