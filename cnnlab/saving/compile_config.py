"""``compile_config``: what ``compile()`` was given, written and read the way Keras 3 does.

Keras writes ``{"optimizer": <serialized optimizer>, "loss": <name or object>,
"loss_weights", "metrics", "weighted_metrics", "run_eagerly", "steps_per_execution",
"jit_compile"}``. On loading, a model is compiled again only from names cnnlab knows
(its own tables: nothing named in the file is imported); anything else leaves the
model uncompiled with a warning naming it, as Keras does when it cannot compile.
"""

from __future__ import annotations

import warnings

from ..model import losses as losses_mod
from ..model import metrics as metrics_mod
from ..model import optimizers as optimizers_mod
from ..model import schedules as schedules_mod
from ..registry import find
from .naming import to_snake_case

#: BaseOptimizer.get_config()'s keys and defaults (keras/src/optimizers/base_optimizer.py).
KERAS_OPTIMIZER_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}
_KNOWN_KEYS = {
    "optimizer",
    "loss",
    "loss_weights",
    "metrics",
    "weighted_metrics",
    "run_eagerly",
    "steps_per_execution",
    "jit_compile",
    "auto_scale_loss",
}


# ---- writing --------------------------------------------------------------
def serialize_optimizer(optimizer):
    config = dict(
        optimizer.get_config()
    )  # (a schedule is already serialized in it, as Keras writes it)
    config = {
        "name": config.pop("name"),
        "learning_rate": config.pop("learning_rate"),
        **KERAS_OPTIMIZER_DEFAULTS,
        **config,
    }
    return {
        "module": "keras.optimizers",
        "class_name": type(optimizer).__name__,
        "config": config,
        "registered_name": None,
    }


def serialize_loss(loss):
    """A loss with its default settings is written by name, as ``compile(loss="...")`` leaves it."""
    if loss is None:
        return None
    try:
        default = type(loss)()
    except TypeError:
        default = None
    if default is not None and default.get_config() == loss.get_config():
        return loss.name
    return {
        "module": "keras.losses",
        "class_name": type(loss).__name__,
        "config": loss.get_config(),
        "registered_name": None,
    }


def serialize(model):
    specs = [
        m if isinstance(m, str) else m.name
        for m in getattr(model, "_metric_specs", None) or []
    ]
    weighted = [
        m if isinstance(m, str) else m.name
        for m in getattr(model, "_weighted_metric_specs", None) or []
    ]
    return {
        "optimizer": serialize_optimizer(model.optimizer),
        "loss": serialize_loss(model.loss),
        "loss_weights": None,
        "metrics": specs or None,
        "weighted_metrics": weighted or None,
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


# ---- reading --------------------------------------------------------------
class _Unsupported(Exception):
    pass


def _off(value):
    return value is None or value is False or value == [] or value == {}


def _keras_module(obj, what):
    module = obj.get("module")
    if module is not None and not (
        isinstance(module, str) and module.split(".")[0] == "keras"
    ):
        raise _Unsupported(
            f"{what} from module {module!r} (cnnlab reads only Keras's built-in classes)"
        )


def _optimizer(spec):
    if isinstance(spec, str):
        return optimizers_mod.get(spec)
    if not isinstance(spec, dict):
        raise _Unsupported(f"optimizer {spec!r}")
    _keras_module(spec, "optimizer")
    class_name = spec.get("class_name")
    config = dict(spec.get("config") or {})
    lr = config.get("learning_rate", 0.001)
    if isinstance(lr, dict):
        try:
            config["learning_rate"] = schedules_mod.deserialize(lr)
        except ValueError as e:
            raise _Unsupported(
                f"optimizer {class_name}: learning_rate={str(lr)[:200]} ({e})"
            ) from None
    elif not isinstance(lr, (int, float)) or isinstance(lr, bool):
        raise _Unsupported(f"optimizer {class_name}: learning_rate={lr!r}")
    config.pop("is_legacy_optimizer", None)
    # Keras's base options (weight_decay, clipping, EMA, accumulation) go to the constructor, which checks them.
    return optimizers_mod.get({"class_name": class_name, "config": config})


def _loss(spec):
    if spec is None or isinstance(spec, str):
        return None if spec is None else losses_mod.get(spec)
    if not isinstance(spec, dict):
        raise _Unsupported(f"loss {spec!r}")
    _keras_module(spec, "loss")
    if spec.get("class_name") == "function" and isinstance(spec.get("config"), str):
        return losses_mod.get(spec["config"])
    config = dict(spec.get("config") or {})
    dtype = config.pop("dtype", None)
    if dtype not in (None, "float32") and not (
        isinstance(dtype, dict) and (dtype.get("config") or {}).get("name") == "float32"
    ):
        raise _Unsupported(f"loss {spec.get('class_name')}: dtype={dtype!r}")
    return losses_mod.get({"class_name": spec.get("class_name"), "config": config})


def _metric_name(spec):
    if isinstance(spec, dict):
        _keras_module(spec, "metric")
        if spec.get("class_name") == "function" and isinstance(spec.get("config"), str):
            spec = spec["config"]
        elif isinstance(spec.get("class_name"), str):
            spec = to_snake_case(
                spec["class_name"]
            )  # SparseCategoricalAccuracy -> sparse_categorical_accuracy
    if isinstance(spec, str) and (
        spec.lower() in ("accuracy", "acc") or find("metric", spec, metrics_mod.NAMES)
    ):
        return spec
    raise _Unsupported(f"metric {spec!r}")


def restore(model, config):
    """Compile ``model`` from a Keras ``compile_config``; warn and leave it uncompiled if cnnlab cannot."""
    if not isinstance(config, dict):
        warnings.warn(
            f"compile() was not restored: compile_config is not an object. Received: {config!r}",
            stacklevel=3,
        )
        return False
    try:
        for key, value in config.items():
            if key not in _KNOWN_KEYS and not _off(value):
                raise _Unsupported(f"compile option {key}={value!r}")
        for key in ("loss_weights",):
            if not _off(config.get(key)):
                raise _Unsupported(f"{key}={config[key]!r}")
        if config.get("steps_per_execution", 1) not in (1, None):
            raise _Unsupported(f"steps_per_execution={config['steps_per_execution']!r}")
        optimizer = _optimizer(config.get("optimizer", "rmsprop"))
        loss = _loss(config.get("loss"))
    except (_Unsupported, ValueError, TypeError) as e:
        warnings.warn(
            f"compile() was not restored while loading model '{model.name}': cnnlab does not support "
            f"{e}. The model is loaded uncompiled; call compile() yourself.",
            stacklevel=3,
        )
        return False
    lists = {}
    for key in ("metrics", "weighted_metrics"):
        names = []
        raw = config.get(key) or []
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
            raw = raw[0]  # one list per output; a Sequential has one output
        for spec in raw if isinstance(raw, list) else [raw]:
            try:
                names.append(_metric_name(spec))
            except _Unsupported as e:
                warnings.warn(
                    f"Loading model '{model.name}': cnnlab does not support {e}; it was left out of "
                    f"compile().",
                    stacklevel=3,
                )
        lists[key] = names or None
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=lists["metrics"],
        weighted_metrics=lists["weighted_metrics"],
    )
    return True
