"""Hyper-parameter search on Optuna: ``cnnlab tune`` and ``cnnlab.tune.run_study``.

::

    from cnnlab import tune
    result = tune.run_study({"filters": {"type": "int", "low": 8, "high": 64, "log": True},
                             "optimizer": ["adam", "sgd"], "epochs": 2}, out="runs/tune", trials=20)
    result.best_params, result.best_value, result.best_model_path

* ``space``: the search space (YAML/JSON/dict), checked before any training;
* ``objective``: builds, trains and scores one trial's CNN, reporting each epoch to Optuna's pruner;
* ``study``: storage (SQLite by default, PostgreSQL for many workers), resume, results and plots;
* ``cli``: the ``cnnlab tune`` command.

Importing this package does not import Optuna; running a study does.
"""

from .objective import Objective, build_model, build_spec, tuning_data
from .space import (
    DEFAULT_SPACE,
    HYPERPARAMETERS,
    SearchSpace,
    SpaceError,
    load_space,
    parse,
)
from .study import TuneResult, default_storage, run_study

__all__ = [
    "DEFAULT_SPACE",
    "HYPERPARAMETERS",
    "Objective",
    "SearchSpace",
    "SpaceError",
    "TuneResult",
    "build_model",
    "build_spec",
    "default_storage",
    "load_space",
    "parse",
    "run_study",
    "tuning_data",
]
