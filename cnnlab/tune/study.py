"""A study: Optuna's storage, the trials, and what a search leaves behind.

Storage is a SQLite file in the output folder by default (``sqlite:///OUT/study.db``), so a
study can be stopped and resumed (``resume=True``). Any SQLAlchemy URL works too; with
``postgresql://user:password@host/db`` workers on many machines join one study by name.

A run writes into ``out``: ``best_params.json`` and ``best_spec.json`` (the best model as a
``cnnlab train --spec`` file), ``best_model.keras``, ``trials.csv`` and ``trials.md``,
``summary.json``, and Optuna's plots (``optimization_history`` and ``param_importances``,
``.png`` with matplotlib, ``.html`` with plotly). Optuna is imported only when a study runs.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import os
import random
import re
import shutil
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field

from ..errors import CnnlabError
from . import objective as objective_mod
from .space import DEFAULT_SPACE, SpaceError, parse

STUDY_NAME = "cnnlab"
HEARTBEAT_S = 10  # a running trial writes a heartbeat this often ...
GRACE_S = (
    60  # ... and counts as dead (failed, then retried once) after this long without one
)
DEFAULT_TRIALS = 10


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise CnnlabError(
            "cnnlab tune needs Optuna: pip install 'cnnlab[tune]' (optuna, PyYAML, "
            "psycopg2-binary for PostgreSQL)."
        ) from None
    return optuna


def default_storage(out):
    """``sqlite:///OUT/study.db`` (an absolute path)."""
    return "sqlite:///" + os.path.abspath(os.path.join(out, "study.db"))


def mask(url):
    """The storage URL with its password hidden, for printing."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", str(url))


def database_url(url):
    """``url`` with a PostgreSQL driver that is installed: a bare ``postgresql://`` (or
    ``postgres://``) URL gets ``+psycopg2`` when psycopg2 is there and psycopg 3 is not
    (SQLAlchemy 2.1 picks psycopg 3 by default, 2.0 psycopg2). Other URLs pass unchanged."""
    import importlib.util

    scheme, sep, rest = str(url).partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + rest
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + rest
        return "postgresql://" + rest
    return url


def open_storage(url, attempts=6):
    """Optuna's ``RDBStorage`` for ``url``, with heartbeats (a killed worker's trial is
    failed and retried once after :data:`GRACE_S`). Workers that start together race to
    create the tables; a failed attempt is retried after a short random pause."""
    optuna = require_optuna()
    from sqlalchemy.exc import SQLAlchemyError

    given, url = url, database_url(url)
    kwargs = (
        {"connect_args": {"timeout": 60}}
        if url.startswith("sqlite")
        else {"pool_pre_ping": True}
    )
    last = None
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                if (
                    "heartbeat_stale_trial_callback"
                    in inspect.signature(optuna.storages.RDBStorage).parameters
                ):
                    retry = {
                        "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                            1
                        )
                    }
                else:  # Optuna < 4.9
                    retry = {
                        "failed_trial_callback": optuna.storages.RetryFailedTrialCallback(
                            1
                        )
                    }
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=HEARTBEAT_S,
                    grace_period=GRACE_S,
                    **retry,
                )
        except ImportError as e:
            raise CnnlabError(
                f"the storage {mask(given)} needs a database driver that is not installed "
                f"(PostgreSQL: pip install psycopg2-binary; MySQL: pip install pymysql): {e}"
            ) from None
        except SQLAlchemyError as e:
            last = e
            if any(
                text in str(e)
                for text in (
                    "could not connect",
                    "Connection refused",
                    "unable to open",
                    "does not exist",
                    "authentication failed",
                )
            ):
                break
            time.sleep(0.2 + random.random() * (attempt + 1) * 0.3)
    message = str(getattr(last, "orig", None) or last).strip().splitlines()[0]
    raise CnnlabError(f"cannot open the study storage {mask(given)}: {message}")


class _OutLock:
    """An exclusive lock on ``OUT/.tune.lock`` while a run uses that folder. Holding it
    proves that no other local run of this folder is alive, so trials its study shows as
    running were left by a killed process."""

    def __init__(self, out):
        self.path, self.fd, self.held = os.path.join(out, ".tune.lock"), None, False
        try:
            import fcntl
        except ImportError:  # not on POSIX: no orphan detection
            return
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.held = True
        except OSError:
            pass

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing drops the lock
            self.fd, self.held = None, False


@dataclass
class TuneResult:
    """What :func:`run_study` found. ``best_trial`` is Optuna's ``FrozenTrial`` (``None``
    when no trial completed); ``best_params`` the searched values, ``best_hyperparameters``
    all of them (fixed ones included)."""

    study: object
    space: object
    best_trial: object = None
    best_value: float | None = None
    best_params: dict = field(default_factory=dict)
    best_hyperparameters: dict = field(default_factory=dict)
    best_model_path: str | None = None
    best_model_accuracy: float | None = None
    trials_run: list = field(default_factory=list)
    files: list = field(default_factory=list)

    @property
    def trials(self):
        return self.study.trials


DEFAULT_OUT = os.path.join("runs", "tune")


def run_study(
    space=None,
    *,
    out=DEFAULT_OUT,
    trials=None,
    total=None,
    timeout=None,
    storage=None,
    study_name=None,
    resume=False,
    data=None,
    subset=None,
    validation_split=None,
    seed=None,
    pruner="median",
    enqueue=(),
    plots=True,
    print_fn=print,
    other_data=False,
    progress_bar=True,
):
    """Search ``space`` (a dict, a :class:`~cnnlab.tune.space.SearchSpace`, or ``None``: the
    study's stored space, else :data:`~cnnlab.tune.space.DEFAULT_SPACE`) with Optuna.

    ``trials``: how many trials this process runs (default 10; with ``total`` alone, as many
    as the study still needs). ``total``: stop once the study holds that many finished trials
    (from every worker). ``storage``: a database URL shared by workers (default: SQLite in
    ``out``); given explicitly, the study ``study_name`` is joined, or created. ``resume``:
    continue the study in ``out``'s SQLite file. ``subset`` / ``validation_split`` / ``seed``
    are stored with the study, and a worker or a resumed run that leaves them out uses the
    stored ones. The data too: where it came from and a fingerprint of it are stored, a
    resumed run (or a joining worker) without ``data`` uses the study's, and one whose data
    differ is refused unless ``other_data=True``. ``enqueue``: parameter dicts to try first.
    ``print_fn`` prints a line per finished trial (and the headers and summary); on a terminal or in a
    notebook a bar over the trials with the best value so far is drawn under them on standard output
    (``progress_bar=False``: the lines alone). Returns a :class:`TuneResult`.
    """
    optuna = require_optuna()
    from optuna.trial import TrialState

    given = None if space is None else parse(space)
    from ..data.source import choose_mnist

    choice = choose_mnist(data)
    (x_all, y_all), test = objective_mod.scaled(choice)
    if (
        given is not None
    ):  # an impossible architecture is reported before anything is created
        given.check_architecture(x_all.shape[1:])
    os.makedirs(out, exist_ok=True)
    explicit = storage is not None
    url = storage or default_storage(out)
    name = study_name or STUDY_NAME
    lock = _OutLock(out)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        rdb = open_storage(url)
        exists = name in optuna.study.get_all_study_names(rdb)
        if exists and not (resume or explicit):
            raise CnnlabError(
                f"a study named '{name}' already exists in {mask(url)}: add --resume to continue it, "
                f"or choose another --out or --study. Received: study={name!r}"
            )
        if resume and not exists and not explicit:
            raise CnnlabError(
                f"--resume: there is no study named '{name}' in {mask(url)} to continue. "
                f"Received: out={out!r}, study={name!r}"
            )
        study = optuna.create_study(
            storage=rdb,
            study_name=name,
            direction="maximize",
            load_if_exists=True,
            pruner=make_pruner(pruner),
        )
        stored = study.user_attrs.get("cnnlab") or {}
        space = _resolve_space(given, stored, name, x_all.shape[1:])
        settings = {
            "subset": subset,
            "validation_split": validation_split,
            "seed": seed,
        }
        defaults = {"subset": None, "validation_split": 0.2, "seed": 0}
        for key, value in settings.items():
            if key in stored and value is not None and value != stored[key]:
                raise CnnlabError(
                    f"the study '{name}' was run with {key}={stored[key]!r}; leave --"
                    f"{key.replace('_', '-')} out to use it, or start another study. "
                    f"Received: {key}={value!r}"
                )
            settings[key] = stored.get(key, defaults[key]) if value is None else value
        choice = _resolve_data(study, choice, data, stored, name, other_data, print_fn)
        (x_all, y_all), test = objective_mod.scaled(choice)
        if not stored:
            study.set_user_attr(
                "cnnlab",
                {"space": space.to_dict(), **settings, "data": _data_record(choice)},
            )
        n_before = len(study.trials)
        # The sampler's seed moves on with the study, so a resumed run does not repeat its first samples.
        study.sampler = optuna.samplers.TPESampler(
            seed=None if seed is None else int(seed) + n_before
        )
        train_data, val_data = objective_mod.split(
            (x_all, y_all), settings["subset"], settings["validation_split"]
        )
        if lock.held and not explicit:
            _fail_orphans(study, print_fn)
        for params in enqueue:
            study.enqueue_trial(dict(params))

        models_dir = os.path.join(out, "models")
        keeper = _BestModelKeeper(models_dir)
        classes = objective_mod.class_count(
            y_all, test[1]
        )  # of the data set, not of the subset
        objective = objective_mod.Objective(
            space,
            train_data,
            val_data,
            seed=settings["seed"],
            on_complete=keeper,
            classes=classes,
        )
        finished = [t for t in study.trials if t.state.is_finished()]
        n_trials = trials
        if total is not None:
            remaining = max(int(total) - len(finished), 0)
            n_trials = remaining if trials is None else min(int(trials), remaining)
        elif n_trials is None:
            n_trials = DEFAULT_TRIALS
        print_fn(
            f"Study '{name}' in {mask(url)}: {len(finished)} finished trial(s) so far; "
            f"{'running ' + str(n_trials) if n_trials else 'no more trials to run'}"
            f"{' (at most ' + str(timeout) + ' s)' if timeout else ''}."
        )
        searched = (
            ", ".join(f"{n} {space.dimensions[n].describe()}" for n in space.searched)
            or "nothing"
        )
        print_fn(
            f"Searching {searched}; "
            f"fixed: {', '.join(f'{n}={d.value!r}' for n, d in space.dimensions.items() if not d.searched)}."
        )
        print_fn(
            f"Data: {len(train_data[0]):,} training and {len(val_data[0]):,} validation images of "
            f"{choice.describe()}; pruner: {pruner}."
        )
        progress = _Progress(n_trials, print_fn, study_bar(n_trials, progress_bar))
        callbacks = [progress]
        if total is not None:
            callbacks.append(
                optuna.study.MaxTrialsCallback(
                    int(total),
                    states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL),
                )
            )
        interrupted = False
        if n_trials:
            progress.draw()  # 0/N while the first trial trains
            try:
                study.optimize(
                    objective,
                    n_trials=n_trials,
                    timeout=timeout,
                    callbacks=callbacks,
                    catch=(CnnlabError, MemoryError),
                )
            except KeyboardInterrupt:
                interrupted = True
                progress.draw(finalize=True)
                _retry_interrupted(study)
                print_fn(
                    f"interrupted: {len(progress.numbers)} trial(s) finished in this run; continue the "
                    f"study with --resume (or the same --storage and --study)"
                )
            progress.draw(
                finalize=True
            )  # stopped early (timeout, --total): the bar ends where it got
        result = finish(
            study,
            space,
            out,
            url,
            (train_data, val_data),
            test,
            settings,
            keeper,
            progress.numbers,
            plots,
            print_fn,
            classes,
            _data_record(choice),
        )
        if interrupted:
            raise KeyboardInterrupt
        return result
    finally:
        optuna.logging.set_verbosity(verbosity)
        lock.release()


def _data_record(choice):
    """What a study stores about its data: where it came from and a fingerprint of it."""
    return {
        "origin": choice.origin,
        "path": choice.path,
        "train_images": len(choice.train[0]),
        "test_images": len(choice.test[0]),
        "fingerprint": choice.fingerprint(),
    }


def _resolve_data(study, choice, data, stored, name, other_data, print_fn):
    """The data this run scores trials on: ``choice`` for a new study; for a stored one, its
    own data (reloaded from where the study found it when ``data`` is not given), and a
    refusal when they differ, unless ``other_data`` (trials scored on other data would share
    one table with the study's)."""
    from ..data.source import FROM_SAMPLE, choose_mnist, sample_choice

    record = stored.get("data")
    if (
        not stored or record is None
    ):  # a new study (or one from before data were stored)
        return choice
    if choice.fingerprint() == record["fingerprint"]:
        return choice
    if data is None:  # --resume alone: the study's own data, wherever it was
        try:
            own = (
                sample_choice()
                if record["origin"] == FROM_SAMPLE
                else choose_mnist(record["path"])
            )
        except CnnlabError:
            own = None
        if own is not None and own.fingerprint() == record["fingerprint"]:
            print_fn(f"Using the study's data: {own.describe()}")
            return own
    stored_text = (
        f"{record['train_images']:,} training images from "
        f"{'the bundled sample' if record['origin'] == FROM_SAMPLE else record['path']} "
        f"(fingerprint {record['fingerprint']})"
    )
    if other_data:
        print_fn(
            f"warning: the study '{name}' was scored on {stored_text}; this run scores on "
            f"{choice.describe()} (fingerprint {choice.fingerprint()}), as --other-data asks"
        )
        study.set_user_attr(
            "data_changes",
            list(study.user_attrs.get("data_changes", [])) + [_data_record(choice)],
        )
        return choice
    raise CnnlabError(
        f"the study '{name}' was scored on {stored_text}, and this run would score on "
        f"{choice.describe()} (fingerprint {choice.fingerprint()}): trials scored on other data "
        f"cannot be compared in one table. Leave --data out (and CNNLAB_DATA unset) to use the "
        f"study's data, start another study (--study NAME or another --out), or pass --other-data "
        f"to go on anyway. Received: data={data!r}"
    )


def make_pruner(name):
    optuna = require_optuna()
    pruners = {
        "median": lambda: optuna.pruners.MedianPruner(),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(),
        "none": lambda: optuna.pruners.NopPruner(),
    }
    if name not in pruners:
        raise CnnlabError(
            f"unknown pruner {name!r}; use {', '.join(pruners)}. Received: pruner={name!r}"
        )
    return pruners[name]()


def _resolve_space(given, stored, name, input_shape):
    if stored.get("space") is not None:
        stored_space = parse(stored["space"], f"the stored space of study '{name}'")
        if given is not None and given != stored_space:
            raise SpaceError(
                f"the study '{name}' searches another space ({stored_space}); leave --space out "
                f"to use it, or start another study (--study NAME). Received: {given}"
            )
        space = stored_space
    else:
        space = (
            given
            if given is not None
            else parse(DEFAULT_SPACE, "the default search space")
        )
    space.check_architecture(input_shape)
    return space


def _retry_interrupted(study):
    """After Ctrl-C: queue the parameters of the trial it cut short (Optuna marked it failed)."""
    from optuna.trial import TrialState

    retried = {t.user_attrs.get("retry_of") for t in study.trials}
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if (
            t.user_attrs.get("failure") == objective_mod.INTERRUPTED
            and t.number not in retried
            and t.params
        ):
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})


def _fail_orphans(study, print_fn):
    """Trials left RUNNING by a killed run of this folder: mark them failed and queue their
    parameters again, so the resumed study tries them."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(
            t._trial_id, "failure", objective_mod.INTERRUPTED
        )
        if study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
            if t.params:
                study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            print_fn(
                f"trial {t.number} was interrupted when the last run stopped: marked failed"
                f"{', its parameters queued again' if t.params else ''}"
            )


class _BestModelKeeper:
    """Saves a completed trial's model when it beats every finished trial of the study
    (``models/trial_NNNNN.keras``) and records where in the trial."""

    def __init__(self, models_dir):
        self.dir, self.saved = models_dir, []

    def __call__(self, trial, model, value):
        try:
            best = trial.study.best_value
        except ValueError:  # no completed trial yet
            best = -math.inf
        if not value > best:
            return
        os.makedirs(self.dir, exist_ok=True)
        path = os.path.abspath(
            os.path.join(self.dir, f"trial_{trial.number:05d}.keras")
        )
        model.save(path)
        trial.set_user_attr("model_file", path)
        trial.set_user_attr("host", socket.gethostname())
        for old in self.saved:
            _remove(old)
        self.saved = [path]

    def tidy(self, keep):
        for path in self.saved:
            if path != keep:
                _remove(path)
        if os.path.isdir(self.dir) and not os.listdir(self.dir):
            os.rmdir(self.dir)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def study_bar(n_trials, wanted=True):
    """The study's bar over its trials (cnnlab's one progress display, :class:`cnnlab.progress.Progbar`,
    on standard output) with the best value so far, as Optuna's own progress bar shows it; ``None`` where
    it would not redraw in place (a log file, a pipe: the trial lines say it all there) or is not wanted."""
    from ..progress import Progbar

    if not n_trials or not wanted:
        return None
    bar = Progbar(n_trials, unit_name="trial")
    return bar if bar.dynamic else None


class _Progress:
    """One line per finished trial (an Optuna callback), and on a terminal or in a notebook the
    study's bar under them (``bar``, from :func:`study_bar`)."""

    def __init__(self, n_trials, print_fn, bar=None):
        self.n, self.print_fn, self.numbers, self.started = (
            n_trials,
            print_fn,
            [],
            time.time(),
        )
        self.bar, self.best = bar, {}

    def __call__(self, study, trial):
        self.numbers.append(trial.number)
        count = (
            f"[{len(self.numbers)}/{self.n}]" if self.n else f"[{len(self.numbers)}]"
        )
        if trial.value is not None:
            what = f"val_accuracy {trial.value:.4f}"
        else:
            what = (
                trial.user_attrs.get("failure") or trial.user_attrs.get("pruned") or ""
            )
        try:
            best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no completed trial yet"
        seconds = trial.duration.total_seconds() if trial.duration else 0.0
        if self.bar is not None and not self.bar.notebook:
            # the bar's line gives way to the trial's line, then is drawn again under it
            self.bar.stream.write("\r\033[K")
        self.print_fn(
            f"{count} trial {trial.number:>3} {trial.state.name:<8} {what}  |  {best}  |  {seconds:.1f} s"
            f"  |  {_format_params(trial.params)}"
        )
        sys.stdout.flush()
        if self.bar is not None:
            try:
                self.best = {"best val_accuracy": study.best_value}
            except ValueError:
                pass
            self.draw(finalize=len(self.numbers) >= self.n)

    def draw(self, finalize=False):
        """Redraw the bar; ``finalize`` ends its line (every trial done, or the study stopped early)."""
        if self.bar is not None and not getattr(self, "_closed", False):
            self.bar.update(len(self.numbers), self.best, finalize=finalize, force=True)
            self._closed = finalize


def _format_params(params):
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------- results


def finish(
    study,
    space,
    out,
    url,
    data,
    test,
    settings,
    keeper,
    numbers,
    plots,
    print_fn,
    classes=None,
    data_record=None,
):
    """Write the results of ``study`` into ``out`` and print the summary."""
    from optuna.trial import TrialState

    (train_data, val_data) = data
    all_trials = study.trials
    result = TuneResult(study=study, space=space, trials_run=list(numbers))
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    files = [
        _write(out, "trials.csv", _trials_csv(all_trials)),
        _write(out, "trials.md", _trials_markdown(all_trials)),
    ]
    if complete:
        best = study.best_trial
        hp = space.values_from_params(best.params)
        result.best_trial, result.best_value = best, best.value
        result.best_params, result.best_hyperparameters = dict(best.params), hp
        if classes is None:
            classes = objective_mod.class_count(train_data[1], val_data[1], test[1])
        path, accuracy, test_accuracy, note = _best_model(
            best,
            hp,
            space,
            out,
            train_data,
            val_data,
            test,
            settings,
            print_fn,
            classes,
        )
        keeper.tidy(best.user_attrs.get("model_file"))
        result.best_model_path, result.best_model_accuracy = path, accuracy
        spec = objective_mod.build_spec(
            hp, train_data[0].shape[1:], classes, seed=best.user_attrs.get("seed")
        )
        files.append(_write(out, "best_spec.json", json.dumps(spec, indent=2) + "\n"))
        files.append(
            _write(
                out,
                "best_params.json",
                json.dumps(
                    {
                        "study": study.study_name,
                        "trial": best.number,
                        "val_accuracy": best.value,
                        "params": best.params,
                        "hyperparameters": hp,
                        "seed": best.user_attrs.get("seed"),
                        "best_epoch": best.user_attrs.get("best_epoch"),
                        "model": os.path.basename(path),
                        "model_val_accuracy": accuracy,
                        "model_note": note,
                        "test_accuracy": test_accuracy,
                        "validation": {"images": len(val_data[0]), **settings},
                        "data": data_record,
                    },
                    indent=2,
                )
                + "\n",
            )
        )
        files.append(path)
    else:
        keeper.tidy(None)
    if plots:
        written, notes = write_plots(study, out)
        files += written
        for note in notes:
            print_fn(f"note: {note}")
    counts = {
        state.name.lower(): sum(t.state == state for t in all_trials)
        for state in TrialState
    }
    files.append(
        _write(
            out,
            "summary.json",
            json.dumps(
                {
                    "study": study.study_name,
                    "storage": mask(url),
                    "trials": len(all_trials),
                    "states": {k: v for k, v in counts.items() if v},
                    "trials_run_here": list(numbers),
                    "best_trial": result.best_trial.number
                    if result.best_trial
                    else None,
                    "best_value": result.best_value,
                    "space": space.to_dict(),
                    "settings": settings,
                    "data": data_record,
                },
                indent=2,
            )
            + "\n",
        )
    )
    result.files = files
    _print_summary(all_trials, result, counts, out, files, print_fn)
    return result


def _best_model(
    best, hp, space, out, train_data, val_data, test, settings, print_fn, classes
):
    """``OUT/best_model.keras``: the best trial's saved model when this machine saved it,
    else the trial retrained from its seed. Returns ``(path, val accuracy of the file as
    loaded back, test accuracy, note)``."""
    from ..keras.models import load_model

    target = os.path.join(out, "best_model.keras")
    saved = best.user_attrs.get("model_file")
    note = None
    if (
        saved
        and os.path.isfile(saved)
        and best.user_attrs.get("host") == socket.gethostname()
    ):
        if os.path.abspath(saved) != os.path.abspath(target):
            tmp = target + ".tmp"
            shutil.copyfile(saved, tmp)
            os.replace(tmp, target)
    else:
        print_fn(
            f"retraining trial {best.number} here (its model was saved on "
            f"{best.user_attrs.get('host', 'another machine')}) ..."
        )
        model, outcome = objective_mod.train(
            hp,
            train_data,
            val_data,
            best.user_attrs.get("seed", best.number),
            classes=classes,
        )
        model.save(target)
        note = (
            f"retrained from seed {best.user_attrs.get('seed')}: val_accuracy {outcome['value']:.6f}, "
            f"the trial reported {best.value:.6f}"
        )
    model = load_model(target)
    accuracy = float(model.evaluate(*val_data, verbose=0, return_dict=True)["accuracy"])
    test_accuracy = float(
        model.evaluate(*test, verbose=0, return_dict=True)["accuracy"]
    )
    if note is None and accuracy != best.value:
        note = f"best_model.keras scores {accuracy:.6f} on the validation images; the trial reported {best.value:.6f}"
    return target, accuracy, test_accuracy, note


def _rows(trials):
    names = []
    for t in trials:
        names += [k for k in t.params if k not in names]
    header = (
        ["trial", "state", "val_accuracy", "best_epoch", "epochs_run", "seconds"]
        + names
        + ["note"]
    )
    rows = []
    for t in trials:
        accs = t.user_attrs.get("accuracies") or []
        note = t.user_attrs.get("failure") or t.user_attrs.get("pruned") or ""
        if t.user_attrs.get("retry_of") is not None:
            note = (
                note + "; " if note else ""
            ) + f"retry of trial {t.user_attrs['retry_of']}"
        rows.append(
            [
                t.number,
                t.state.name,
                "" if t.value is None else f"{t.value:.6f}",
                t.user_attrs.get("best_epoch", ""),
                len(accs) if accs else "",
                f"{t.duration.total_seconds():.2f}" if t.duration else "",
            ]
            + [_short(t.params[n]) if n in t.params else "" for n in names]
            + [note]
        )
    return header, rows


def _trials_csv(trials):
    header, rows = _rows(trials)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _trials_markdown(trials, limit=None):
    header, rows = _rows(trials)
    if limit is not None:
        rows = sorted(rows, key=lambda r: -float(r[2]) if r[2] != "" else math.inf)[
            :limit
        ]
    cells = [[str(c) for c in r] for r in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines) + "\n"


def _write(out, filename, text):
    path = os.path.join(out, filename)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def write_plots(study, out):
    """Optuna's optimization history and parameter importances: PNG with matplotlib,
    HTML with plotly, each skipped with a note when its library is missing or the
    study has too little to draw. Returns ``(paths written, notes)``."""
    import optuna

    written, notes = [], []
    plots = (
        ("optimization_history", "plot_optimization_history"),
        ("param_importances", "plot_param_importances"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import matplotlib
        except ImportError:
            notes.append("PNG plots need matplotlib: pip install 'cnnlab[plots]'")
        else:
            if "matplotlib.pyplot" not in sys.modules:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from optuna.visualization import matplotlib as mpl_plots

            for stem, fn in plots:
                try:
                    ax = getattr(mpl_plots, fn)(study)
                    fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
                    path = os.path.join(out, stem + ".png")
                    fig.savefig(path, dpi=100, bbox_inches="tight")
                    plt.close(fig)
                    written.append(path)
                except Exception as e:  # too few trials, no varying parameter, ...
                    plt.close("all")
                    notes.append(
                        f"{stem}.png not drawn: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                    )
        try:
            import plotly  # noqa: F401
        except ImportError:
            notes.append("HTML plots need plotly: pip install plotly")
        else:
            for stem, fn in plots:
                try:
                    path = os.path.join(out, stem + ".html")
                    getattr(optuna.visualization, fn)(study).write_html(
                        path, include_plotlyjs=True
                    )
                    written.append(path)
                except Exception as e:
                    notes.append(
                        f"{stem}.html not drawn: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                    )
    return written, notes


def _print_summary(trials, result, counts, out, files, print_fn):
    states = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    print_fn("")
    print_fn(
        f"Study '{result.study.study_name}': {len(trials)} trial(s) ({states}); {len(result.trials_run)} run now."
    )
    if trials:
        limit = 15
        print_fn(_trials_markdown(trials, limit=limit).rstrip())
        if len(trials) > limit:
            print_fn(f"... the {limit} best of {len(trials)} trials; all in trials.csv")
    if result.best_trial is None:
        print_fn("No trial completed: no best model.")
    else:
        print_fn(
            f"Best: trial {result.best_trial.number}, val_accuracy {result.best_value:.4f}: "
            + _format_params(result.best_params)
        )
        print_fn(
            f"best_model.keras evaluates to val_accuracy {result.best_model_accuracy:.4f} on the "
            f"validation images"
        )
    print_fn(
        f"Outputs in {os.path.join(out, '')}: "
        + ", ".join(os.path.relpath(f, out) for f in files)
    )
