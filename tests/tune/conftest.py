"""Fixtures for the tune tests: a private PostgreSQL server.

``postgres_url`` starts a server from the installed programs (a fresh ``initdb`` cluster in a
temporary folder, on a free port of 127.0.0.1, trust authentication, no fsync) and stops it
afterwards. It never installs anything: ``scripts/ensure_postgres.sh`` does that (``.ci/run`` calls
it before ``make test``), and without the server programs the test is skipped, saying so.

pytest-postgresql would start the server the same way, but it runs ``pg_ctl`` as the current user,
which PostgreSQL refuses for root (CI and this project's machines run as root), and it has no
option to run it as another user (its issues 341 and 455 were closed without one); here, as root,
the programs run as the ``postgres`` user through ``runuser``.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

import pytest

PROGRAMS = ("initdb", "pg_ctl", "postgres")


def server_bin():
    """The folder holding initdb, pg_ctl and postgres (the newest Debian version first), or None."""
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        folders.append(os.path.dirname(os.path.realpath(initdb)))
    for folder in folders:
        if all(os.access(os.path.join(folder, p), os.X_OK) for p in PROGRAMS):
            return folder
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """``postgresql://cnnlab@127.0.0.1:PORT/tune``: an empty database on a server of its own."""
    psycopg2 = pytest.importorskip(
        "psycopg2",
        reason="PostgreSQL storage needs psycopg2: pip install psycopg2-binary",
    )
    folder = server_bin()
    if folder is None:
        pytest.skip(
            "no PostgreSQL server programs (initdb, pg_ctl, postgres): run scripts/ensure_postgres.sh "
            "(installs Debian's postgresql as root, as .ci/run does) or install PostgreSQL"
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
            *("-D", data, "-U", "cnnlab", "-A", "trust", "-E", "UTF8", "--no-sync"),
        )
        assert done.returncode == 0, done.stderr
        done = run(
            "pg_ctl",
            *("-D", data, "-l", os.path.join(base, "server.log"), "-w", "-t", "30"),
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
