"""The search space: parsing, and every invalid space reported before any training, naming the parameter."""

import json
import os
import subprocess
import sys

import pytest

from cnnlab import cli
from cnnlab.tune import space as space_mod
from cnnlab.tune.space import (
    DEFAULT_SPACE,
    HYPERPARAMETERS,
    SpaceError,
    load_space,
    parse,
)

MNIST = (28, 28, 1)


def test_defaults_fixed_values_lists_and_ranges():
    s = parse(
        {
            "filters": {"type": "int", "low": 8, "high": 64, "log": True},
            "kernel_size": [3, 5],
            "optimizer": {"type": "categorical", "choices": ["adam", "SGD"]},
            "epochs": 3,
            "dropout": {"type": "fixed", "value": 0.25},
            "stride": 1,
            "lr": {"low": 1e-4, "high": 1e-2, "log": True},
        }
    )
    d = s.dimensions
    assert list(d) == list(HYPERPARAMETERS)  # every hyper-parameter, in a fixed order
    assert (
        d["filters"].kind,
        d["filters"].low,
        d["filters"].high,
        d["filters"].log,
    ) == ("int", 8, 64, True)
    assert d["kernel_size"].choices == (3, 5)
    assert d["optimizer"].choices == ("adam", "sgd")
    assert (d["epochs"].kind, d["epochs"].value) == ("fixed", 3)
    assert d["dropout"].value == 0.25
    assert d["strides"].value == 1  # "stride" (seed 002's word) is Keras's "strides"
    assert d["learning_rate"].kind == "float" and d["learning_rate"].log
    assert d["blocks"].value == HYPERPARAMETERS["blocks"].default
    assert s.searched == ["filters", "kernel_size", "optimizer", "learning_rate"]
    assert parse(s.to_dict()) == s  # stored with the study and read back unchanged
    s.check_architecture(MNIST)


def test_default_space_is_valid():
    parse(DEFAULT_SPACE).check_architecture(MNIST)


def test_yaml_and_json_files(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(
        "filters: {type: int, low: 4, high: 16}\noptimizer: [adam, rmsprop]\n"
        "epochs: 1\n",
        encoding="utf-8",
    )
    (tmp_path / "s.json").write_text(
        json.dumps(
            {
                "filters": {"type": "int", "low": 4, "high": 16},
                "optimizer": ["adam", "rmsprop"],
                "epochs": 1,
            }
        ),
        encoding="utf-8",
    )
    assert load_space(tmp_path / "s.yaml") == load_space(tmp_path / "s.json")


@pytest.mark.parametrize(
    "space, names",
    [
        ({"filter": 8}, ["'filter'", "'filters'"]),  # unknown, with a suggestion
        ({"momentum": 0.9}, ["unknown hyper-parameter 'momentum'"]),
        (
            {"filters": {"type": "int", "low": 64, "high": 8}},
            ["'filters'", "empty range"],
        ),
        (
            {"learning_rate": {"type": "float", "low": 0.1, "high": 0.01}},
            ["'learning_rate'", "empty range"],
        ),
        (
            {"optimizer": {"type": "categorical", "choices": []}},
            ["'optimizer'", "empty choice"],
        ),
        ({"optimizer": ["adam", "adamw"]}, ["'optimizer'", "'adamw'"]),
        ({"dropout": {"type": "float", "low": 0.0, "high": 1.0}}, ["'dropout'", "< 1"]),
        (
            {"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}},
            ["'learning_rate'", "low > 0"],
        ),
        ({"filters": {"type": "float", "low": 4, "high": 8}}, ["'filters'", "integer"]),
        ({"batch_size": 0}, ["'batch_size'", ">= 1"]),
        (
            {"padding": {"type": "int", "low": 0, "high": 1}},
            ["'padding'", "categorical"],
        ),
        (
            {"kernel_size": {"type": "int", "low": 3, "high": 9, "stepp": 2}},
            ["'kernel_size'", "stepp"],
        ),
    ],
)
def test_invalid_space_names_the_parameter(space, names):
    with pytest.raises(SpaceError) as e:
        parse(space).check_architecture(MNIST)
    for name in names:
        assert name in str(e.value)


@pytest.mark.parametrize(
    "space, names, arithmetic",
    [
        # 28 -> 22 -> 11 -> 5 -> 2, then a 7x7 kernel: floor((2 - 7) / 1) + 1 = -4
        (
            {"blocks": {"type": "int", "low": 1, "high": 4}, "kernel_size": [3, 7]},
            ["'kernel_size'", "'blocks'"],
            "floor((2 - 7) / 1) + 1 = -4",
        ),
        (
            {
                "kernel_size": {"type": "int", "low": 3, "high": 40},
                "padding": ["same", "valid"],
            },
            ["'kernel_size'"],
            "floor((28 - 40) / 1) + 1 = -11",
        ),
        ({"pool_size": [2, 30]}, ["'pool_size'"], "floor((26 - 30) / 30) + 1 = 0"),
        (
            {"strides": [1, 3], "blocks": 3},
            ["'strides'", "'blocks'", "'pool_size'"],
            "= 0",
        ),
    ],
)
def test_spatial_size_reaching_zero_is_found_before_training(space, names, arithmetic):
    s = parse(space)  # each value is fine on its own ...
    with pytest.raises(SpaceError) as e:
        s.check_architecture(
            MNIST
        )  # ... but the largest of them shrink 28x28 to nothing
    message = str(e.value)
    assert "spatial size reaches zero" in message and arithmetic in message
    for name in names:
        assert name in message


def test_same_padding_keeps_a_deep_space_valid():
    parse({"blocks": 4, "padding": "same"}).check_architecture(MNIST)
    with pytest.raises(SpaceError, match="padding 'same' only"):
        parse({"blocks": 4, "padding": ["same", "valid"]}).check_architecture(MNIST)


def test_cli_reports_an_invalid_space_before_any_training(tmp_path, capsys):
    bad = tmp_path / "space.json"
    bad.write_text(
        json.dumps(
            {"filters": [8, 16], "kernel_size": {"type": "int", "low": 3, "high": 31}}
        )
    )
    code = cli.main(
        ["tune", "--space", str(bad), "--out", str(tmp_path / "out"), "--trials", "2"]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert (
        "error: search space" in err
        and "'kernel_size'" in err
        and "Traceback" not in err
    )
    assert "trial" not in out  # no trial started
    assert not (tmp_path / "out" / "study.db").exists()  # nor was a study created

    bad.write_text(json.dumps({"filterz": [8, 16]}))
    code = cli.main(["tune", "--space", str(bad), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert (
        code == 2 and "unknown hyper-parameter 'filterz'" in err and "'filters'" in err
    )


def test_list_params(capsys):
    assert cli.main(["tune", "--list-params"]) == 0
    out = capsys.readouterr().out
    for name in HYPERPARAMETERS:
        assert name in out


def test_importing_cnnlab_and_its_cli_does_not_import_optuna():
    code = (
        "import sys, cnnlab, cnnlab.tune, cnnlab.cli; cnnlab.cli.build_parser(); "
        "print(sorted(m for m in ('optuna', 'sqlalchemy', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ).stdout
    assert out.strip() == "[]"


def test_space_module_documents_each_hyperparameter():
    text = space_mod.describe_hyperparameters()
    assert "learning_rate" in text and "momentum" in text
