"""ruff's lint and format checks over the whole repository (configuration in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip(
    "ruff", reason="ruff is in the test extra: pip install -e '.[test]'"
)


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_check_finds_nothing():
    out = ruff("check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_leaves_every_file_as_it_is():
    out = ruff("format", "--check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_check_can_fail(tmp_path):
    """The same configuration flags an unused import and an unformatted line."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx=[1,2 ,3]\n")
    config = str(ROOT / "pyproject.toml")
    lint = ruff("check", "--no-cache", "--config", config, str(bad))
    fmt = ruff("format", "--check", "--no-cache", "--config", config, str(bad))
    assert lint.returncode == 1 and "F401" in lint.stdout
    assert fmt.returncode == 1
