"""The reference executor: a model runs layer by layer, forward then backward.

This is the seeds' training step in one place (DESIGN.md, "How one batch flows")::

    for each step, in topological order:      # forward
        y, cache = layer.forward(x, training)  # each layer keeps what its backward needs
    loss and dy at every output
    for each step, in reverse order:          # backward
        dx, grads = layer.backward(dy, cache)
        dx is added to the gradient of every tensor that fed the step
        (a tensor used twice, fan-out, receives the sum of both gradients),
        grads are added to the layer's weight gradients (a layer used twice,
        shared weights, receives the sum too)

A :class:`Program` is the list of steps a model's graph compiles to: each step
reads numbered slots (tensors) and writes others. A Sequential model is the
linear case: step ``i`` reads slot ``i`` and writes slot ``i + 1``. The fast
engine (``cnnlab.model.engine``) rewrites a program into another program
(a Conv and its MaxPooling fused into one step, crops); this module runs either.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Step:
    """One node of the graph: ``layer`` reads ``inputs`` (slots) and writes ``outputs``.

    ``list_input`` / ``list_output``: the layer takes / gives a list (merge layers,
    models with several inputs or outputs). ``owner``: the layer whose weight
    gradients ``backward`` returns (the layer itself, or the Conv of a fused pair).
    """

    layer: object
    inputs: list
    outputs: list
    list_input: bool = False
    list_output: bool = False
    crop_to: tuple | None = None
    owner: object = None
    reads_only_inputs: bool = (
        False  # every input is a model input: no dx needed at the top level
    )
    options: bool = True  # backward accepts skip_activation= and need_dx=
    layers: tuple = ()  # the graph layers this step runs (two for a fused pair)
    bias_reader: object = (
        None  # the only layer reading this step's output (set by Program)
    )
    training: bool | None = (
        None  # fixed at the call (``base(x, training=False)``), else the pass's
    )

    nested: bool = False  # a model used as a layer (set here)

    def __post_init__(self):
        self.nested = hasattr(self.layer, "_backward_by_layer")
        if self.owner is None:
            self.owner = self.layer
        if not self.layers:
            self.layers = (self.layer,)
        try:
            params = inspect.signature(self.layer.backward).parameters
            self.options = "need_dx" in params or any(
                p.kind == p.VAR_KEYWORD for p in params.values()
            )
        except (TypeError, ValueError):
            self.options = False


@dataclass
class Program:
    """Steps in topological order over ``n_slots`` tensors."""

    steps: list
    input_slots: list
    output_slots: list
    n_slots: int
    consumers: dict = field(
        default_factory=dict
    )  # slot -> number of steps that read it

    def __post_init__(self):
        self.consumers = {}
        for step in self.steps:
            for s in step.inputs:
                self.consumers[s] = self.consumers.get(s, 0) + 1
        self.producer = {
            s: k for k, step in enumerate(self.steps) for s in step.outputs
        }
        inputs = set(self.input_slots)
        readers = {}
        for j, step in enumerate(self.steps):
            step.reads_only_inputs = all(s in inputs for s in step.inputs)
            for s in set(step.inputs):
                readers.setdefault(s, []).append(j)
        for step in self.steps:
            only = readers.get(step.outputs[0], []) if len(step.outputs) == 1 else []
            single = (
                len(only) == 1
                and self.consumers.get(step.outputs[0]) == 1
                and step.outputs[0] not in self.output_slots
            )
            reader = self.steps[only[0]].layer if single else None
            step.bias_reader = (
                reader if hasattr(reader, "cancels_channel_bias") else None
            )

    def output_step(self, i):
        """The step that writes output ``i`` and nothing else reads it (it may fuse with
        its loss), or None."""
        slot = self.output_slots[i]
        k = self.producer.get(slot)
        if (
            k is None
            or self.consumers.get(slot, 0)
            or self.output_slots.count(slot) > 1
        ):
            return None
        step = self.steps[k]
        return None if step.list_output else k


@dataclass
class Trace:
    """What a forward pass leaves for the backward: every slot's value and every step's cache."""

    values: list
    caches: list

    # A trace reads as its list of step caches (``caches[i]`` of a Sequential is layer i's,
    # where the fast engine fused nothing), as ``Sequential.forward`` returned before.
    def __getitem__(self, i):
        return self.caches[i]

    def __len__(self):
        return len(self.caches)

    def __iter__(self):
        return iter(self.caches)

    program: object = None

    @property
    def z(self):
        """The pre-activation at the single output, when it may fuse with the loss (a model
        used as the last layer, ending in softmax: the loss reads its logits, as for a layer)."""
        if self.program is None or len(self.program.output_slots) != 1:
            return None
        k = self.program.output_step(0)
        return None if k is None else getattr(self.caches[k], "z", None)


def run_forward(program: Program, inputs: list, training=False):
    """``inputs`` (one array per model input) -> ``(outputs, trace)``."""
    values = [None] * program.n_slots
    for slot, x in zip(program.input_slots, inputs):
        values[slot] = x
    caches = []
    for step in program.steps:
        x = (
            [values[s] for s in step.inputs]
            if step.list_input
            else values[step.inputs[0]]
        )
        mode = training if step.training is None else step.training
        if step.crop_to:
            y, cache = step.layer.forward(x, mode, step.crop_to)
        else:
            y, cache = step.layer.forward(x, mode)
        if step.list_output:
            for s, v in zip(step.outputs, y):
                values[s] = v
        else:
            values[step.outputs[0]] = y
        caches.append(cache)
    return [values[s] for s in program.output_slots], Trace(values, caches, program)


def _accumulate(store, key, value):
    """``store[key] += value``, without writing into an array another branch also holds."""
    current = store[key]
    store[key] = value if current is None else current + value


def run_backward(
    program: Program,
    dys: list,
    trace: Trace,
    skip_activation=(),
    need_input_grads=False,
    stop_at=None,
):
    """Gradients of the outputs ``dys`` (None: no gradient) -> ``(input grads, weight grads)``.

    ``weight grads`` maps ``id(layer)`` to the list its backward returned, summed over
    the layer's uses. ``skip_activation``: steps whose ``dy`` is already the gradient of
    their pre-activation (the fused softmax + cross-entropy). ``stop_at``: a slot whose
    gradient to return instead (explain's Grad-CAM), skipping the steps before it.
    """
    grads = [None] * program.n_slots
    for slot, dy in zip(program.output_slots, dys):
        if dy is not None:
            _accumulate(grads, slot, dy)
    weight_grads: dict = {}
    # Only the weights need gradients here: a step that trains nothing and reads nothing a trained
    # weight computed (a frozen base under a new head) is skipped, and no dx is formed below the
    # trained part of the graph.
    trained = (
        None if need_input_grads or stop_at is not None else _trained_slots(program)
    )
    for k in range(len(program.steps) - 1, -1, -1):
        step = program.steps[k]
        if stop_at is not None and stop_at in step.outputs:
            break
        upstream_trains = trained is None or any(trained[s] for s in step.inputs)
        if not upstream_trains and not _step_trains(step):
            continue
        if step.list_output:
            dy = [grads[s] for s in step.outputs]
            if all(d is None for d in dy):
                continue
            dy = [
                np.zeros_like(trace.values[s]) if d is None else d
                for d, s in zip(dy, step.outputs)
            ]
        else:
            dy = grads[step.outputs[0]]
            if dy is None:
                continue  # nothing downstream of this step reaches a loss
        need_dx = (
            need_input_grads
            or stop_at is not None
            or (not step.reads_only_inputs and upstream_trains)
        )
        if (
            step.nested
        ):  # a model used as a layer: its own program, its layers' gradients
            dx, inner = step.layer._backward_by_layer(
                dy,
                trace.caches[k],
                need_dx=need_dx,
                skip_activation=k in skip_activation,
            )
            for key, g in inner.items():
                _add_weight_grads(weight_grads, key, g)
        else:
            if step.options:
                dx, g = step.layer.backward(
                    dy,
                    trace.caches[k],
                    skip_activation=k in skip_activation,
                    need_dx=need_dx,
                )
            else:
                dx, g = step.layer.backward(dy, trace.caches[k])
            if (
                g
                and step.bias_reader is not None
                and bias_feeds_batch_norm(step.layer, step.bias_reader)
            ):
                g = list(g[:-1]) + [np.zeros_like(g[-1])]
            if g:
                _add_weight_grads(weight_grads, id(step.owner), g)
        if need_dx and dx is not None:
            for s, d in zip(step.inputs, dx if step.list_input else [dx]):
                if d is not None:
                    _accumulate(grads, s, d)
    if stop_at is not None:
        return grads[stop_at], weight_grads
    return [grads[s] for s in program.input_slots], weight_grads


def _step_trains(step) -> bool:
    """True when the step holds weights that training updates now (unknown kinds count as training)."""
    if step.nested:
        return bool(step.layer._trained_leaves())
    return any(
        getattr(layer, "trainable", True) and getattr(layer, "trainable_weights", True)
        for layer in step.layers
    )


def _trained_slots(program: Program) -> list:
    """``trained[slot]``: the slot's value depends on a weight that training updates now."""
    trained = [False] * program.n_slots
    for step in program.steps:
        flag = _step_trains(step) or any(trained[s] for s in step.inputs)
        for s in step.outputs:
            trained[s] = flag
    return trained


def _add_weight_grads(store, key, g):
    if key in store:
        store[key] = [
            a + b for a, b in zip(store[key], g)
        ]  # a shared layer: its uses add up
    else:
        store[key] = list(g)


def bias_feeds_batch_norm(layer, following) -> bool:
    """True when ``layer``'s bias goes straight into a BatchNormalization that uses batch
    statistics over the bias's axis: the BN subtracts the batch mean, so the bias cannot change
    the loss and its gradient is exactly zero (unless an activity regularizer sees the output; a
    bias regularizer's gradient is added afterwards). Computed, it is float noise instead, which
    Adam (dividing by its square root) turns into a drift; the backward pass writes an exact zero."""
    cancels = getattr(following, "cancels_channel_bias", None)
    names = getattr(layer, "trainable_weight_names", [])
    return bool(
        cancels
        and cancels()
        and getattr(layer, "use_bias", False)
        and getattr(layer, "activation_name", None) == "linear"
        and "bias" in names
        and names[-1] == "bias"
        and getattr(layer, "activity_regularizer", None) is None
    )
