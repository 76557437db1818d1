"""Hostile files: more than 1,000 damaged or crafted model files, generated from a seed by
``hostile_cases.py``, fed to ``keras.models.load_model`` and ``model.load_weights``.

Every file must end in a clear ``ValueError`` (cnnlab's ``CnnlabError`` and ``ShapeError``
are ValueErrors) -- or, for random damage that happens to leave a valid file (a flipped
bit inside a weight's value), load normally. Never another exception, never a crash of
the interpreter, never a hang, never code run from the file: a payload that would create
a marker file, and a module that would create it on import, are checked after every case.

The cases run in a child process so that a crash or a hang in a C library (HDF5, zlib)
fails this test, naming the case, instead of killing the test run. ``CNNLAB_FUZZ_SEED``
picks another seed.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("h5py")
pytest.importorskip("safetensors")

WORKER = Path(__file__).with_name("hostile_cases.py")
PER_CASE_TIMEOUT = (
    20.0  # seconds without progress before a case counts as a hang (each takes ~5 ms)
)


class _Lines:
    """Lines from a pipe, with a timeout (select() on the raw descriptor, no hidden buffer)."""

    def __init__(self, pipe):
        self.fd, self.buffer = pipe.fileno(), b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)

    def next(self, timeout):
        """The next line; None on timeout, "" at the end of the stream."""
        while b"\n" not in self.buffer:
            if not self.selector.select(timeout):
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return ""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace")


def run_cases(workdir, seed):
    """Run every case, restarting the worker after a crash or hang; returns (total, results, failures)."""
    results, failures, total, start = {}, [], None, 0
    while total is None or start < total:
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(workdir), str(seed), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        lines = _Lines(proc.stdout)
        current, finished = None, False
        try:
            while True:
                line = lines.next(PER_CASE_TIMEOUT if current is not None else 120)
                if line is None:
                    failures.append(
                        f"case {current}: HANG (no answer within {PER_CASE_TIMEOUT} s)"
                    )
                    break
                if not line:
                    break
                word, _, rest = line.partition(" ")
                if word == "total":
                    total = int(rest)
                elif word == "begin":
                    current = int(rest)
                elif word == "case":
                    index, outcome, seconds, expect, name = rest.split(" ", 4)
                    results[int(index)] = (outcome, float(seconds), expect, name)
                    current = None
                elif word == "done":
                    finished = True
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            _, stderr = proc.communicate()
            stderr = stderr.decode("utf-8", "replace")
        if finished:
            break
        if current is None:
            pytest.fail(
                f"the worker stopped outside a case (exit {proc.returncode}): {stderr[-2000:]}"
            )
        if not any(f.startswith(f"case {current}:") for f in failures):
            failures.append(
                f"case {current}: CRASH (exit status {proc.returncode}): {stderr[-500:]}"
            )
        start = current + 1
    return total, results, failures


def test_a_thousand_hostile_files_are_refused_cleanly(tmp_path):
    seed = int(os.environ.get("CNNLAB_FUZZ_SEED", "2024"))
    t0 = time.monotonic()
    total, results, failures = run_cases(tmp_path, seed)
    elapsed = time.monotonic() - t0

    assert total >= 1000
    for index in range(total):
        if index not in results:
            continue  # a crash or hang, already in failures
        outcome, _, expect, name = results[index]
        if outcome == "EXECUTED":
            failures.append(f"case {index} ({name}): CODE FROM THE FILE RAN")
        elif outcome.startswith("OTHER"):
            failures.append(f"case {index} ({name}): {outcome}")
        elif expect == "fail" and not outcome.startswith("refused"):
            failures.append(
                f"case {index} ({name}): loaded, but the file is invalid by construction"
            )
    assert not failures, f"{len(failures)} of {total} cases failed:\n" + "\n".join(
        failures[:40]
    )
    assert not (tmp_path / "PWNED").exists()

    refused = sum(outcome.startswith("refused") for outcome, *_ in results.values())
    must_fail = sum(expect == "fail" for _, _, expect, _ in results.values())
    assert must_fail >= 600 and refused >= 900, (must_fail, refused)
    slowest = max(seconds for _, seconds, _, _ in results.values())
    assert slowest < 5.0, f"one file took {slowest:.1f} s to refuse"
    assert elapsed < 60, f"the fuzz took {elapsed:.0f} s"
