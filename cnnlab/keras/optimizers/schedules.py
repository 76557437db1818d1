"""``keras.optimizers.schedules``."""
from ...model.schedules import (CosineDecay, CosineDecayRestarts, ExponentialDecay, InverseTimeDecay,  # noqa: F401
                                LearningRateSchedule, PiecewiseConstantDecay, PolynomialDecay, deserialize, serialize)
