"""The training bar lives in :mod:`cnnlab.progress` (the package's one progress display, also used by the
downloads under ``cnnlab.data``, which sit below the model and so cannot import from it)."""

from ..progress import (
    Progbar,
    format_logs,
    format_per_step,
    format_time,
    format_value,
    in_notebook,
)

__all__ = [
    "Progbar",
    "format_logs",
    "format_per_step",
    "format_time",
    "format_value",
    "in_notebook",
]
