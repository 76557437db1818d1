"""Distributed search: three `cnnlab tune` workers on one study in a real PostgreSQL server.

The fixture starts a private PostgreSQL server on 127.0.0.1 (a fresh ``initdb`` cluster in a
temporary folder, on a free port, trust authentication, no fsync) and stops it afterwards. When
the server programs are missing it installs Debian's ``postgresql`` package (as root, with
apt-get); the test is skipped, saying why, only when that is impossible.
"""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

optuna = pytest.importorskip(
    "optuna", reason="cnnlab tune needs Optuna: pip install 'cnnlab[tune]'"
)
psycopg2 = pytest.importorskip(
    "psycopg2", reason="PostgreSQL storage needs psycopg2: pip install psycopg2-binary"
)

from cnnlab.tune.study import database_url  # noqa: E402

SPACE = {
    "filters": {"type": "int", "low": 2, "high": 6},
    "dense_units": {"type": "int", "low": 8, "high": 24},
    "learning_rate": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
    "epochs": 1,
}
WORKERS, TRIALS_EACH = 3, 3


def _server_bin():
    """The folder holding initdb, pg_ctl and postgres, or None."""
    for folder in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]),
        reverse=True,
    ):
        if all(
            os.path.exists(os.path.join(folder, p))
            for p in ("initdb", "pg_ctl", "postgres")
        ):
            return folder
    initdb = shutil.which("initdb")
    return (
        os.path.dirname(os.path.realpath(initdb))
        if initdb and shutil.which("pg_ctl")
        else None
    )


def _install_postgresql():
    """Install Debian's postgresql package; returns why it could not, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    if not shutil.which("apt-get"):
        return (
            "PostgreSQL is not installed and this system has no apt-get to install it"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
        ):
            done = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=600
            )
            if done.returncode != 0:
                return f"`{' '.join(cmd)}` failed: {(done.stderr or done.stdout).strip()[-300:]}"
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"installing PostgreSQL failed: {e}"
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    folder = _server_bin()
    if folder is None:
        reason = _install_postgresql()
        folder = _server_bin()
        if folder is None:
            pytest.skip(
                f"no PostgreSQL server: {reason or 'the postgresql package installed no initdb'}"
            )
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if as_root and not shutil.which("runuser"):
        pytest.skip(
            "running as root, and initdb refuses root: runuser is needed to run it as 'postgres'"
        )
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = tempfile.mkdtemp(prefix="cnnlab-pg-")
    if as_root:
        shutil.chown(base, "postgres")
    data, port = os.path.join(base, "data"), _free_port()

    def run(*cmd, timeout=60):
        return subprocess.run(
            prefix + [os.path.join(folder, cmd[0]), *cmd[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    started = False
    try:
        done = run(
            "initdb",
            "-D",
            data,
            "-U",
            "cnnlab",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        assert done.returncode == 0, done.stderr
        done = run(
            "pg_ctl",
            "-D",
            data,
            "-l",
            os.path.join(base, "server.log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -F -c max_connections=40",
            "start",
        )
        started = done.returncode == 0
        assert started, done.stderr + open(os.path.join(base, "server.log")).read()
        conn = psycopg2.connect(
            host="127.0.0.1", port=port, user="cnnlab", dbname="postgres"
        )
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE tune")
        conn.close()
        yield f"postgresql://cnnlab@127.0.0.1:{port}/tune"
    finally:
        if started:
            run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_three_workers_share_one_study_in_postgresql(postgres_url, tmp_path):
    start = time.time()
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    workers = []
    for i in range(
        WORKERS
    ):  # all at once: they race to create the tables and the study
        cmd = [
            sys.executable,
            "-m",
            "cnnlab.cli",
            "tune",
            "--space",
            str(space),
            "--study",
            "shared",
            "--storage",
            postgres_url,
            "--out",
            str(tmp_path / f"worker{i}"),
            "--trials",
            str(TRIALS_EACH),
            "--subset",
            "300",
            "--no-plots",
        ]
        workers.append(
            subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    outputs = []
    for proc in workers:
        try:
            outputs.append(proc.communicate(timeout=75)[0])
        except subprocess.TimeoutExpired:
            for p in workers:
                p.kill()
            raise
    for proc, output in zip(workers, outputs):
        assert proc.returncode == 0, output

    run_by = [
        json.loads((tmp_path / f"worker{i}" / "summary.json").read_text())[
            "trials_run_here"
        ]
        for i in range(WORKERS)
    ]
    assert [len(numbers) for numbers in run_by] == [TRIALS_EACH] * WORKERS
    numbers = [n for worker in run_by for n in worker]
    assert len(set(numbers)) == len(numbers)  # no trial number run twice

    study = optuna.load_study(study_name="shared", storage=database_url(postgres_url))
    stored = [t.number for t in study.trials]
    assert sorted(stored) == list(
        range(WORKERS * TRIALS_EACH)
    )  # the trials add up, none lost or repeated
    assert sorted(numbers) == stored
    assert all(t.state.is_finished() for t in study.trials)
    for output, worker in zip(
        outputs, run_by
    ):  # each worker's progress lines name its own trials
        assert sorted(
            int(line.split(" trial ")[1].split()[0])
            for line in output.splitlines()
            if "] trial " in line
        ) == sorted(worker)
    for i in range(
        WORKERS
    ):  # each worker's summary saw its own trials and some of the others'
        seen = json.loads((tmp_path / f"worker{i}" / "summary.json").read_text())[
            "trials"
        ]
        assert TRIALS_EACH <= seen <= WORKERS * TRIALS_EACH
    assert "postgresql://cnnlab@127.0.0.1" in outputs[0]
    assert time.time() - start < 90
