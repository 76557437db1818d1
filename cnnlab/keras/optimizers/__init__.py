"""``keras.optimizers`` (and ``keras.optimizers.schedules``)."""
from ...model.optimizers import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Ftrl, Lion, Nadam,  # noqa: F401
                                 Optimizer, RMSprop, deserialize, get, serialize)
from . import schedules  # noqa: F401
