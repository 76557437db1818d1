"""``keras.optimizers``."""
from ..model.optimizers import SGD, Adagrad, Adam, Optimizer, RMSprop, get  # noqa: F401
