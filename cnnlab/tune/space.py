"""The search space: which hyper-parameters Optuna may change, and how.

A space is a dict (or a YAML/JSON file holding one) from hyper-parameter names to

* a fixed value: ``"epochs": 2``;
* a list, short for a choice: ``"kernel_size": [3, 5]``;
* a range: ``{"type": "int", "low": 8, "high": 64, "log": true}`` (``step`` optional), or
  ``{"type": "float", "low": 1e-4, "high": 1e-2, "log": true}``;
* a choice: ``{"type": "categorical", "choices": ["adam", "sgd"]}``;
* ``{"type": "fixed", "value": 0.25}``.

Hyper-parameters the space does not mention keep their defaults (:data:`HYPERPARAMETERS`).
Everything is checked by :func:`parse` before any training starts: an unknown name, an
empty range, a value outside what the parameter allows, and (:meth:`SearchSpace.check_architecture`)
an architecture whose spatial size reaches zero for some point of the space. Each error names
the parameter. Nothing here imports Optuna.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
from dataclasses import dataclass

from ..errors import CnnlabError
from ..ops import shapes
from ..specs import read_json_or_yaml


class SpaceError(CnnlabError):
    """An invalid search space (reported before any training)."""


@dataclass(frozen=True)
class HyperParameter:
    kind: str  # "int", "float" or "choice"
    default: object
    help: str
    minimum: float | None = None  # inclusive
    maximum: float | None = None  # inclusive unless below_maximum
    below_maximum: bool = False
    choices: tuple = ()


OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adagrad")
ACTIVATIONS = (
    "relu",
    "leaky_relu",
    "elu",
    "tanh",
    "sigmoid",
    "silu",
    "softplus",
    "linear",
)

#: Every hyper-parameter the objective understands (seed 002's list), with its default.
HYPERPARAMETERS = {
    "blocks": HyperParameter("int", 2, "conv blocks: Conv2D, then pooling", 1),
    "filters": HyperParameter(
        "int",
        32,
        "filters of the first Conv2D; each next block doubles them (32 -> 64)",
        1,
    ),
    "kernel_size": HyperParameter("int", 3, "Conv2D kernel size (square)", 1),
    "strides": HyperParameter("int", 1, "Conv2D stride", 1),
    "padding": HyperParameter(
        "choice", "valid", "Conv2D padding", choices=("valid", "same")
    ),
    "activation": HyperParameter(
        "choice",
        "relu",
        "activation of the Conv2D and hidden Dense layers",
        choices=ACTIVATIONS,
    ),
    "pooling": HyperParameter(
        "choice", "max", "pooling after each Conv2D", choices=("max", "avg", "none")
    ),
    "pool_size": HyperParameter("int", 2, "pooling window and stride", 1),
    "dense_units": HyperParameter(
        "int", 128, "width of the hidden Dense layer (0: none)", 0
    ),
    "dropout": HyperParameter(
        "float",
        0.0,
        "dropout rate before the output layer",
        0.0,
        1.0,
        below_maximum=True,
    ),
    "optimizer": HyperParameter(
        "choice",
        "adam",
        "sgd, momentum (SGD with momentum 0.9), adam, rmsprop, adagrad",
        choices=OPTIMIZERS,
    ),
    "learning_rate": HyperParameter(
        "float", 1e-3, "the optimizer's learning rate", 0.0
    ),
    "batch_size": HyperParameter("int", 32, "samples per update", 1),
    "epochs": HyperParameter("int", 2, "passes over the training data", 1),
}

#: Other spellings people use (seed 002 says "stride", Keras "strides").
ALIASES = {
    "stride": "strides",
    "kernel": "kernel_size",
    "conv_blocks": "blocks",
    "num_blocks": "blocks",
    "units": "dense_units",
    "dense_width": "dense_units",
    "dense": "dense_units",
    "lr": "learning_rate",
    "pool": "pooling",
    "pool_type": "pooling",
    "pooling_size": "pool_size",
    "batch": "batch_size",
}

#: What ``cnnlab tune`` searches when no space is given.
DEFAULT_SPACE = {
    "filters": {"type": "int", "low": 8, "high": 64, "log": True},
    "kernel_size": [3, 5],
    "dense_units": {"type": "int", "low": 32, "high": 256, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "optimizer": ["adam", "rmsprop", "momentum", "sgd", "adagrad"],
    "batch_size": [32, 64, 128],
    "epochs": 2,
}

_TYPES = {
    "int": "int",
    "integer": "int",
    "float": "float",
    "real": "float",
    "categorical": "categorical",
    "choice": "categorical",
    "choices": "categorical",
    "fixed": "fixed",
    "const": "fixed",
}
_KEYS = {
    "int": {"type", "low", "high", "step", "log"},
    "float": {"type", "low", "high", "step", "log"},
    "categorical": {"type", "choices"},
    "fixed": {"type", "value"},
}


@dataclass(frozen=True)
class Dimension:
    """One hyper-parameter of the space: ``kind`` is ``int``, ``float``, ``categorical`` or ``fixed``."""

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple = ()
    value: object = None

    @property
    def searched(self):
        return self.kind != "fixed"

    def candidates(self):
        """The values the geometry check must consider (the ends of a range)."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "categorical":
            return list(self.choices)
        return [self.low, self.high]

    def suggest(self, trial):
        if self.kind == "fixed":
            return self.value
        if self.kind == "int":
            return trial.suggest_int(
                self.name,
                int(self.low),
                int(self.high),
                step=int(self.step or 1),
                log=self.log,
            )
        if self.kind == "float":
            return trial.suggest_float(
                self.name, self.low, self.high, step=self.step, log=self.log
            )
        return trial.suggest_categorical(self.name, list(self.choices))

    def to_dict(self):
        if self.kind == "fixed":
            return {"type": "fixed", "value": self.value}
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out = {"type": self.kind, "low": self.low, "high": self.high}
        if self.step is not None:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out

    def describe(self):
        if self.kind == "fixed":
            return repr(self.value)
        if self.kind == "categorical":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        text = f"{self.kind} [{self.low:g}, {self.high:g}]"
        if self.step is not None:
            text += f" step {self.step:g}"
        return text + (" log" if self.log else "")


class SearchSpace:
    """Every hyper-parameter of :data:`HYPERPARAMETERS`, each fixed or searched."""

    def __init__(self, dimensions):
        self.dimensions = dict(dimensions)

    # ---- reading ------------------------------------------------------
    @classmethod
    def from_dict(cls, space, where="search space"):
        return parse(space, where)

    def to_dict(self):
        """The space as a plain dict (JSON-able); parsing it again gives the same space."""
        return {name: dim.to_dict() for name, dim in self.dimensions.items()}

    @property
    def searched(self):
        """Names of the hyper-parameters Optuna varies."""
        return [name for name, dim in self.dimensions.items() if dim.searched]

    def __eq__(self, other):
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return (
            "SearchSpace("
            + ", ".join(
                f"{n}={d.describe()}" for n, d in self.dimensions.items() if d.searched
            )
            + ")"
        )

    # ---- sampling -----------------------------------------------------
    def suggest(self, trial):
        """All hyper-parameters for one trial (searched ones asked of Optuna's ``trial``)."""
        values = {}
        for name, dim in self.dimensions.items():
            if name == "pool_size" and values.get("pooling") == "none":
                values[name] = None  # no pooling layer: nothing to choose
                continue
            values[name] = dim.suggest(trial)
        return values

    def values_from_params(self, params):
        """All hyper-parameters for the trial whose Optuna ``params`` are given."""
        values = {}
        for name, dim in self.dimensions.items():
            if name in params:
                values[name] = params[name]
            elif dim.kind == "fixed":
                values[name] = dim.value
            else:
                values[name] = None
        return values

    # ---- the architecture ---------------------------------------------
    def check_architecture(self, input_shape):
        """Raise :class:`SpaceError` naming the parameter if some point of the space gives a
        spatial size of zero (an image of ``input_shape`` = ``(H, W, C)`` shrunk too far).

        The size only shrinks as the kernel, stride, pool size and number of blocks grow and
        with ``valid`` rather than ``same`` padding, so the smallest output comes from the
        largest of each; that one corner is walked through ``cnnlab.ops.shapes``."""
        spatial = tuple(int(s) for s in input_shape[:-1])
        if len(spatial) != 2:
            raise SpaceError(
                f"search space: the tuned model is a 2-D CNN and needs images of shape (height, "
                f"width, channels). Received: input shape {tuple(input_shape)}"
            )
        dims = self.dimensions
        worst = {
            "blocks": max(int(v) for v in dims["blocks"].candidates()),
            "kernel_size": max(int(v) for v in dims["kernel_size"].candidates()),
            "strides": max(int(v) for v in dims["strides"].candidates()),
            "pool_size": max(int(v) for v in dims["pool_size"].candidates()),
            "padding": "valid" if "valid" in dims["padding"].candidates() else "same",
            "pooling": any(v != "none" for v in dims["pooling"].candidates()),
        }
        failure = _walk(spatial, worst)
        if failure is not None:
            same_fixes = (
                worst["padding"] == "valid"
                and _walk(spatial, {**worst, "padding": "same"}) is None
            )
            raise SpaceError(self._zero_size_message(*failure, worst, same_fixes))

    def _zero_size_message(self, block, stage, arithmetic, path, worst, same_fixes):
        dims = self.dimensions
        culprits = ["kernel_size"] if stage == "conv" else ["pool_size"]
        if block > 0:
            culprits.append("blocks")
        if worst["strides"] > 1:
            culprits.append("strides")
        names = (
            ", ".join(f"'{n}'" for n in culprits[:-1])
            + (" or " if len(culprits) > 1 else "")
            + f"'{culprits[-1]}'"
        )
        layer = "Conv2D" if stage == "conv" else "pooling"
        same = " (or use padding 'same' only)" if same_fixes else ""
        received = ", ".join(f"{n}={dims[n].describe()}" for n in culprits)
        return (
            f"search space: the spatial size reaches zero in block {block + 1}'s {layer} at the space's "
            f"largest {names}: {arithmetic} (sizes {' -> '.join(path)} -> 0, with blocks={worst['blocks']}, "
            f"kernel_size={worst['kernel_size']}, strides={worst['strides']}, padding='{worst['padding']}', "
            f"pool_size={worst['pool_size']}). Lower the largest {names}{same}. Received: {received}"
        )


def _walk(spatial, worst):
    """Walk the image size through the blocks of ``worst`` with ``cnnlab.ops.shapes``;
    ``None`` when it stays positive, else ``(block, stage, arithmetic, sizes so far)``."""
    sizes = list(spatial)
    path = ["x".join(map(str, sizes))]
    for block in range(worst["blocks"]):
        stages = [("conv", worst["kernel_size"], worst["strides"], worst["padding"])]
        if worst["pooling"]:
            stages.append(("pool", worst["pool_size"], worst["pool_size"], "valid"))
        for stage, k, s, padding in stages:
            pads = shapes.resolve_padding(sizes, (k,) * 2, (s,) * 2, (1,) * 2, padding)
            new = [shapes.output_size(i, k, s, 1, *p) for i, p in zip(sizes, pads)]
            if min(new) < 1:
                axis = new.index(min(new))
                return (
                    block,
                    stage,
                    shapes.size_arithmetic(sizes[axis], k, s, 1, *pads[axis]),
                    path,
                )
            sizes = new
            path.append("x".join(map(str, sizes)))
    return None


# --------------------------------------------------------------------------- parsing


def load_space(path):
    """A :class:`SearchSpace` from a ``.json`` or ``.yaml``/``.yml`` file."""
    space = read_json_or_yaml(path, "search-space", SpaceError)
    return parse(space, f"search space {path}")


def parse(space, where="search space"):
    """Check ``space`` (a dict, or an existing :class:`SearchSpace`) and return a :class:`SearchSpace`."""
    if isinstance(space, SearchSpace):
        return space
    if space is None:
        space = {}
    if not isinstance(space, dict):
        raise SpaceError(
            f"{where}: a search space maps hyper-parameter names to values, ranges or choices. "
            f"Received: {type(space).__name__}"
        )
    dims = {}
    for raw_name, entry in space.items():
        name = ALIASES.get(raw_name, raw_name)
        if name not in HYPERPARAMETERS:
            close = difflib.get_close_matches(
                str(raw_name), list(HYPERPARAMETERS) + list(ALIASES), n=1
            )
            hint = (
                f" Did you mean '{ALIASES.get(close[0], close[0])}'?" if close else ""
            )
            raise SpaceError(
                f"{where}: unknown hyper-parameter '{raw_name}'.{hint} Known: "
                f"{', '.join(HYPERPARAMETERS)}. Received: {raw_name}={entry!r}"
            )
        if name in dims:
            raise SpaceError(
                f"{where}: hyper-parameter '{name}' is given twice (as '{raw_name}' and another "
                f"spelling). Received: {raw_name}={entry!r}"
            )
        dims[name] = _dimension(name, entry, where)
    for name, hp in HYPERPARAMETERS.items():
        dims.setdefault(name, Dimension(name, "fixed", value=hp.default))
    return SearchSpace({name: dims[name] for name in HYPERPARAMETERS})


def _dimension(name, entry, where):
    hp = HYPERPARAMETERS[name]
    label = f"{where}: '{name}'"
    if isinstance(entry, (list, tuple)):
        entry = {"type": "categorical", "choices": list(entry)}
    elif not isinstance(entry, dict):
        entry = {"type": "fixed", "value": entry}
    else:
        entry = copy.deepcopy(entry)
    if "type" not in entry:
        entry["type"] = (
            "categorical"
            if "choices" in entry
            else "fixed"
            if "value" in entry
            else "float"
            if hp.kind == "float"
            else "int"
        )
    kind = _TYPES.get(str(entry["type"]).lower())
    if kind is None:
        raise SpaceError(
            f"{label}: unknown type {entry['type']!r}; use int, float, categorical or fixed. "
            f"Received: {name}={entry!r}"
        )
    unknown = sorted(set(entry) - _KEYS[kind])
    if unknown:
        raise SpaceError(
            f"{label}: unexpected key(s) {unknown} for type {kind} (it takes "
            f"{sorted(_KEYS[kind] - {'type'})}). Received: {name}={entry!r}"
        )
    if kind == "fixed":
        if "value" not in entry:
            raise SpaceError(
                f"{label}: a fixed value needs 'value'. Received: {name}={entry!r}"
            )
        return Dimension(name, "fixed", value=_check_value(name, entry["value"], label))
    if kind == "categorical":
        choices = entry.get("choices")
        if not isinstance(choices, (list, tuple)) or not choices:
            raise SpaceError(
                f"{label}: empty choice: 'choices' must be a non-empty list. "
                f"Received: {name}={entry!r}"
            )
        choices = tuple(_check_value(name, c, label) for c in choices)
        if len(set(choices)) != len(choices):
            raise SpaceError(
                f"{label}: a choice is listed twice. Received: {name}={entry!r}"
            )
        if len(choices) == 1:
            return Dimension(name, "fixed", value=choices[0])
        return Dimension(name, "categorical", choices=choices)
    # a range
    if hp.kind == "choice":
        raise SpaceError(
            f"{label} is chosen from {list(hp.choices)}, not a numeric range: use "
            f'{{"type": "categorical", "choices": [...]}}. Received: {name}={entry!r}'
        )
    if hp.kind == "int" and kind == "float":
        raise SpaceError(
            f"{label} is an integer hyper-parameter: use type int. Received: {name}={entry!r}"
        )
    if hp.kind == "float" and kind == "int":
        raise SpaceError(
            f"{label} is a real-valued hyper-parameter: use type float. Received: {name}={entry!r}"
        )
    for key in ("low", "high"):
        if key not in entry:
            raise SpaceError(
                f"{label}: a range needs 'low' and 'high'. Received: {name}={entry!r}"
            )
        value = entry[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
        ):
            raise SpaceError(
                f"{label}: '{key}' must be a finite number. Received: {name}={entry!r}"
            )
        if kind == "int" and value != int(value):
            raise SpaceError(
                f"{label}: '{key}' of an int range must be an integer. Received: {name}={entry!r}"
            )
    low, high = entry["low"], entry["high"]
    if low > high:
        raise SpaceError(
            f"{label}: empty range: low ({low}) is above high ({high}). Received: {name}={entry!r}"
        )
    log = entry.get("log", False)
    if not isinstance(log, bool):
        raise SpaceError(
            f"{label}: 'log' must be true or false. Received: {name}={entry!r}"
        )
    step = entry.get("step")
    if step is not None:
        if (
            isinstance(step, bool)
            or not isinstance(step, numbers.Real)
            or not step > 0
            or (kind == "int" and step != int(step))
        ):
            raise SpaceError(
                f"{label}: 'step' must be a positive {'integer' if kind == 'int' else 'number'}. "
                f"Received: {name}={entry!r}"
            )
        if log and step != 1:
            raise SpaceError(
                f"{label}: a log range cannot have a step (Optuna samples it continuously). "
                f"Received: {name}={entry!r}"
            )
        if kind == "int" and step == 1:
            step = None
    if log and low <= 0:
        raise SpaceError(
            f"{label}: a log range needs low > 0. Received: {name}={entry!r}"
        )
    _check_value(name, low, label)
    _check_value(name, high, label)
    if kind == "int":
        low, high = int(low), int(high)
        step = None if step is None else int(step)
    else:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    if low == high:
        return Dimension(name, "fixed", value=low)
    return Dimension(name, kind, low=low, high=high, step=step, log=log)


def _check_value(name, value, label):
    """``value`` (a fixed value, a choice or a range end) must be allowed for ``name``."""
    hp = HYPERPARAMETERS[name]
    if hp.kind == "choice":
        if not isinstance(value, str) or value.lower() not in hp.choices:
            raise SpaceError(
                f"{label}: {value!r} is not allowed; choose from {list(hp.choices)}. "
                f"Received: {name}={value!r}"
            )
        return value.lower()
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
    ):
        raise SpaceError(f"{label} must be a finite number. Received: {name}={value!r}")
    if hp.kind == "int":
        if value != int(value):
            raise SpaceError(f"{label} must be an integer. Received: {name}={value!r}")
        value = int(value)
    else:
        value = float(value)
    if hp.minimum is not None and (
        value < hp.minimum or (name == "learning_rate" and value <= 0)
    ):
        bound = "> 0" if name == "learning_rate" else f">= {hp.minimum:g}"
        raise SpaceError(f"{label} must be {bound}. Received: {name}={value!r}")
    if hp.maximum is not None and (
        value >= hp.maximum if hp.below_maximum else value > hp.maximum
    ):
        bound = f"< {hp.maximum:g}" if hp.below_maximum else f"<= {hp.maximum:g}"
        raise SpaceError(f"{label} must be {bound}. Received: {name}={value!r}")
    return value


def describe_hyperparameters():
    """A text table of every hyper-parameter, its default and what it accepts."""
    rows = []
    for name, hp in HYPERPARAMETERS.items():
        accepts = "{" + ", ".join(hp.choices) + "}" if hp.kind == "choice" else hp.kind
        rows.append((name, repr(hp.default), accepts, hp.help))
    widths = [
        max(len(r[i]) for r in rows + [("name", "default", "accepts", "")])
        for i in range(3)
    ]
    lines = [
        f"{'name':<{widths[0]}}  {'default':<{widths[1]}}  {'accepts':<{widths[2]}}  meaning"
    ]
    for r in rows:
        lines.append(
            f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}"
        )
    return "\n".join(lines)
