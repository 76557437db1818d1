"""The training state that ``BackupAndRestore`` keeps: one safetensors file, written atomically.

Everything a run needs to continue bit for bit lives in ONE file, so a kill at any
moment leaves either the previous complete state or the new one (``atomic``), never
weights from one step beside a position from another (Keras keeps two files,
``latest.weights.h5`` and ``training_metadata.json``, and can be caught between them).

``<backup_dir>/backup.safetensors``:

* tensors ``weights/<layer>/<weight>``: every weight of the model;
* tensors ``optimizer/<slot>/<i>``: the optimizer's slots (Adam's ``momentum`` and
  ``velocity``...) per trainable weight;
* tensor ``order``: the shuffled order of the current epoch (mid-epoch backups only),
  so that a resumed run visits the rest of the epoch's samples in the same order;
* ``__metadata__``: ``format = "cnnlab-backup"``, ``version = "1"`` and ``state``, a JSON
  object: the position (``epoch``, ``step``, ``steps``, ``samples``), the running loss
  and metric sums of the epoch so far, the optimizer's class, ``iterations`` and
  learning rate, and the state of every random generator cnnlab draws from in
  training (the library-wide one, which shuffles and seeds the per-thread dropout
  streams, and each ``Dropout`` layer's own).

Reading trusts nothing: the file is parsed by ``safetensors_io.SafetensorsFile``
(bounded, validated header), every tensor is checked against the model before any
is used, and the JSON state is checked field by field. No pickle anywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .. import random as cnn_random
from ..atomic import atomic_write_bytes
from ..errors import CnnlabError
from .architecture import check_array, leaves
from .optional import require_safetensors
from .safetensors_io import SafetensorsFile

FORMAT = "cnnlab-backup"
VERSION = "1"
FILENAME = "backup.safetensors"
#: The previous backup, kept when ``double_checkpoint=True``.
PREVIOUS = "backup.previous.safetensors"


@dataclass
class ResumePoint:
    """Where ``fit`` continues: ``epoch`` (0-based) and, mid-epoch, the next ``step``, the
    epoch's ``order`` and the running sums (``loss_sum`` over ``seen`` samples, and
    ``(total, count)`` per metric)."""

    epoch: int
    step: int = 0
    order: np.ndarray | None = None
    steps: int | None = None
    loss_sum: object = 0.0
    seen: int = 0
    metrics: list = field(default_factory=list)
    output_loss_sums: list = field(
        default_factory=list
    )  # per output, for models with several

    def continue_epoch(self, n_samples, steps, metrics):
        """For ``fit``: check that the data and batch size are those of the interrupted run,
        put the metric sums back, and return ``(order, first step, loss_sum, seen, logs)``."""
        if len(self.order) != n_samples or self.steps != steps:
            raise CnnlabError(
                f"BackupAndRestore: the backup was taken in the middle of an epoch of {len(self.order)} samples "
                f"in {self.steps} batches, but this fit() has {n_samples} samples in {steps} batches. Resume "
                f"with the same data and batch_size, or delete the backup directory to start over. "
                f"Received: samples={n_samples}, steps={steps}"
            )
        if [m.name for m in metrics] != [name for name, _, _ in self.metrics]:
            raise CnnlabError(
                f"BackupAndRestore: the backup tracked the metrics {[n for n, _, _ in self.metrics]}, this fit() "
                f"tracks {[m.name for m in metrics]}. Compile the model as in the interrupted run. "
                f"Received: metrics={[m.name for m in metrics]}"
            )
        for m, (_, total, count) in zip(metrics, self.metrics):
            m.total, m.count = total, count
        logs = {}
        if self.seen:
            logs = {
                "loss": self.loss_sum / self.seen,
                **{m.name: m.result() for m in metrics},
            }
        return self.order, self.step, self.loss_sum, self.seen, logs


# ---- encoding helpers -----------------------------------------------------------
def _encode_number(value):
    """A float or NumPy scalar, exactly: its dtype (``"float"`` for Python's) and ``float.hex``."""
    kind = (
        "float"
        if isinstance(value, float) and not isinstance(value, np.floating)
        else np.asarray(value).dtype.name
    )
    return [kind, float(value).hex()]


def _decode_number(item, where):
    if (
        not isinstance(item, list)
        or len(item) != 2
        or not all(isinstance(v, str) for v in item)
        or item[0] not in ("float", "float32", "float64")
    ):
        raise CnnlabError(
            f"{where}: expected [dtype, hex float]. Received: {str(item)[:100]}"
        )
    try:
        value = float.fromhex(item[1])
    except (ValueError, OverflowError):
        raise CnnlabError(
            f"{where}: not a hexadecimal float. Received: {item[1][:100]!r}"
        ) from None
    return value if item[0] == "float" else np.dtype(item[0]).type(value)


def _rng_layers(model):
    """The layers that own a random generator (Dropout), by name path (models used as layers too)."""
    return {
        path: layer.rng
        for _, path, layer in leaves(model)
        if isinstance(getattr(layer, "rng", None), np.random.Generator)
    }


# ---- writing ----------------------------------------------------------------------
def write(path, model, point: ResumePoint, extra=None):
    """Write the model's training state and ``point`` to ``path`` atomically."""
    st_numpy = require_safetensors()
    tensors = {}
    for _, layer_path, layer in leaves(model):
        for name, w in zip(layer.weight_names, layer.weights):
            tensors[f"weights/{layer_path}/{name}"] = np.ascontiguousarray(w)
    optimizer = model.optimizer
    opt_state = None
    if optimizer is not None:
        opt_state = {
            "class_name": type(optimizer).__name__,
            "iterations": int(optimizer._iterations),
            "learning_rate": float(optimizer.learning_rate).hex(),
            "built": bool(optimizer.built),
            "slot_names": list(optimizer.slot_names),
        }
        if optimizer.built:
            for slot_name, slot in zip(
                optimizer.slot_names, optimizer.get_state()["slots"]
            ):
                for i, value in enumerate(slot):
                    tensors[f"optimizer/{slot_name}/{i}"] = np.ascontiguousarray(value)
    if point.order is not None:
        tensors["order"] = np.ascontiguousarray(point.order, dtype=np.int64)
    state = {
        "epoch": int(point.epoch),
        "step": int(point.step),
        "steps": None if point.steps is None else int(point.steps),
        "samples": None if point.order is None else int(len(point.order)),
        "loss_sum": _encode_number(point.loss_sum),
        "seen": int(point.seen),
        "metrics": [
            [name, float(total).hex(), int(count)]
            for name, total, count in point.metrics
        ],
        "output_loss_sums": [
            None if v is None else _encode_number(v) for v in point.output_loss_sums
        ],
        "optimizer": opt_state,
        "rng": {
            "global": cnn_random.get_state(),
            "layers": {
                name: rng.bit_generator.state
                for name, rng in _rng_layers(model).items()
            },
        },
        "extra": extra or {},
    }
    metadata = {"format": FORMAT, "version": VERSION, "state": json.dumps(state)}
    atomic_write_bytes(path, st_numpy.save(tensors, metadata=metadata))


# ---- reading ----------------------------------------------------------------------
class _Reader:
    def __init__(self, path):
        self.path = os.fspath(path)

    def fail(self, what):
        raise CnnlabError(
            f"BackupAndRestore: {self.path} is not a usable backup: {what}. Delete it (or the "
            f"backup directory) to start training over."
        )

    def field(self, obj, key, types, where="state"):
        if not isinstance(obj, dict) or key not in obj:
            self.fail(f"{where} has no {key!r}")
        value = obj[key]
        if not isinstance(value, types) or (
            isinstance(value, bool) and types is not bool
        ):
            self.fail(f"{where}[{key!r}] has the wrong type ({type(value).__name__})")
        return value

    def count(self, obj, key, where="state"):
        value = self.field(obj, key, int, where)
        if value < 0:
            self.fail(f"{where}[{key!r}] is negative ({value})")
        return value


def _set_rng(rng, state, what, reader):
    if (
        not isinstance(state, dict)
        or state.get("bit_generator") != type(rng.bit_generator).__name__
    ):
        reader.fail(
            f"the random generator state of {what} is not a {type(rng.bit_generator).__name__} state"
        )
    try:
        rng.bit_generator.state = state
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        reader.fail(f"the random generator state of {what} is invalid ({e})")


def read(path, model):
    """Check the backup at ``path`` against ``model``; return ``(apply, point, extra)``: ``apply()``
    copies the state into the model, optimizer and random generators (nothing is changed before)."""
    reader = _Reader(path)
    with SafetensorsFile(path) as st:
        meta = st.metadata
        if meta.get("format") != FORMAT:
            reader.fail(
                f"its metadata says format {str(meta.get('format'))[:50]!r}, not {FORMAT!r}"
            )
        if meta.get("version") != VERSION:
            reader.fail(
                f"version {str(meta.get('version'))[:20]!r}; this cnnlab reads version {VERSION}"
            )
        try:
            state = json.loads(meta.get("state", ""))
        except (ValueError, RecursionError) as e:
            reader.fail(f"the state is not JSON ({e})")
        if not isinstance(state, dict):
            reader.fail("the state is not a JSON object")

        # Weights: every one the model has, nothing else, each checked before any is read.
        wanted = []
        for _, layer_path, layer in leaves(model):
            arrays = []
            for name, w in zip(layer.weight_names, layer.weights):
                key = f"weights/{layer_path}/{name}"
                if key not in st.entries:
                    reader.fail(
                        f"no tensor {key!r} for layer '{layer.name}' ({type(layer).__name__}); it was "
                        f"written for another model"
                    )
                entry = st.entries[key]
                check_array(
                    layer,
                    name,
                    f"{reader.path}: {key}",
                    entry.shape,
                    entry.dtype,
                    w.shape,
                    w.dtype,
                )
                arrays.append(key)
            wanted.append(arrays)

        # Optimizer.
        optimizer = model.optimizer
        opt = state.get("optimizer")
        slots = None
        if opt is not None:
            if optimizer is None:
                reader.fail("it holds an optimizer state but the model is not compiled")
            class_name = reader.field(opt, "class_name", str, "optimizer")
            if class_name != type(optimizer).__name__:
                reader.fail(
                    f"it was written with optimizer {class_name[:50]}, the model is compiled with "
                    f"{type(optimizer).__name__}"
                )
            slot_names = reader.field(opt, "slot_names", list, "optimizer")
            if slot_names != list(optimizer.slot_names):
                reader.fail(
                    f"its optimizer slots are {str(slot_names)[:100]}, the model's optimizer has "
                    f"{list(optimizer.slot_names)} (another configuration)"
                )
            iterations = reader.count(opt, "iterations", "optimizer")
            learning_rate = _decode_number(
                ["float", reader.field(opt, "learning_rate", str, "optimizer")],
                f"{reader.path}: optimizer learning_rate",
            )
            built = reader.field(opt, "built", bool, "optimizer")
            params = model.trainable_weights
            if built:
                slots = []
                for slot_name in slot_names:
                    keys = []
                    for i, p in enumerate(params):
                        key = f"optimizer/{slot_name}/{i}"
                        if key not in st.entries:
                            reader.fail(f"no tensor {key!r}")
                        entry = st.entries[key]
                        if (
                            entry.shape != p.shape
                            or entry.dtype.newbyteorder("=") != p.dtype
                        ):
                            reader.fail(
                                f"tensor {key!r} has shape {entry.shape} and dtype {entry.dtype}, the optimizer "
                                f"needs {p.shape} {p.dtype}"
                            )
                        keys.append(key)
                    slots.append(keys)

        # Position.
        epoch, step, seen = (
            reader.count(state, "epoch"),
            reader.count(state, "step"),
            reader.count(state, "seen"),
        )
        steps = state.get("steps")
        order_key = "order" if "order" in st.entries else None
        expected = {key for keys in wanted for key in keys} | {
            k for keys in slots or [] for k in keys
        }
        expected |= {order_key} if order_key else set()
        extra_tensors = sorted(set(st.entries) - expected)
        if extra_tensors:
            reader.fail(f"it has tensors this model does not: {extra_tensors[:5]}")
        order = None
        if order_key:
            entry = st.entries["order"]
            if len(entry.shape) != 1 or entry.dtype.kind != "i":
                reader.fail(
                    f"the shuffle order has shape {entry.shape} and dtype {entry.dtype}"
                )
            order = st.read("order").astype(np.int64)
            if not np.array_equal(np.sort(order), np.arange(len(order))):
                reader.fail("the shuffle order is not a permutation of the samples")
            if (
                not isinstance(steps, int)
                or isinstance(steps, bool)
                or not 0 < step <= steps
            ):
                reader.fail(
                    f"step {step} of {steps!r} is not a position inside an epoch"
                )
            if seen > len(order):
                reader.fail(f"{seen} samples seen of {len(order)}")
        loss_sum = _decode_number(state.get("loss_sum"), f"{reader.path}: loss_sum")
        metrics = []
        for item in reader.field(state, "metrics", list):
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not isinstance(item[0], str)
                or not isinstance(item[1], str)
                or not isinstance(item[2], int)
                or item[2] < 0
            ):
                reader.fail(f"a metric entry is malformed: {str(item)[:100]}")
            metrics.append(
                (
                    item[0],
                    _decode_number(["float", item[1]], f"{reader.path}: metric"),
                    item[2],
                )
            )
        output_sums = state.get("output_loss_sums") or []
        if not isinstance(output_sums, list) or len(output_sums) > 10_000:
            reader.fail("output_loss_sums is not a list")
        output_sums = [
            None if v is None else _decode_number(v, f"{reader.path}: output_loss_sums")
            for v in output_sums
        ]
        rng = reader.field(state, "rng", dict)
        layer_rngs = _rng_layers(model)
        rng_layers = reader.field(rng, "layers", dict, "rng")
        if set(rng_layers) != set(layer_rngs):
            reader.fail(
                f"it has random generators for layers {sorted(rng_layers)[:10]}, the model for "
                f"{sorted(layer_rngs)}"
            )
        extra = state.get("extra") if isinstance(state.get("extra"), dict) else {}

        # Everything checked: read the arrays.
        weights = [[st.read(key) for key in keys] for keys in wanted]
        slot_values = (
            None
            if slots is None
            else [[st.read(key) for key in keys] for keys in slots]
        )

    # Random generator states are checked by setting them on throw-away generators first.
    for what, target, value in [
        ("the library", cnn_random.generator(), rng.get("global"))
    ] + [
        (f"layer '{name}'", layer_rngs[name], rng_layers[name]) for name in layer_rngs
    ]:
        _set_rng(np.random.Generator(type(target.bit_generator)()), value, what, reader)

    def apply():
        for (_, _, layer), arrays in zip(leaves(model), weights):
            if arrays:
                layer.set_weights(arrays)
        if opt is not None:
            if (
                optimizer.learning_rate_is_variable
            ):  # (a schedule computes its own from iterations)
                optimizer.learning_rate = learning_rate
            if slot_values is not None:
                optimizer.set_state({"iterations": iterations, "slots": slot_values})
            else:
                optimizer.built = False
                optimizer.iterations = iterations
        cnn_random.set_state(rng["global"])
        for name, value in rng_layers.items():
            layer_rngs[name].bit_generator.state = value

    point = ResumePoint(
        epoch=epoch,
        step=step if order is not None else 0,
        order=order,
        steps=steps if order is not None else None,
        loss_sum=loss_sum if order is not None else 0.0,
        seen=seen if order is not None else 0,
        metrics=metrics if order is not None else [],
        output_loss_sums=output_sums if order is not None else [],
    )
    return apply, point, extra


def finite_state(model):
    """True when every weight is finite (a backup is never taken of poisoned weights)."""
    return all(np.isfinite(w).all() for w in model.weights)


__all__ = ["ResumePoint", "write", "read", "finite_state", "FILENAME", "PREVIOUS"]
