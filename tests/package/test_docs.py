"""The docs build with warnings as errors, and their Keras-compatibility table is generated from the code."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = [
    "layers",
    "activations",
    "losses",
    "metrics",
    "optimizers",
    "optimizers.schedules",
    "callbacks",
    "initializers",
    "regularizers",
    "constraints",
    "ops",
    "models",
    "utils",
    "datasets",
    "applications",
]


def hooks():
    spec = importlib.util.spec_from_file_location(
        "docs_hooks", ROOT / "scripts" / "docs_hooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            ROOT / "mkdocs.yml",
            "-d",
            tmp_path / "site",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-5000:]
    site = tmp_path / "site"
    ops = (site / "api" / "ops" / "index.html").read_text(encoding="utf-8")
    assert (
        "conv_forward" in ops and "conv_backward" in ops
    )  # the reference is built from the code
    layers = (site / "api" / "layers" / "index.html").read_text(encoding="utf-8")
    assert "Conv2D" in layers and "BatchNormalization" in layers
    keras = (site / "guide" / "keras" / "index.html").read_text(encoding="utf-8")
    assert "<!-- keras-names-table -->" not in keras and "<code>Conv2D</code>" in keras
    speed = (site / "guide" / "speed" / "index.html").read_text(encoding="utf-8")
    assert (
        "readme:" not in speed and "PyTorch" in speed
    )  # the README section was included


def test_keras_names_file_covers_the_mirrored_namespaces():
    data = json.loads((ROOT / "docs" / "keras_names.json").read_text(encoding="utf-8"))
    assert data["keras_version"].startswith("3.")
    assert sorted(data["namespaces"]) == sorted(NAMESPACES)
    layers = data["namespaces"]["layers"]
    assert layers["Conv2D"] == "class" and len(layers) > 150 and "Layer" in layers


def test_keras_table_is_cnnlab_now():
    from cnnlab import keras

    table, _ = hooks().coverage()
    rows = {
        (space, name): has
        for space, entries in table.items()
        for name, _, has in entries
    }
    # Each row says what cnnlab's namespace holds at build time: present names and absent ones both.
    assert rows[("layers", "Conv2D")] is True and hasattr(keras.layers, "Conv2D")
    assert rows[("optimizers.schedules", "ExponentialDecay")] is True
    assert rows[("applications", "ResNet50")] is True
    assert rows[("applications", "InceptionV3")] is False
    for (space, name), has in rows.items():
        module = hooks().cnnlab_namespace(space)
        assert has == (module is not None and hasattr(module, name)), (space, name)
    markdown = hooks().table_markdown()
    assert "| `Conv2D` | class | yes |" in markdown and "| `ResNet50` |" in markdown
    n_yes = sum(rows.values())
    assert f"cnnlab has **{n_yes} of the {len(rows)}**" in markdown


def test_readme_sections_included_exist():
    module = hooks()
    for page in (ROOT / "docs").rglob("*.md"):
        for heading in module.README_MARKER.findall(page.read_text(encoding="utf-8")):
            assert module.readme_section(heading).strip(), (page, heading)
    with pytest.raises(ValueError, match="no section"):
        module.readme_section("## Not a section")
