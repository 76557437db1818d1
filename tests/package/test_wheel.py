"""The built wheel installs into a fresh virtual environment and trains from outside the repository.

No network: the wheel is built with the running interpreter's setuptools (``--no-build-isolation``), installed
with ``--no-deps --no-index``, and the new environment finds cnnlab's dependencies (NumPy, ...) through a
``.pth`` line naming this interpreter's site-packages (a plain path: the ``.pth`` files there, such as an
editable install of cnnlab, are not run). The test checks that the cnnlab it runs is the installed wheel.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(cmd, cwd, env, timeout=180):
    out = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def test_wheel_installs_and_trains_outside_the_repository(tmp_path):
    # Build from a copy: building in place would write build/ and *.egg-info into the repository.
    src = tmp_path / "src"
    shutil.copytree(
        ROOT / "cnnlab",
        src / "cnnlab",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["PIP_NO_INDEX"], env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1", "1"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            tmp_path / "dist",
            src,
        ],
        tmp_path,
        env,
    )
    (wheel,) = (tmp_path / "dist").glob("cnnlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cnnlab/py.typed" in names and "cnnlab/data/mnist_sample.npz" in names
    assert (
        "cnnlab/explain/templates/report.html" in names
        and "cnnlab/explain/templates/report.css" in names
    )
    assert (
        "cnnlab/lessons/templates/ko/convolution.md" in names
        and "cnnlab/lessons/templates/en/filters.md" in names
    )

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            tmp_path,
            env,
        ).strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            wheel,
        ],
        tmp_path,
        env,
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = run(
        [python, "-c", "import cnnlab; print(cnnlab.__file__)"], work, env
    ).strip()
    assert Path(where).is_relative_to(env_dir), where
    cli = env_dir / ("Scripts/cnnlab.exe" if os.name == "nt" else "bin/cnnlab")
    out = run(
        [cli, "train", "--epochs", "1", "--out", work / "run"], work, env, timeout=300
    )
    assert "Epoch 1/1" in out and "Test accuracy" in out, out
    assert (work / "run" / "model.keras").is_file()
