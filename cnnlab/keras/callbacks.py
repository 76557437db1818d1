"""``keras.callbacks``."""
from ..model.callbacks import (Callback, EarlyStopping, History, LambdaCallback, ModelCheckpoint,  # noqa: F401
                               ProgbarLogger, TerminateOnNaN)
