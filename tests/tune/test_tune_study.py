"""Studies on the bundled MNIST sample: the best model, diverging trials, stop and resume with SQLite."""

import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

optuna = pytest.importorskip(
    "optuna", reason="cnnlab tune needs Optuna: pip install 'cnnlab[tune]'"
)

from optuna.trial import TrialState  # noqa: E402

from cnnlab import cli, specs, tune  # noqa: E402
from cnnlab.keras import models  # noqa: E402
from cnnlab.keras.backend import clear_session  # noqa: E402

# Small enough for a few seconds per study: a 2-block CNN with 2-8 filters on 600 images.
SPACE = {
    "filters": {"type": "int", "low": 2, "high": 8, "log": True},
    "dense_units": {"type": "int", "low": 8, "high": 32},
    "learning_rate": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
    "optimizer": ["adam", "sgd"],
    "epochs": 2,
}
SUBSET = 600


@pytest.fixture(autouse=True)
def fresh_layer_names():
    yield
    clear_session()


def quiet(*args):
    pass


def test_small_study_finds_better_parameters_and_saves_a_model_that_reproduces_its_score(
    tmp_path,
):
    out = tmp_path / "study"
    result = tune.run_study(
        SPACE, out=str(out), trials=5, subset=SUBSET, seed=3, print_fn=quiet
    )
    values = [t.value for t in result.trials if t.state == TrialState.COMPLETE]
    assert len(result.trials) == 5 and len(values) >= 3
    assert result.best_value == max(values) > min(values)  # better than the worst trial
    assert result.best_trial.number == result.study.best_trial.number
    assert set(result.best_params) == {
        "filters",
        "dense_units",
        "learning_rate",
        "optimizer",
    }

    # The saved model loads and evaluates to the reported accuracy on the same validation images.
    _, (x_val, y_val) = tune.tuning_data(subset=SUBSET, validation_split=0.2)
    model = models.load_model(out / "best_model.keras")
    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
    assert accuracy == pytest.approx(result.best_value, abs=1e-6)
    best = json.loads((out / "best_params.json").read_text())
    assert (
        best["trial"] == result.best_trial.number
        and best["params"] == result.best_params
    )
    assert best["val_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert best["model_val_accuracy"] == pytest.approx(accuracy, abs=1e-6)

    # The trials table, the best model as a spec `cnnlab train --spec` reads, and the plots.
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [int(r["trial"]) for r in rows] == list(range(5))
    assert {"state", "val_accuracy", "filters", "optimizer"} <= set(rows[0])
    assert (out / "trials.md").read_text().startswith("| trial")
    spec = json.loads((out / "best_spec.json").read_text())
    assert specs.build_model(spec).count_params() == model.count_params()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials_run_here"] == [0, 1, 2, 3, 4] and summary[
        "storage"
    ].startswith("sqlite:///")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (out / "optimization_history.png").stat().st_size > 1000
    assert (out / "param_importances.png").stat().st_size > 1000


def test_a_diverging_trial_is_marked_failed_and_the_study_goes_on(tmp_path):
    space = {
        "filters": 4,
        "dense_units": 16,
        "optimizer": "sgd",
        "epochs": 2,
        "learning_rate": {"type": "float", "low": 1e-3, "high": 1e6, "log": True},
    }
    lines = []
    result = tune.run_study(
        space,
        out=str(tmp_path),
        trials=3,
        subset=400,
        seed=0,
        plots=False,
        enqueue=[{"learning_rate": 1e6}, {"learning_rate": 0.05}],
        print_fn=lines.append,
    )
    first, *rest = result.trials
    assert first.params == {"learning_rate": 1e6}
    assert first.state == TrialState.FAIL  # SGD at 1e6: the loss explodes
    assert "diverged" in first.user_attrs["failure"]
    assert len(rest) == 2 and all(
        t.state.is_finished() for t in rest
    )  # ... and the study went on
    assert rest[0].state == TrialState.COMPLETE and rest[0].params == {
        "learning_rate": 0.05
    }
    assert result.best_value == max(t.value for t in rest if t.value is not None)
    assert math.isfinite(result.best_value)
    assert any("trial   0 FAIL" in line and "diverged" in line for line in lines)
    assert (tmp_path / "best_model.keras").exists()


def _finished(study):
    return {
        t.number: (t.state, t.value, t.params)
        for t in study.trials
        if t.state.is_finished()
    }


def test_a_killed_study_resumes_from_its_sqlite_file_keeping_every_finished_trial(
    tmp_path, capsys
):
    out = tmp_path / "study"
    space = tmp_path / "space.json"
    space.write_text(json.dumps({**SPACE, "epochs": 3}))
    cmd = [
        sys.executable,
        "-u",
        "-m",
        "cnnlab.cli",
        "tune",
        "--space",
        str(space),
        "--out",
        str(out),
        "--trials",
        "50",
        "--subset",
        str(SUBSET),
        "--no-plots",
        "--seed",
        "0",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen, deadline = 0, time.time() + 60
    try:
        for line in proc.stdout:
            if "] trial" in line:
                seen += 1
                if seen == 3:
                    time.sleep(0.15)  # most likely in the middle of the 4th trial
                    break
            assert time.time() < deadline, "the study did not get going"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert seen == 3 and proc.returncode == -signal.SIGKILL

    storage = tune.default_storage(out)
    before = optuna.load_study(study_name="cnnlab", storage=storage)
    finished_before = _finished(before)
    orphans = [t.number for t in before.trials if t.state == TrialState.RUNNING]
    # Under load the kill can land after the 4th trial was created but before it drew its parameters:
    # then there is nothing to try again (and the resumed run must not queue an empty trial).
    with_params = {
        t.number for t in before.trials if t.state == TrialState.RUNNING and t.params
    }
    assert len(finished_before) >= 3 and len(before.trials) <= len(finished_before) + 1

    # Without --resume, the existing study is not touched.
    assert (
        cli.main(["tune", "--space", str(space), "--out", str(out), "--trials", "1"])
        == 2
    )
    assert "--resume" in capsys.readouterr().err

    code = cli.main(
        ["tune", "--out", str(out), "--resume", "--trials", "2", "--no-plots"]
    )  # space from the study
    printed = capsys.readouterr().out
    assert code == 0
    after = optuna.load_study(study_name="cnnlab", storage=storage)
    finished_after = _finished(after)
    for (
        number,
        trial,
    ) in finished_before.items():  # every finished trial kept, unchanged
        assert finished_after[number] == trial
    assert len(finished_after) == len(finished_before) + len(orphans) + 2
    assert not [t for t in after.trials if t.state == TrialState.RUNNING]
    for number in (
        orphans
    ):  # the trial the kill interrupted: failed, and its parameters tried again
        assert finished_after[number][0] == TrialState.FAIL
        assert "interrupted" in after.trials[number].user_attrs["failure"]
        retried = any(t.user_attrs.get("retry_of") == number for t in after.trials)
        assert retried == (number in with_params)
        assert f"trial {number} was interrupted" in printed
    assert f"{len(finished_before) + len(orphans)} finished trial(s) so far" in printed
    assert (out / "best_model.keras").exists()


def test_resume_needs_a_study_and_a_joined_study_keeps_its_space(tmp_path, capsys):
    assert cli.main(["tune", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no study named 'cnnlab'" in capsys.readouterr().err
    tune.run_study(
        SPACE, out=str(tmp_path), trials=1, subset=200, plots=False, print_fn=quiet
    )
    with pytest.raises(tune.SpaceError, match="searches another space"):
        tune.run_study(
            {**SPACE, "epochs": 1},
            out=str(tmp_path),
            resume=True,
            trials=1,
            print_fn=quiet,
        )
    with pytest.raises(tune.study.CnnlabError, match="subset=200"):
        tune.run_study(
            None, out=str(tmp_path), resume=True, trials=1, subset=300, print_fn=quiet
        )


def test_best_model_missing_here_is_retrained_from_its_seed(tmp_path):
    result = tune.run_study(
        SPACE,
        out=str(tmp_path),
        trials=3,
        subset=400,
        seed=5,
        plots=False,
        print_fn=quiet,
    )
    best = result.best_trial
    os.remove(
        best.user_attrs["model_file"]
    )  # as on a machine that did not run the best trial
    os.remove(tmp_path / "best_model.keras")
    lines = []
    again = tune.run_study(
        None,
        out=str(tmp_path),
        resume=True,
        total=3,
        plots=False,
        print_fn=lines.append,
    )
    assert again.trials_run == [] and again.best_trial.number == best.number
    assert any("retraining trial" in line for line in lines)
    _, (x_val, y_val) = tune.tuning_data(subset=400)
    accuracy = models.load_model(tmp_path / "best_model.keras").evaluate(
        x_val, y_val, verbose=0
    )[1]
    assert accuracy == pytest.approx(
        best.value, abs=1e-6
    )  # training is reproducible from the trial's seed


def test_ctrl_c_keeps_the_study_and_the_interrupted_trial_is_tried_again(
    tmp_path, monkeypatch
):
    from cnnlab.tune import objective as objective_mod

    real_train, calls = objective_mod.train, []

    def train(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(objective_mod, "train", train)
    with pytest.raises(KeyboardInterrupt):
        tune.run_study(
            SPACE, out=str(tmp_path), trials=5, subset=300, plots=False, print_fn=quiet
        )
    monkeypatch.setattr(objective_mod, "train", real_train)
    study = optuna.load_study(
        study_name="cnnlab", storage=tune.default_storage(tmp_path)
    )
    assert [t.state for t in study.trials] == [
        TrialState.COMPLETE,
        TrialState.FAIL,
        TrialState.WAITING,
    ]
    assert study.trials[1].user_attrs["failure"] == objective_mod.INTERRUPTED
    assert (tmp_path / "best_model.keras").exists()  # results written up to the stop

    result = tune.run_study(
        None, out=str(tmp_path), resume=True, trials=1, plots=False, print_fn=quiet
    )
    retry = result.trials[2]
    assert retry.state == TrialState.COMPLETE and retry.params == study.trials[1].params
    assert retry.user_attrs["retry_of"] == 1


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_study_bar_counts_trials_with_the_best_value_under_the_trial_lines():
    """On a terminal the one progress display (cnnlab.progress.Progbar) draws a bar over the trials with
    the best value so far; each trial's line, the one a user greps, is printed above it."""
    from datetime import timedelta
    from types import SimpleNamespace

    from cnnlab.progress import Progbar
    from cnnlab.tune import study as study_mod

    screen = _Terminal()
    progress = study_mod._Progress(
        2,
        lambda line: screen.write(line + "\n"),
        Progbar(2, stream=screen, unit_name="trial"),
    )
    progress.draw()
    assert screen.getvalue().startswith("\r0/2 ")
    values = {0: 0.8, 1: 0.9}
    for number in (0, 1):
        trial = SimpleNamespace(
            number=number,
            value=values[number],
            state=TrialState.COMPLETE,
            params={"filters": 4},
            user_attrs={},
            duration=timedelta(seconds=1),
        )
        best = max(values[n] for n in range(number + 1))
        study = SimpleNamespace(
            best_value=best, best_trial=SimpleNamespace(number=number)
        )
        progress(study, trial)
    lines = screen.getvalue().split("\r\033[K")
    assert "[1/2] trial   0 COMPLETE val_accuracy 0.8000" in lines[1]
    assert (
        "\r1/2 " + "━" * 10 + " " * 10 in lines[1]
    )  # the bar drawn again under the line, half full
    assert "best val_accuracy: 0.8000" in lines[1]
    assert "[2/2] trial   1 COMPLETE val_accuracy 0.9000" in lines[2]
    assert (
        "2/2 " + "━" * 20 in lines[2]
        and "s/trial - best val_accuracy: 0.9000\n" in lines[2]
    )
    progress.draw(finalize=True)  # already ended: nothing more
    assert screen.getvalue().endswith("best val_accuracy: 0.9000\n")


def test_no_study_bar_in_a_log_or_when_not_wanted(monkeypatch):
    from cnnlab.tune.study import study_bar

    # pytest's captured stdout is not a terminal: the trial lines alone
    assert study_bar(5) is None
    monkeypatch.setattr("sys.stdout", _Terminal())
    assert study_bar(5) is not None and study_bar(5).target == 5
    assert study_bar(5, wanted=False) is None and study_bar(0) is None
