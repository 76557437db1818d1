"""``keras.callbacks``."""
from ..model.callbacks import (BackupAndRestore, Callback, EarlyStopping, History, LambdaCallback,  # noqa: F401
                               ModelCheckpoint, ProgbarLogger, TerminateOnNaN)
