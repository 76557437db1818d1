"""Distributed search: three `cnnlab tune` workers on one study in a real PostgreSQL server.

The server is the ``postgres_url`` fixture (tests/tune/conftest.py): a private PostgreSQL server
on 127.0.0.1, started from the installed programs and stopped afterwards. The test installs
nothing; ``scripts/ensure_postgres.sh`` does (``.ci/run`` calls it), and without the server
programs the test is skipped, saying so.
"""

import json
import subprocess
import sys
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
