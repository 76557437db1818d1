"""The package's own habits: one version, `python -m cnnlab`, typed, licensed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

import cnnlab

ROOT = Path(__file__).resolve().parents[2]


def test_version_has_one_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    out = subprocess.run(
        [sys.executable, "-m", "cnnlab", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.strip() == f"cnnlab {cnnlab.__version__}"


def test_python_m_cnnlab_is_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "cnnlab", "summary"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Total params: 225,034" in out.stdout


def test_typed_and_licensed():
    assert (Path(cnnlab.__file__).parent / "py.typed").exists()
    assert "MIT License" in (ROOT / "LICENSE").read_text()
