"""Atomic saves under SIGKILL: whatever moment a process dies, the file it was replacing
still loads, whole, as the previous version (or as the new one, once renamed in place).

``atomic_child.py`` saves a ~50 MB model over and over (save ``g`` fills every weight with
``g``). The parent kills it with SIGKILL at random moments, 21 times across the three
formats, and after every kill loads the file with cnnlab: it must hold one complete save,
the last one reported or the one after it. Then the child kills itself at chosen moments
of the second save (mid-write, in ``fsync``, just before ``os.replace``): the file must
still be the first save.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

pytest.importorskip("h5py")
pytest.importorskip("safetensors")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

CHILD = Path(__file__).with_name("atomic_child.py")
FORMATS = ["m.keras", "m.weights.h5", "m.safetensors"]


def start(path, *extra):
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def saved_lines(text):
    return [
        int(line.split()[1]) for line in text.splitlines() if line.startswith("saved ")
    ]


def generation(path):
    """The value every weight in the file holds (a save is one value throughout); fails if
    the file does not load or holds a mixture."""
    if str(path).endswith(".keras"):
        weights = keras.models.load_model(path).get_weights()
    else:
        clear_session()
        model = keras.Sequential([keras.Input(shape=(2048,)), keras.layers.Dense(6144)])
        model.load_weights(path)
        weights = model.get_weights()
    values = {float(w.flat[0]) for w in weights}
    assert len(values) == 1 and all((w == w.flat[0]).all() for w in weights), (
        f"{path} mixes two saves"
    )
    return int(values.pop())


def test_random_sigkills_during_large_saves_always_leave_a_loadable_file(tmp_path):
    rng = random.Random(int(os.environ.get("CNNLAB_KILL_SEED", "7")))
    kills = 0
    for round_ in range(7):
        procs = []
        for name in FORMATS:
            path = tmp_path / name
            proc = start(path)
            first = proc.stdout.readline()  # one complete save exists before any kill
            assert first.startswith("saved "), proc.stderr.read()
            procs.append((path, proc, time.monotonic() + rng.uniform(0.0, 0.35)))
        for _path, proc, when in procs:
            time.sleep(max(0.0, when - time.monotonic()))
            proc.send_signal(signal.SIGKILL)
        for path, proc, _ in procs:
            rest, _ = proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            kills += 1
            last = max(saved_lines(rest), default=1)
            assert generation(path) in (last, last + 1), f"round {round_}, {path.name}"
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    mid_save = len(leftovers)
    assert kills == 21
    assert mid_save >= 1, (
        "no kill landed inside a save (each one leaves its temporary file)"
    )
    assert set(os.listdir(tmp_path)) - set(leftovers) == set(FORMATS)


@pytest.mark.parametrize("phase", ["write", "fsync", "replace"])
def test_a_kill_at_each_moment_of_a_save_leaves_the_previous_file(tmp_path, phase):
    procs = [
        (tmp_path / name, start(tmp_path / name, "--die-in", phase)) for name in FORMATS
    ]
    for path, proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err
        assert saved_lines(out) == [1]
        assert generation(path) == 1
        tmp = [
            n
            for n in os.listdir(tmp_path)
            if n.startswith(f".{path.name}.") and n.endswith(".tmp")
        ]
        assert len(tmp) == 1, (
            "the interrupted save's temporary file, never the target, was cut short"
        )
    assert {n for n in os.listdir(tmp_path) if not n.endswith(".tmp")} == set(FORMATS)
