"""``keras.callbacks``."""
from ..model.callbacks import (BackupAndRestore, Callback, EarlyStopping, History,  # noqa: F401
                               LambdaCallback, ModelCheckpoint, ProgbarLogger, TerminateOnNaN)
from ..model.log_callbacks import CSVLogger, TensorBoard  # noqa: F401
from ..model.rate_callbacks import LearningRateScheduler, ReduceLROnPlateau  # noqa: F401
