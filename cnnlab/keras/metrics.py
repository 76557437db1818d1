"""``keras.metrics``."""
from ..model.metrics import (BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, MeanSquaredError,  # noqa: F401
                             Metric, SparseCategoricalAccuracy, get)
