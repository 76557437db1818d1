"""One trial: build the CNN its hyper-parameters describe, train it, score it.

The model is the seed-004 pattern with every knob exposed (seed 002's list)::

    [Conv2D(filters * 2**b, kernel_size, strides, padding, activation) -> pooling] x blocks
    -> Flatten -> Dense(dense_units, activation) -> Dropout(dropout) -> Dense(classes, softmax)

trained with ``optimizer`` at ``learning_rate`` for ``epochs`` in batches of ``batch_size``.
After each epoch the validation accuracy goes to Optuna (``trial.report``) and the pruner
may stop the trial (``should_prune``). The trial's value is the best validation accuracy of
its epochs, measured again by ``model.evaluate`` on the model holding that epoch's weights,
so the saved model reproduces it exactly.

A trial diverges when its training loss turns NaN or infinite, or explodes past
:data:`cnnlab.model.divergence.DIVERGENCE_FACTOR` times its first batch's loss (with a fused softmax + cross-entropy
the loss of a run gone wild stays finite: SGD at learning rate 1e6 reaches 6e27). Training
stops there, the trial is marked failed (the objective returns NaN, which Optuna records as
``FAIL``) and the study goes on.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..errors import CnnlabError
from ..model.callbacks import Callback
from ..model.divergence import divergence

#: Optimizer names of the space -> the optimizer config ``compile`` receives.
#: The failure recorded for a trial that a stop (Ctrl-C, a killed process) cut short.
INTERRUPTED = "interrupted: the run stopped during this trial"


_OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "adam": ("Adam", {}),
    "rmsprop": ("RMSprop", {}),
    "adagrad": ("Adagrad", {}),
}


# --------------------------------------------------------------------------- data


def load_images(data=None):
    """``(x_train, y_train), (x_test, y_test)``, scaled to [0, 1] with a channel axis, from
    ``data`` (a directory or ``.npz``), else ``CNNLAB_DATA``, else the Keras cache, else the
    bundled MNIST sample (:func:`cnnlab.data.source.choose_mnist`)."""
    from ..data.source import choose_mnist

    return scaled(choose_mnist(data))


def scaled(choice):
    """A :class:`~cnnlab.data.source.MnistChoice`'s images scaled to [0, 1] with a channel axis."""
    (x, y), (xt, yt) = choice.train, choice.test
    if x.ndim == 3:
        x, xt = x[..., None], xt[..., None]
    return (x.astype("float32") / 255, np.asarray(y)), (
        xt.astype("float32") / 255,
        np.asarray(yt),
    )


def class_count(*label_arrays):
    """The number of classes of a data set: its largest label + 1, over all its labels
    (a subset may lack the last classes, and its model must still have an output for each)."""
    return int(max(int(np.max(y)) for y in label_arrays if len(y))) + 1


def split(train, subset=None, validation_split=0.2):
    """The images a study trains and validates on: ``subset`` training images (all when
    ``None``), picked by a fixed shuffle, of which the last ``validation_split`` are held
    out for validation. The same arguments always give the same split."""
    x, y = train
    if not 0 < validation_split < 1:
        raise CnnlabError(
            f"tune: validation_split must be in (0, 1). Received: validation_split={validation_split}"
        )
    order = np.random.default_rng(0).permutation(len(x))
    if subset is not None:
        if subset < 2:
            raise CnnlabError(
                f"tune: subset must be at least 2 images. Received: subset={subset}"
            )
        order = order[:subset]
    cut = int(round(len(order) * (1 - validation_split)))
    if cut < 1 or cut >= len(order):
        raise CnnlabError(
            f"tune: {len(order)} images cannot be split {1 - validation_split:.0%} / "
            f"{validation_split:.0%} into training and validation. Received: subset={subset}, "
            f"validation_split={validation_split}"
        )
    train_idx, val_idx = order[:cut], order[cut:]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


def tuning_data(data=None, subset=None, validation_split=0.2):
    """``(x_train, y_train), (x_val, y_val)`` as a study with these settings uses them."""
    train, _ = load_images(data)
    return split(train, subset, validation_split)


# --------------------------------------------------------------------------- the model


def build_spec(hp, input_shape, classes, seed=None):
    """The model spec (``cnnlab.specs`` format) for the hyper-parameters ``hp``, with the
    training settings (``"fit"``: batch size, epochs and, when given, the seed) that
    ``cnnlab train --spec`` uses."""
    layers = []
    for block in range(int(hp["blocks"])):
        layers.append(
            {
                "class_name": "Conv2D",
                "config": {
                    "filters": int(hp["filters"]) * 2**block,
                    "kernel_size": int(hp["kernel_size"]),
                    "strides": int(hp["strides"]),
                    "padding": hp["padding"],
                    "activation": hp["activation"],
                },
            }
        )
        if hp["pooling"] != "none":
            cls = "MaxPooling2D" if hp["pooling"] == "max" else "AveragePooling2D"
            layers.append(
                {"class_name": cls, "config": {"pool_size": int(hp["pool_size"])}}
            )
    layers.append({"class_name": "Flatten", "config": {}})
    if int(hp["dense_units"]) > 0:
        layers.append(
            {
                "class_name": "Dense",
                "config": {
                    "units": int(hp["dense_units"]),
                    "activation": hp["activation"],
                },
            }
        )
    if float(hp["dropout"]) > 0:
        layers.append(
            {"class_name": "Dropout", "config": {"rate": float(hp["dropout"])}}
        )
    layers.append(
        {
            "class_name": "Dense",
            "config": {"units": int(classes), "activation": "softmax"},
        }
    )
    name, extra = _OPTIMIZERS[hp["optimizer"]]
    return {
        "input_shape": [int(s) for s in input_shape],
        "layers": layers,
        "optimizer": {
            "class_name": name,
            "config": {"learning_rate": float(hp["learning_rate"]), **extra},
        },
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["accuracy"],
        "fit": {
            "batch_size": int(hp["batch_size"]),
            "epochs": int(hp["epochs"]),
            **({} if seed is None else {"seed": int(seed)}),
        },
    }


def build_model(hp, input_shape, classes):
    """A compiled :class:`~cnnlab.model.Sequential` for the hyper-parameters ``hp``."""
    from .. import specs

    spec = build_spec(hp, input_shape, classes)
    model = specs.build_model(spec, "tuned model")
    model.compile(**specs.compile_args(spec))
    return model


# --------------------------------------------------------------------------- training


class TrialMonitor(Callback):
    """Watches one trial's training: keeps the weights of the best epoch, reports each
    epoch's validation accuracy to Optuna and asks its pruner, and stops on a NaN loss."""

    def __init__(self, trial=None):
        super().__init__()
        self.trial = trial
        self.best, self.best_epoch, self.best_weights = -math.inf, None, None
        self.accuracies, self.diverged, self.pruned_after = [], None, None
        self.epoch, self.first_loss = 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        where = f"in epoch {self.epoch + 1}, batch {batch + 1}"
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = float(loss)
        self.diverged = divergence(loss, self.first_loss, where)
        if self.diverged:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.diverged:
            return
        val_loss, acc = logs.get("val_loss"), logs.get("val_accuracy")
        if val_loss is not None and not math.isfinite(val_loss):
            self.diverged = (
                f"the validation loss became {val_loss} after epoch {epoch + 1}"
            )
            self.model.stop_training = True
            return
        if acc is None:
            return
        acc = float(acc)
        self.accuracies.append(acc)
        if acc > self.best:
            self.best, self.best_epoch, self.best_weights = (
                acc,
                epoch,
                self.model.get_weights(),
            )
        if self.trial is not None:
            self.trial.report(acc, epoch)
            if self.trial.should_prune():
                self.pruned_after = epoch + 1
                self.model.stop_training = True


def train(hp, train_data, val_data, seed, trial=None, classes=None):
    """Train the model of ``hp`` from seed ``seed``; returns ``(model, outcome)``.

    ``outcome`` holds ``status`` (``complete``, ``pruned`` or ``diverged``), ``value`` (the
    validation accuracy of the returned model, which holds the best epoch's weights),
    ``best_epoch``, ``accuracies`` (per epoch) and ``message``. ``classes``: the data set's
    number of classes (:func:`class_count`; default: from these labels)."""
    from ..random import set_seed

    (x, y), (xv, yv) = train_data, val_data
    classes = class_count(y, yv) if classes is None else int(classes)
    set_seed(int(seed))
    model = build_model(hp, x.shape[1:], classes)
    monitor = TrialMonitor(trial)
    with (
        warnings.catch_warnings(),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
    ):
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # overflow while diverging: the monitor reports it
        model.fit(
            x,
            y,
            batch_size=int(hp["batch_size"]),
            epochs=int(hp["epochs"]),
            validation_data=(xv, yv),
            verbose=0,
            callbacks=[monitor],
        )
    outcome = {"accuracies": monitor.accuracies, "best_epoch": None, "value": math.nan}
    if monitor.diverged or monitor.best_weights is None:
        outcome.update(
            status="diverged",
            message=f"diverged: {monitor.diverged or 'no finite validation score'}",
        )
        return model, outcome
    if monitor.pruned_after is not None:
        outcome.update(
            status="pruned",
            message=f"pruned after epoch {monitor.pruned_after} "
            f"(val_accuracy {monitor.accuracies[-1]:.4f})",
        )
        return model, outcome
    model.set_weights(monitor.best_weights)
    value = float(model.evaluate(xv, yv, verbose=0, return_dict=True)["accuracy"])
    outcome.update(
        status="complete",
        value=value,
        best_epoch=monitor.best_epoch + 1,
        message=f"best epoch {monitor.best_epoch + 1} of {len(monitor.accuracies)}",
    )
    return model, outcome


class Objective:
    """The function Optuna calls with each trial (``study.optimize(Objective(...))``).

    ``on_complete(trial, model, value)``, when given, sees each completed trial's model
    (``cnnlab.tune.study`` keeps the best one)."""

    def __init__(
        self, space, train_data, val_data, seed=0, on_complete=None, classes=None
    ):
        self.space, self.train_data, self.val_data = space, train_data, val_data
        self.seed, self.on_complete, self.classes = int(seed), on_complete, classes

    def __call__(self, trial):
        import optuna

        hp = self.space.suggest(trial)
        seed = self.seed + trial.number
        trial.set_user_attr("seed", seed)
        try:
            model, outcome = train(
                hp, self.train_data, self.val_data, seed, trial, self.classes
            )
        except (
            CnnlabError,
            MemoryError,
        ) as e:  # the study goes on; Optuna records the trial as FAIL
            trial.set_user_attr("failure", f"{type(e).__name__}: {e}")
            raise
        except (
            KeyboardInterrupt
        ):  # failed too; a resumed study tries its parameters again
            trial.set_user_attr("failure", INTERRUPTED)
            raise
        trial.set_user_attr("accuracies", [round(a, 6) for a in outcome["accuracies"]])
        trial.set_user_attr("params_count", int(model.count_params()))
        if outcome["status"] == "diverged":
            trial.set_user_attr("failure", outcome["message"])
            return math.nan  # Optuna marks a NaN value as a failed trial
        if outcome["status"] == "pruned":
            trial.set_user_attr("pruned", outcome["message"])
            raise optuna.TrialPruned(outcome["message"])
        trial.set_user_attr("best_epoch", outcome["best_epoch"])
        if self.on_complete is not None:
            self.on_complete(trial, model, outcome["value"])
        return outcome["value"]
