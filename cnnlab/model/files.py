"""The one place ``model/`` reaches ``cnnlab.saving`` (``Model.save``, ``save_weights``,
``load_weights``, ``BackupAndRestore``).

``cnnlab.saving`` sits beside ``model/`` in the house and imports it (it builds models
from configs), so ``model/`` must not import it at module level: that would be an import
circle. The methods that write or read a file are the only ones that need it, and they
run long after both packages are loaded; they import it here, on first use.
"""

from __future__ import annotations

import importlib


def saving():
    """The ``cnnlab.saving`` package (imported on the first call, cached by Python after)."""
    return importlib.import_module("cnnlab.saving")
