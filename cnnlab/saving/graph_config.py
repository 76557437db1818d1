"""A functional model's Keras 3 config, checked as a graph before anything is built.

Keras 3 writes a functional model (``class_name`` ``Functional`` or ``Model``) as::

    {"name", "trainable",
     "layers": [{"class_name", "config", "name": <layer name>,
                 "inbound_nodes": [{"args": [<tensor> | [<tensor>, ...]], "kwargs": {}}, ...]}, ...],
     "input_layers":  [name, node_index, tensor_index]  (or a list / dict of them),
     "output_layers": [name, node_index, tensor_index]  (or a list / dict of them)}

with ``<tensor> = {"class_name": "__keras_tensor__", "config": {"shape", "dtype",
"keras_history": [layer name, node_index, tensor_index]}}``: the ``node_index``-th call of
that layer (counted within this model), its ``tensor_index``-th output. Keras 2's form of a
node, ``[[name, node_index, tensor_index, kwargs], ...]``, is read too (legacy ``.h5`` files).

``parse`` checks everything a file can get wrong and returns a :class:`GraphPlan` whose
calls are in an order that can run (each after the calls that feed it), or raises a
clear error: a layer or tensor that does not exist, a node or tensor index out of range,
a cycle, inputs that are not InputLayers, outputs that depend on something that is not
an input, sizes past ``limits`` (layers, nodes, nesting). Every walk is a loop with an
explicit worklist, so a config thousands of nodes deep cannot hit Python's recursion
limit; nested models are checked one after another from a stack, at most
``limits.MAX_MODEL_NESTING`` deep, before the outer model builds anything.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ..errors import CnnlabError
from . import limits

FUNCTIONAL = ("Functional", "Model")
MODEL_CLASSES = FUNCTIONAL + ("Sequential",)
_KEY = "__keras_tensor__"
#: Call keywords Keras writes with their "off" value (a nested model's ``mask``).
_OFF_KWARGS = {"mask": None, "training": None}


@dataclass(frozen=True)
class TensorRef:
    """``keras_history``: the ``tensor``-th output of the ``node``-th call of layer ``layer``."""

    layer: str
    node: int
    tensor: int


@dataclass
class Call:
    """One call of a layer in the graph: ``args`` is one TensorRef or a list of them; ``training`` the
    mode fixed at the call (``base(x, training=False)``), or None."""

    layer: str
    node: int
    args: object
    refs: list
    training: bool | None = None


@dataclass
class GraphPlan:
    name: str | None
    trainable: bool
    entries: dict  # layer name -> its config entry, in the file's order
    calls: list  # runnable order
    inputs: object  # TensorRef, or a list / dict of them (the model's structure)
    outputs: object
    input_refs: list = field(default_factory=list)
    output_refs: list = field(default_factory=list)


def is_model_entry(entry):
    return isinstance(entry, dict) and entry.get("class_name") in MODEL_CLASSES


def _fail(where, what, received):
    raise CnnlabError(f"{where}: {what}. Received: {received}")


def _int(value, where, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _fail(
            where, f"{what} must be a non-negative integer", f"{what}={str(value)[:60]}"
        )
    return value


def _ref(value, where):
    """``[name, node_index, tensor_index]`` (Keras 2 adds a kwargs dict) -> TensorRef."""
    if (
        not isinstance(value, (list, tuple))
        or len(value) not in (3, 4)
        or not isinstance(value[0], str)
    ):
        _fail(
            where,
            "a tensor reference must be [layer name, node index, tensor index]",
            str(value)[:120],
        )
    return TensorRef(
        value[0],
        _int(value[1], where, "node index"),
        _int(value[2], where, "tensor index"),
    )


def _tensor(value, where):
    if (
        not isinstance(value, dict)
        or value.get("class_name") != _KEY
        or not isinstance(value.get("config"), dict)
    ):
        _fail(
            where,
            f"a layer's input must be a {_KEY!r} object (a symbolic tensor)",
            str(value)[:120],
        )
    return _ref(value["config"].get("keras_history"), where)


def _node_args(node, where):
    """One inbound node -> ``(args, [TensorRef], training)``: a single tensor or a list of them."""
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        if not node or len(node) > limits.MAX_TENSORS_PER_CALL:
            _fail(
                where,
                f"a Keras 2 node must list 1 to {limits.MAX_TENSORS_PER_CALL} tensors",
                f"{len(node)}",
            )
        refs = [_ref(item, where) for item in node]
        for item in node:
            if len(item) == 4 and item[3] not in ({}, None):
                _fail(
                    where,
                    "cnnlab does not support call arguments in a node",
                    str(item[3])[:120],
                )
        return (refs[0] if len(refs) == 1 else refs), refs, None
    if (
        not isinstance(node, dict)
        or not isinstance(node.get("args"), list)
        or not isinstance(node.get("kwargs", {}), dict)
    ):
        _fail(
            where,
            "an inbound node must be {'args': [...], 'kwargs': {...}}",
            str(node)[:120],
        )
    kwargs = {
        k: v
        for k, v in node.get("kwargs", {}).items()
        if not (k in _OFF_KWARGS and v == _OFF_KWARGS[k])
    }
    training = kwargs.pop("training", None)
    if training is not None and not isinstance(training, bool):
        _fail(
            where,
            "the call argument `training` must be true, false or null",
            f"training={str(training)[:40]}",
        )
    if kwargs:
        _fail(
            where,
            f"cnnlab does not support the call argument(s) {sorted(kwargs)}",
            str(kwargs)[:120],
        )
    args = node["args"]
    if len(args) != 1:
        _fail(
            where,
            "a layer call must have exactly one positional argument (a tensor or a list of them)",
            f"{len(args)} arguments",
        )
    arg = args[0]
    if isinstance(arg, list):
        if not arg or len(arg) > limits.MAX_TENSORS_PER_CALL:
            _fail(
                where,
                f"a list of inputs must hold 1 to {limits.MAX_TENSORS_PER_CALL} tensors",
                f"{len(arg)}",
            )
        refs = [_tensor(t, where) for t in arg]
        return refs, refs, training
    ref = _tensor(arg, where)
    return ref, [ref], training


def _structure(value, where, what):
    """``input_layers`` / ``output_layers`` -> (structure of TensorRefs, flat list)."""
    if isinstance(value, dict):
        if not value or len(value) > limits.MAX_TENSORS_PER_CALL:
            _fail(
                where,
                f"{what} must name 1 to {limits.MAX_TENSORS_PER_CALL} tensors",
                f"{len(value)}",
            )
        refs = {str(k): _ref(v, f"{where}, {what}[{k!r}]") for k, v in value.items()}
        return refs, list(refs.values())
    if isinstance(value, list) and value and isinstance(value[0], str):
        ref = _ref(value, f"{where}, {what}")
        return ref, [ref]
    if (
        not isinstance(value, list)
        or not value
        or len(value) > limits.MAX_TENSORS_PER_CALL
    ):
        _fail(
            where,
            f"{what} must be [name, node, tensor] or a list of them",
            str(value)[:120],
        )
    refs = [_ref(v, f"{where}, {what}[{i}]") for i, v in enumerate(value)]
    return refs, refs


def output_count(entry, where):
    """How many outputs a layer entry's calls give: a nested functional model's output count, else 1."""
    if not is_model_entry(entry) or entry.get("class_name") == "Sequential":
        return 1
    config = entry.get("config")
    if not isinstance(config, dict):
        _fail(where, "a nested model needs a config object", str(config)[:60])
    _, flat = _structure(config.get("output_layers"), where, "output_layers")
    return len(flat)


class Budget:
    """Layers and nodes counted across a model and every model nested in it."""

    def __init__(self):
        self.layers = 0
        self.nodes = 0

    def add(self, layers, nodes, where):
        self.layers += layers
        self.nodes += nodes
        if self.layers > limits.MAX_GRAPH_LAYERS or self.nodes > limits.MAX_GRAPH_NODES:
            _fail(
                where,
                f"the model (with the models nested in it) declares more than {limits.MAX_GRAPH_LAYERS:,} "
                f"layers or {limits.MAX_GRAPH_NODES:,} layer calls, cnnlab's limit for a file",
                f"{self.layers:,} layers, {self.nodes:,} calls",
            )


def parse(config, where, budget=None):
    """Check one functional model's config (not the models nested in it: see ``check_all``)."""
    budget = budget or Budget()
    if not isinstance(config, dict):
        _fail(where, "the model's config must be an object", str(config)[:120])
    unknown = {
        k: v
        for k, v in config.items()
        if k not in ("name", "trainable", "layers", "input_layers", "output_layers")
        and v not in (None, False)
    }
    if unknown:
        _fail(
            where,
            f"unsupported functional model option(s) {sorted(unknown)}",
            str(unknown)[:120],
        )
    name = config.get("name")
    if name is not None and not isinstance(name, str):
        _fail(where, "the model name must be a string", f"name={str(name)[:60]}")
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        _fail(where, "`layers` must be a non-empty list", f"layers={str(layers)[:120]}")
    budget.add(len(layers), 0, where)

    entries, node_counts, out_counts, calls = {}, {}, {}, []
    for position, entry in enumerate(layers):
        at = f"{where}, layer {position}"
        if not isinstance(entry, dict):
            _fail(at, "a layer entry must be an object", str(entry)[:120])
        layer_name = entry.get("name")
        if layer_name is None and isinstance(entry.get("config"), dict):
            layer_name = entry["config"].get("name")
        if not isinstance(layer_name, str) or not layer_name:
            _fail(
                at,
                "every layer of a functional model needs a name",
                f"name={str(layer_name)[:60]}",
            )
        if layer_name in entries:
            _fail(
                at,
                f"the layer name {layer_name!r} is used twice; all layer names in a model must be unique",
                f"name={layer_name!r}",
            )
        at = f"{where}, layer {layer_name!r} ({entry.get('class_name')})"
        nodes = entry.get("inbound_nodes", [])
        if not isinstance(nodes, list) or len(nodes) > limits.MAX_NODES_PER_LAYER:
            _fail(
                at,
                f"inbound_nodes must be a list of at most {limits.MAX_NODES_PER_LAYER} calls",
                str(nodes)[:120],
            )
        entries[layer_name] = entry
        is_input = entry.get("class_name") == "InputLayer"
        if is_input and nodes:
            _fail(
                at,
                "an InputLayer is called by nobody: its inbound_nodes must be empty",
                str(nodes)[:120],
            )
        if not is_input and not nodes:
            _fail(
                at,
                "the layer is never called (no inbound_nodes); a functional model lists only the layers "
                "its graph uses",
                "inbound_nodes=[]",
            )
        node_counts[layer_name] = 1 if is_input else len(nodes)
        out_counts[layer_name] = output_count(entry, at)
        budget.add(0, len(nodes), at)
        for k, node in enumerate(nodes):
            args, refs, training = _node_args(node, f"{at}, inbound node {k}")
            calls.append(Call(layer_name, k, args, refs, training))

    def check_ref(ref, at):
        if ref.layer not in entries:
            _fail(
                at,
                f"the tensor comes from layer {ref.layer!r}, which is not in the model",
                f"keras_history=[{ref.layer!r}, {ref.node}, {ref.tensor}]",
            )
        if ref.node >= node_counts[ref.layer]:
            _fail(
                at,
                f"layer {ref.layer!r} is called {node_counts[ref.layer]} time(s), so node index {ref.node} "
                f"does not exist",
                f"keras_history=[{ref.layer!r}, {ref.node}, {ref.tensor}]",
            )
        if ref.tensor >= out_counts[ref.layer]:
            _fail(
                at,
                f"layer {ref.layer!r} gives {out_counts[ref.layer]} output(s), so tensor index {ref.tensor} "
                f"does not exist",
                f"keras_history=[{ref.layer!r}, {ref.node}, {ref.tensor}]",
            )

    for call in calls:
        for ref in call.refs:
            check_ref(ref, f"{where}, layer {call.layer!r} (call {call.node})")
    inputs, input_refs = _structure(config.get("input_layers"), where, "input_layers")
    outputs, output_refs = _structure(
        config.get("output_layers"), where, "output_layers"
    )
    outputs, output_refs = _model_outputs_shifted(outputs, output_refs, entries, where)
    for ref in input_refs:
        check_ref(ref, f"{where}, input_layers")
        if entries[ref.layer].get("class_name") != "InputLayer":
            _fail(
                where,
                f"every model input must be an InputLayer; {ref.layer!r} is a "
                f"{entries[ref.layer].get('class_name')}",
                f"input_layers={[r.layer for r in input_refs]}",
            )
    if len(set(input_refs)) != len(input_refs):
        _fail(
            where,
            "an input is listed twice",
            f"input_layers={[r.layer for r in input_refs]}",
        )
    for ref in output_refs:
        check_ref(ref, f"{where}, output_layers")

    order = _runnable_order(calls, entries, where)
    _check_connected(calls, entries, input_refs, output_refs, where)
    return GraphPlan(
        name,
        bool(config.get("trainable", True)),
        entries,
        order,
        inputs,
        outputs,
        input_refs,
        output_refs,
    )


def _model_outputs_shifted(structure, refs, entries, where):
    """Keras numbers a nested functional model's calls from 1 in ``output_layers`` (0 stood for the
    model's own node in older Keras) but from 0 in the layers' ``inbound_nodes``; shift to the latter."""

    def shift(ref):
        entry = entries.get(ref.layer)
        if entry is None or entry.get("class_name") not in FUNCTIONAL:
            return ref
        if ref.node == 0:
            _fail(
                where,
                f"output_layers names node 0 of the nested model {ref.layer!r}; Keras numbers a nested "
                f"model's calls from 1 there",
                f"[{ref.layer!r}, 0, {ref.tensor}]",
            )
        return TensorRef(ref.layer, ref.node - 1, ref.tensor)

    if isinstance(structure, dict):
        structure = {k: shift(v) for k, v in structure.items()}
        return structure, list(structure.values())
    if isinstance(structure, list):
        structure = [shift(r) for r in structure]
        return structure, structure
    structure = shift(structure)
    return structure, [structure]


def _runnable_order(calls, entries, where):
    """Kahn's algorithm over the calls (InputLayers are available from the start), the file's order
    among the calls that are ready; a cycle is an error. A shared layer's calls run in their index
    order (call k after call k - 1), so the graph built numbers them as the file does."""
    key = {(c.layer, c.node): c for c in calls}
    position = {(c.layer, c.node): i for i, c in enumerate(calls)}
    waiting, users = {}, {}
    for call in calls:
        needs = {
            (r.layer, r.node)
            for r in call.refs
            if entries[r.layer].get("class_name") != "InputLayer"
        }
        if call.node > 0:
            needs.add((call.layer, call.node - 1))
        waiting[(call.layer, call.node)] = len(needs)
        for need in needs:
            users.setdefault(need, []).append((call.layer, call.node))
    ready = [(position[k], k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(key[k])
        for user in users.get(k, []):
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (position[user], user))
    if len(order) != len(calls):
        stuck = sorted({layer for (layer, _), n in waiting.items() if n > 0})
        _fail(
            where,
            f"the graph has a cycle: layers {stuck[:10]} wait on each other's outputs (a layer's input "
            f"must come from an Input or an earlier layer)",
            f"layers in the cycle={stuck[:10]}",
        )
    return order


def _check_connected(calls, entries, input_refs, output_refs, where):
    """Every Input that the outputs depend on must be a declared input (walked with a worklist)."""
    by_key = {(c.layer, c.node): c for c in calls}
    declared = {r.layer for r in input_refs}
    seen, todo = set(), [(r.layer, r.node) for r in output_refs]
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        if entries[k[0]].get("class_name") == "InputLayer":
            if k[0] not in declared:
                _fail(
                    where,
                    f"the graph is disconnected: the outputs depend on the Input {k[0]!r}, which is not "
                    f"among the model's inputs {sorted(declared)}",
                    f"input_layers={sorted(declared)}",
                )
            continue
        todo.extend((r.layer, r.node) for r in by_key[k].refs)
    unused = [r.layer for r in input_refs if (r.layer, r.node) not in seen]
    if unused and len(unused) == len(input_refs):
        _fail(
            where,
            f"the outputs depend on none of the inputs {unused}",
            f"input_layers={unused}",
        )


def check_all(obj, where):
    """Check a model object and every model nested in it, outermost first, from an explicit stack."""
    budget = Budget()
    stack = [(obj, where, 0)]
    while stack:
        entry, at, depth = stack.pop()
        if depth > limits.MAX_MODEL_NESTING:
            _fail(
                at,
                f"models are nested more than {limits.MAX_MODEL_NESTING} deep, cnnlab's limit for a file",
                f"depth {depth}",
            )
        config = entry.get("config") if isinstance(entry, dict) else None
        if entry.get("class_name") in FUNCTIONAL:
            layers = parse(config, at, budget).entries.values()
        else:
            layers = config.get("layers") if isinstance(config, dict) else None
            if not isinstance(layers, list):
                _fail(at, "a Sequential's `layers` must be a list", str(layers)[:120])
            budget.add(len(layers), len(layers), at)
        for inner in layers:
            if is_model_entry(inner):
                name = (
                    (inner.get("config") or {}).get("name")
                    if isinstance(inner.get("config"), dict)
                    else None
                )
                stack.append(
                    (inner, f"{at} > {inner.get('class_name')} {name!r}", depth + 1)
                )
