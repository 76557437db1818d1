"""``keras.callbacks``."""

from ..model.callbacks import (
    BackupAndRestore,
    Callback,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    ProgbarLogger,
    TerminateOnNaN,
)
from ..model.log_callbacks import CSVLogger, TensorBoard
from ..model.rate_callbacks import LearningRateScheduler, ReduceLROnPlateau
