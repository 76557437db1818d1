"""A study keeps its data (issue 12, item 9), counts the data set's classes rather than a subset's,
and writes a ``best_spec.json`` that ``cnnlab train --spec`` retrains with the same batch size."""

import json
import math
import re

import numpy as np
import pytest

optuna = pytest.importorskip(
    "optuna", reason="cnnlab tune needs Optuna: pip install 'cnnlab[tune]'"
)

from cnnlab import cli, tune  # noqa: E402
from cnnlab.data.mnist import load_sample  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402
from cnnlab.keras.backend import clear_session  # noqa: E402

SPACE = {
    "filters": {"type": "int", "low": 2, "high": 4},
    "dense_units": 8,
    "blocks": 1,
    "learning_rate": 0.005,
    "batch_size": 16,
    "epochs": 1,
}


@pytest.fixture(autouse=True)
def fresh_layer_names():
    yield
    clear_session()


def small_mnist(folder, start, n_train=240, n_test=40):
    (x, y), (xt, yt) = load_sample()
    folder.mkdir(parents=True)
    np.savez(
        folder / "mnist.npz",
        x_train=x[start : start + n_train],
        y_train=y[start : start + n_train],
        x_test=xt[:n_test],
        y_test=yt[:n_test],
    )
    return str(folder)


def test_resume_keeps_the_studys_data_and_refuses_other_data(tmp_path, monkeypatch):
    first, second = small_mnist(tmp_path / "a", 0), small_mnist(tmp_path / "b", 1000)
    out = str(tmp_path / "study")
    tune.run_study(
        SPACE, out=out, trials=1, data=first, plots=False, print_fn=lambda *a: None
    )

    monkeypatch.setenv(
        "CNNLAB_DATA", second
    )  # the study's data win over the environment's
    lines = []
    result = tune.run_study(
        None, out=out, resume=True, trials=1, plots=False, print_fn=lines.append
    )
    text = "\n".join(lines)
    assert (
        f"Using the study's data: 240 training and 40 test images (MNIST from --data: {first})"
        in text
    )
    assert re.search(
        r"Data: 192 training and 48 validation images of 240 training", text
    )
    assert len(result.trials) == 2
    stored = result.study.user_attrs["cnnlab"]["data"]
    assert (
        stored["path"] == first
        and stored["train_images"] == 240
        and len(stored["fingerprint"]) == 16
    )

    with pytest.raises(
        CnnlabError, match="was scored on 240 training images from .*--other-data"
    ):
        tune.run_study(
            None,
            out=out,
            resume=True,
            trials=1,
            data=second,
            plots=False,
            print_fn=lambda *a: None,
        )
    monkeypatch.delenv("CNNLAB_DATA")
    with pytest.raises(
        CnnlabError, match="was scored on"
    ):  # its folder gone: no quiet fall back to the sample
        _resume_after_moving(first, out)
    lines = []
    result = tune.run_study(
        None,
        out=out,
        resume=True,
        trials=1,
        data=second,
        other_data=True,
        plots=False,
        print_fn=lines.append,
    )
    assert any(
        line.startswith("warning: the study 'cnnlab' was scored on") for line in lines
    )
    assert len(result.trials) == 3 and len(result.study.user_attrs["data_changes"]) == 1


def _resume_after_moving(first, out):
    """The study's data folder is gone: a resume does not quietly fall back to the sample."""
    import shutil

    shutil.move(first, first + ".moved")
    try:
        tune.run_study(
            None, out=out, resume=True, trials=1, plots=False, print_fn=lambda *a: None
        )
    finally:
        shutil.move(first + ".moved", first)


def test_cli_resume_with_other_data_needs_the_flag(tmp_path, capsys):
    first, second = small_mnist(tmp_path / "a", 0), small_mnist(tmp_path / "b", 1000)
    out = str(tmp_path / "study")
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    base = ["tune", "--out", out, "--trials", "1", "--no-plots"]
    assert cli.main(base + ["--space", str(space), "--data", first]) == 0
    capsys.readouterr()
    assert cli.main(base + ["--resume", "--data", second]) == 2
    assert "--other-data" in capsys.readouterr().err
    assert cli.main(base + ["--resume", "--data", second, "--other-data"]) == 0


def test_subset_classes_come_from_the_data_set(tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps(SPACE))
    out = tmp_path / "study"
    code = cli.main(
        [
            "tune",
            "--space",
            str(space),
            "--subset",
            "5",
            "--trials",
            "1",
            "--out",
            str(out),
            "--no-plots",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    spec = json.loads((out / "best_spec.json").read_text())
    assert (
        spec["layers"][-1]["config"]["units"] == 10
    )  # five images cannot hold all ten digits
    assert "label 9 is out of range" not in captured.out + captured.err


def test_best_spec_retrains_with_the_trials_batch_size(tmp_path, capsys):
    data = small_mnist(tmp_path / "a", 0, n_train=200)
    out = tmp_path / "study"
    result = tune.run_study(
        {**SPACE, "batch_size": [16, 24]},
        out=str(out),
        trials=2,
        data=data,
        seed=4,
        plots=False,
        print_fn=lambda *a: None,
    )
    spec = json.loads((out / "best_spec.json").read_text())
    batch = result.best_hyperparameters["batch_size"]
    assert spec["fit"] == {
        "batch_size": batch,
        "epochs": 1,
        "seed": result.best_trial.user_attrs["seed"],
    }
    code = cli.main(
        [
            "train",
            "--spec",
            str(out / "best_spec.json"),
            "--data",
            data,
            "--validation-split",
            "0",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    steps = math.ceil(200 / batch)
    assert "Epoch 1/1" in printed and f"{steps}/{steps}" in printed
