"""``cnnlab tune``: a hyper-parameter search on Optuna, from the command line.

::

    cnnlab tune --space space.yaml --trials 20                  # SQLite in runs/tune/study.db
    cnnlab tune --resume --trials 10                            # continue it
    cnnlab tune --study mnist --storage postgresql://user:pw@host/db   # on each worker machine

Registered by ``cnnlab.cli`` (``PACKAGE_COMMANDS``); imports nothing heavy until it runs.
"""

from __future__ import annotations

import argparse
import json
import os


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def _fraction(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def add(sub):
    p = sub.add_parser(
        "tune",
        help="search hyper-parameters with Optuna (SQLite by default, PostgreSQL for many workers)",
        description="Search the CNN's hyper-parameters (filters, kernel size, stride, padding, pooling, blocks, "
        "dense width, dropout, optimizer, learning rate, batch size, epochs) with Optuna. Each trial "
        "trains on MNIST (the bundled sample, or --data) and reports its validation accuracy after "
        "every epoch, so the pruner can stop bad trials early. Writes the best parameters, a table "
        "of trials, the best model and Optuna's plots into --out.",
        epilog="Several workers, on one machine or many, join one study with the same --study and --storage "
        "(e.g. postgresql://user:password@host:5432/db); each runs --trials trials, or they share "
        '--total. Space file: {"filters": {"type": "int", "low": 8, "high": 64, "log": true}, '
        '"optimizer": ["adam", "sgd"], "epochs": 2}; --list-params shows every name.',
    )
    p.add_argument(
        "--space",
        metavar="FILE",
        help="search space, YAML or JSON (default: the study's stored space, "
        "else a built-in one)",
    )
    p.add_argument(
        "--out",
        default=os.path.join("runs", "tune"),
        metavar="DIR",
        help="output folder; also holds the default SQLite storage study.db (default runs/tune)",
    )
    p.add_argument(
        "--trials",
        type=_positive_int,
        metavar="N",
        help="trials this process runs (default 10, or what --total still needs)",
    )
    p.add_argument(
        "--total",
        type=_positive_int,
        metavar="N",
        help="stop when the study has N finished trials, counting every worker's",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop starting trials after this long",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the study stored in --out (SQLite)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="a shared database, e.g. postgresql://user:pw@host/db or "
        "sqlite:///path.db: the study is joined, or created",
    )
    p.add_argument("--study", metavar="NAME", help="study name (default cnnlab)")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="MNIST directory or .npz; default: the study's own data when it "
        "has some, else $CNNLAB_DATA, else the Keras cache "
        "(~/.keras/datasets/mnist.npz), else the sample bundled with cnnlab",
    )
    p.add_argument(
        "--other-data",
        action="store_true",
        help="go on with a stored study although this run's data differ from the data it was scored on "
        "(refused without this flag)",
    )
    p.add_argument(
        "--subset",
        type=_positive_int,
        metavar="N",
        help="use N training images (default: all)",
    )
    p.add_argument(
        "--validation-split",
        type=_fraction,
        metavar="F",
        help="fraction of them held out to score trials (default 0.2)",
    )
    p.add_argument(
        "--pruner",
        choices=("median", "hyperband", "none"),
        default="median",
        help="Optuna pruner that stops poor trials early (default median)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed of the sampler and of the trials' training "
        "(trial k trains from seed N + k; default 0, sampler random)",
    )
    p.add_argument("--no-plots", action="store_true", help="do not draw Optuna's plots")
    p.add_argument(
        "--list-params",
        action="store_true",
        help="list the hyper-parameters and their defaults, then exit",
    )
    return p


def run(args):
    from .space import DEFAULT_SPACE, describe_hyperparameters, load_space

    if args.list_params:
        print(describe_hyperparameters())
        print("\nDefault search space:\n" + json.dumps(DEFAULT_SPACE, indent=2))
        return 0
    space = (
        load_space(args.space) if args.space else None
    )  # an invalid space stops here
    from .study import run_study

    result = run_study(
        space,
        out=args.out,
        trials=args.trials,
        total=args.total,
        timeout=args.timeout,
        storage=args.storage,
        study_name=args.study,
        resume=args.resume,
        data=args.data,
        subset=args.subset,
        validation_split=args.validation_split,
        seed=args.seed,
        pruner=args.pruner,
        plots=not args.no_plots,
        print_fn=lambda *a: print(*a, flush=True),
        other_data=args.other_data,
    )
    return 0 if result.best_trial is not None else 1
