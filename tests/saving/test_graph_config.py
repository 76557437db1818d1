"""A functional config is checked as a graph before anything is built (cnnlab/saving/graph_config.py):
each way a file can break the graph ends in an error that names it. (The hostile-file fuzz,
tests/model/test_hostile_files.py, feeds these and more through load_model in a child process.)"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.saving import graph_config, limits
from cnnlab.saving.model_from_config import model_from_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def residual():
    with zipfile.ZipFile(FIXTURES / "residual.keras") as z:
        return json.loads(z.read("config.json"))


def entry(config, name):
    return [e for e in config["config"]["layers"] if e["name"] == name][0]


def history(config, name, k=0):
    arg = entry(config, name)["inbound_nodes"][0]["args"][0]
    return (arg[k] if isinstance(arg, list) else arg)["config"]["keras_history"]


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: history(c, "conv2d").__setitem__(0, "add"),
            r"the graph has a cycle: layers \['activation', 'add'",
        ),
        (
            lambda c: history(c, "add", 1).__setitem__(0, "ghost"),
            "comes from layer 'ghost', which is not in the model",
        ),
        (
            lambda c: history(c, "add", 1).__setitem__(1, 2),
            "'conv2d_1' is called 1 time\\(s\\), so node index 2",
        ),
        (
            lambda c: history(c, "dense").__setitem__(2, 1),
            "gives 1 output\\(s\\), so tensor index 1 does not exist",
        ),
        (
            lambda c: c["config"].__setitem__("input_layers", ["conv2d", 0, 0]),
            "every model input must be an InputLayer",
        ),
        (
            lambda c: (
                c["config"]["layers"].append(
                    {
                        **entry(c, "image"),
                        "name": "other",
                        "config": {**entry(c, "image")["config"], "name": "other"},
                    }
                )
                or history(c, "conv2d").__setitem__(0, "other")
            ),
            "disconnected: the outputs depend on the Input 'other'",
        ),
    ],
)
def test_a_broken_graph_is_refused_naming_what_is_wrong(edit, message):
    config = residual()
    edit(config)
    with pytest.raises(CnnlabError, match=message):
        model_from_config(config)


def test_limits_and_nesting_depth_are_checked_from_a_stack(monkeypatch):
    config = residual()
    monkeypatch.setattr(limits, "MAX_GRAPH_LAYERS", 5)
    with pytest.raises(CnnlabError, match="more than 5 layers"):
        graph_config.check_all(config, "m")
    monkeypatch.undo()
    inner = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": "s", "layers": []},
    }
    for _ in range(limits.MAX_MODEL_NESTING + 2):
        inner = {
            "module": "keras",
            "class_name": "Sequential",
            "config": {"name": "s", "layers": [inner]},
        }
    with pytest.raises(
        CnnlabError, match=f"nested more than {limits.MAX_MODEL_NESTING} deep"
    ):
        graph_config.check_all(inner, "m")


def test_a_graph_two_thousand_layers_deep_loads_without_recursion():
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((3,), name="x")
    for _ in range(2000):
        x = keras.layers.Activation("relu")(x)
    model = keras.Model(inputs, x)
    config = json.loads(model.to_json())
    rebuilt = keras.models.model_from_json(json.dumps(config))
    assert len(rebuilt.layers) == 2001
