"""saving/ sits beside model/: model never imports it at module level (one lazy link,
cnnlab/model/files.py), and both import in either order without a circle."""

from __future__ import annotations

import subprocess
import sys


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def test_model_imports_without_saving_and_saving_after_it():
    result = _run(
        "import sys, cnnlab.model, cnnlab.layers; assert 'cnnlab.saving' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith('cnnlab')); import cnnlab.saving; print('ok')"
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_saving_imports_first():
    result = _run(
        "import cnnlab.saving, cnnlab.model; from cnnlab import keras; "
        "assert keras.saving.load_model is cnnlab.saving.load_model; print('ok')"
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_nothing_in_model_imports_saving_by_name():
    from pathlib import Path

    import cnnlab

    model_dir = Path(cnnlab.__file__).parent / "model"
    offenders = [
        p.name
        for p in model_dir.glob("*.py")
        if p.name != "files.py"
        and (
            "from ..saving" in p.read_text()
            or "cnnlab.saving import" in p.read_text()
            or "from .saving" in p.read_text()
        )
    ]
    assert offenders == []
