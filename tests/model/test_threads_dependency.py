"""The batch split across threads needs threadpoolctl: it is a dependency of the default
install, and without it the split is off with a warning, never silently (issue 12)."""

import sys
import warnings

import pytest

from cnnlab.model import parallel


def test_threadpoolctl_is_a_runtime_dependency():
    tomllib = pytest.importorskip("tomllib")
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())[
        "project"
    ]
    assert any(
        dep.replace(" ", "").startswith("threadpoolctl")
        for dep in project["dependencies"]
    )


def test_without_threadpoolctl_the_split_warns_once(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "threadpoolctl", None
    )  # as if it were not installed
    monkeypatch.setitem(parallel._pool, "controller", None)
    monkeypatch.setitem(parallel._settings, "threads", 2)
    with pytest.warns(
        RuntimeWarning,
        match="threadpoolctl is not installed.*pip install threadpoolctl",
    ):
        assert parallel.split(64) == [slice(0, 64)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parallel.split(64) == [slice(0, 64)]  # said once, not at every batch


def test_with_threadpoolctl_the_batch_is_split(monkeypatch):
    pytest.importorskip("threadpoolctl")
    monkeypatch.setitem(parallel._settings, "threads", 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parallel.split(64) == [slice(0, 32), slice(32, 64)]
