"""``keras.losses``."""
from ..model.losses import (BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanAbsoluteError,  # noqa: F401
                            MeanSquaredError, SparseCategoricalCrossentropy, get)

MSE = mse = MeanSquaredError
MAE = mae = MeanAbsoluteError
