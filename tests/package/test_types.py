"""The type checker on the public API: mypy, configured in pyproject.toml ([tool.mypy]).

It checks cnnlab/keras, layers, model, ops and saving: every annotated function's body against its
annotations, and in the strict modules (the Keras facade and the ops kernels listed in the config)
also that every function is annotated. Any error fails the test, with mypy's report.
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "mypy", reason="the type check needs mypy: pip install mypy (in the test extra)"
)

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_finds_no_error(tmp_path):
    start = time.perf_counter()
    done = subprocess.run(
        # the files and settings come from pyproject.toml; the cache stays in tmp_path
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            "--no-error-summary",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"mypy found errors:\n{report}"
    assert "error:" not in report, report
    seconds = time.perf_counter() - start
    assert seconds < 240, f"the type check took {seconds:.0f} s"


def test_the_strict_modules_report_a_missing_annotation(tmp_path):
    """The check can fail: an unannotated function in a strict module (cnnlab.ops.dense) is an error."""
    probe = tmp_path / "src" / "cnnlab"
    (probe / "ops").mkdir(parents=True)
    for part in ("__init__.py", "ops/__init__.py"):
        (probe / part).write_text("")
    (probe / "ops" / "dense.py").write_text(
        "def dense_forward(x, kernel):\n    return x @ kernel\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy_cache"),
            str(probe / "ops" / "dense.py"),
        ],
        cwd=tmp_path / "src",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "[no-untyped-def]" in done.stdout, (
        done.stdout + done.stderr
    )
