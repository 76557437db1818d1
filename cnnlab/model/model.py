"""``keras.Model``: a graph of layers, trained by backpropagation.

Three ways to make one, as in Keras 3:

* functional: ``Model(inputs, outputs)`` from tensors that ``keras.Input`` and layer
  calls produced (``cnnlab.layers.graph``);
* ``Sequential``: the linear case, built layer after layer (``sequential.py``);
* a subclass with ``call()``: the model is one node, a layer whose forward and
  backward are the Layer base's.

Each compiles to a :class:`~cnnlab.model.executor.Program`, run by the reference
executor; the fast engine (``engine.py``) runs a rewritten program of the same
steps. One training step for all of them (:meth:`Model._train_step`)::

    outputs, trace = run_forward(program, x)          # each step keeps what its backward needs
    loss = sum(weight_i * loss_i(y_i, outputs_i));  dy_i = weight_i * dloss_i
    _, grads = run_backward(program, dy, trace)       # per layer, summed over shared uses
    optimizer.apply(trained weights, grads)

A model used as a layer is one step of the outer program: its forward runs its
own program and its backward returns its layers' gradients to the outer model.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import part_sums
from .. import random as cnn_random
from ..backend import fast_path, keep_freed_memory
from ..errors import CnnlabError, ShapeError
from ..layers import InputLayer, Layer
from ..layers import graph as graph_mod
from ..layers.base import (
    activity_penalty,
    as_float_input,
    penalty_gradients,
    unique_name,
)
from ..ops import tape
from . import compile_outputs, engine, files, parallel, training
from . import losses as losses_mod
from . import optimizers as optimizers_mod
from . import summary as summary_mod
from .executor import Program, Step, run_backward, run_forward


class LayerOutputs(list):
    """``layer_outputs``'s outputs, one per layer of ``model.layers``; ``inputs`` holds
    each layer's input (a list for merge layers), read through the graph's edges."""

    inputs = None


class LayerCaches(list):
    """``layer_outputs``'s caches: one per layer of ``model.layers``, and the whole
    forward ``trace`` that ``gradient_at`` backpropagates through."""

    trace = None


class Model(Layer):
    """A graph of layers with Keras's ``compile``/``fit``/``evaluate``/``predict``."""

    _builds_own_graph = False  # Sequential: True

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        self._model_layers = []  # set before Layer.__init__ (its `trainable` setter walks them)
        self._program = None
        # A subclass with call() (not Sequential, which builds its own graph) is one layer node.
        self._subclassed = (
            inputs is None and outputs is None and not self._builds_own_graph
        )
        super().__init__(
            name=name
            or unique_name(
                "functional" if inputs is not None else _snake(type(self).__name__)
            ),
            **kwargs,
        )
        self._trainable = trainable
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._heads = []
        self._metric_specs = []
        self._program = None
        self._fast = None  # (program, crops, fused) of the fast engine
        self._setup = None  # what the next training step updates (set up after compile)
        self._compiled_trainable = None
        self._structure_in = self._structure_out = None
        self._inputs = self._outputs = []
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise CnnlabError(
                    f"Model '{self.name}': give both `inputs` and `outputs` (functional API), or "
                    f"neither (a subclass with call()). Received: inputs={inputs!r}, outputs={outputs!r}"
                )
            self._init_graph(inputs, outputs)
        if not trainable:
            self.trainable = False

    # ---- the graph ----------------------------------------------------
    def _init_graph(self, inputs, outputs):
        """Walk the graph from ``outputs`` back to ``inputs`` and compile it into a program."""
        self._structure_in, self._inputs = _structure(
            inputs, f"Model '{self.name}' inputs"
        )
        self._structure_out, self._outputs = _structure(
            outputs, f"Model '{self.name}' outputs"
        )
        nodes, first_seen = graph_mod.topological_nodes(
            self._inputs, self._outputs, f"Model '{self.name}'"
        )
        layers = graph_mod.keras_layer_order(nodes, first_seen, self._inputs)
        names = [layer.name for layer in layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CnnlabError(
                f"Model '{self.name}': the name(s) {dupes} are used by more than one layer; all "
                f"layer names in a model must be unique. Received: layers={names}"
            )
        self._model_layers = layers
        self._nodes = nodes
        slots = {}
        for t in self._inputs:
            slots.setdefault(id(t), len(slots))
        steps = []
        for node in nodes:
            if node.is_input:
                continue
            ins = [slots[id(t)] for t in node.input_tensors]
            outs = [slots.setdefault(id(t), len(slots)) for t in node.output_tensors]
            steps.append(
                Step(
                    node.layer,
                    ins,
                    outs,
                    list_input=node.call_args == "list",
                    list_output=len(node.output_tensors) > 1
                    or isinstance(node.layer.output_shape, list),
                    training=node.training,
                )
            )
            steps[-1].node = node
        self._program = Program(
            steps,
            [slots[id(t)] for t in self._inputs],
            [slots[id(t)] for t in self._outputs],
            len(slots),
        )
        self._slots = slots
        self._fast = None
        self._setup = None
        self.built = True
        self.input_shape = self._shape_of(self._inputs)
        self.output_shape = self._shape_of(self._outputs)

    @staticmethod
    def _shape_of(tensors):
        shapes = [tuple(t.shape) for t in tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input(self):
        """The inputs as given to ``Model(inputs, outputs)`` (a tensor, list or dict), as Keras's
        Functional.input; a model never built that way falls back to the layer's first call."""
        if not self._inputs:
            return super().input
        return _restructure(self._structure_in, self._inputs)

    @property
    def output(self):
        """The outputs as given to ``Model(inputs, outputs)``: ``model.output`` is what the
        Grad-CAM recipe passes on, ``Model(model.inputs, [layer.output, model.output])``."""
        if not self._outputs:
            return super().output
        return _restructure(self._structure_out, self._outputs)

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    @property
    def input_names(self):
        return [t.node.layer.name for t in self._inputs]

    @property
    def output_names(self):
        """The output layers' names (the keys of loss and metric dicts, and of ``<name>_loss``)."""
        if isinstance(self._structure_out, dict):
            return list(self._structure_out)
        return [t.node.layer.name for t in self._outputs]

    @property
    def nodes(self):
        """The model's nodes in topological order (inputs first)."""
        return list(self._nodes)

    def layer_nodes(self, layer):
        """The nodes of ``layer`` that belong to this model, in call order (Keras's config
        numbers a layer's nodes within the model this way)."""
        return [n for n in self._nodes if n.layer is layer]

    def node_inbound(self, node):
        """``[(layer, node_index, tensor_index)]`` of ``node``'s inputs with node indices counted
        within this model (Keras's config numbers a layer's nodes so: a layer also called in
        another graph keeps 0, 1, ... here)."""
        return [
            (layer, self.layer_nodes(layer).index(layer._inbound_nodes[i]), k)
            for layer, i, k in node.inbound
        ]

    @property
    def layers(self):
        if self._subclassed:
            return _tracked_layers(self)
        return list(self._model_layers)

    def get_layer(self, name=None, index=None):
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in layers]}."
        )

    # ---- freezing -----------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """As Keras: freezing (or unfreezing) a model sets every layer inside it."""
        self._trainable = bool(value)
        for layer in self.__dict__.get("_model_layers", []) or _tracked_layers(self):
            layer.trainable = value

    def _sublayers(self):
        return [layer for layer in self.layers if not isinstance(layer, InputLayer)]

    def _trained_leaves(self):
        """``[(layer, its trainable weights)]`` for the layers training updates now, each once."""
        if not self.trainable:
            return []
        if (
            self._program is not None
            and self._program.steps
            and isinstance(self._program.steps[0].layer, _AsLayer)
        ):
            ws = list(self.trainable_weights)  # a subclassed model trains as one layer
            return [(self, ws)] if ws else []
        out, seen = [], set()
        for layer in self._sublayers():
            pairs = (
                layer._trained_leaves()
                if isinstance(layer, Model)
                else (
                    [(layer, list(layer.trainable_weights))]
                    if layer.trainable and layer.trainable_weights
                    else []
                )
            )
            for leaf, ws in pairs:
                if id(leaf) not in seen:
                    seen.add(id(leaf))
                    out.append((leaf, ws))
        return out

    # ---- weights ------------------------------------------------------
    def _unique(self, arrays):
        seen, out = set(), []
        for w in arrays:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    def _named_weights(self):
        """``[(path, array)]``, each array once: ``"<layer>/<weight>"`` (nested models add their path)."""
        out, seen = [], set()
        pairs = list(self._weights.items()) + [
            (f"{layer.name}/{n}", w)
            for layer in self._sublayers()
            for n, w in zip(layer.weight_names, layer.weights)
        ]
        for name, w in pairs:
            if id(w) not in seen:
                seen.add(id(w))
                out.append((name, w))
        return out

    @property
    def weights(self):
        return [w for _, w in self._named_weights()]

    @property
    def weight_names(self):
        return [n for n, _ in self._named_weights()]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self._unique(
            list(self._weights.values())
            + [w for layer in self._sublayers() for w in layer.trainable_weights]
        )

    @property
    def non_trainable_weights(self):
        trained = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trained]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        targets = self.weights
        if len(weights) != len(targets):
            raise ShapeError(
                f"{type(self).__name__} '{self.name}' has {len(targets)} weight arrays but "
                f"{len(weights)} were given. Received: {len(weights)} arrays"
            )
        for current, new in zip(targets, weights):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ShapeError(
                    f"{type(self).__name__} '{self.name}': a weight has shape {current.shape}, the "
                    f"given array has shape {new.shape}. Received: shape={new.shape}"
                )
        for current, new in zip(targets, weights):
            np.copyto(current, np.asarray(new, dtype=current.dtype))

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ---- the model as a layer ------------------------------------------
    def ensure_built(self, input_shape):
        if self._program is None:
            self._build_for(input_shape)
        self.check_input_shape(input_shape)
        return self.output_shape

    def _build_for(self, input_shape):
        """A subclassed model: one step, the model itself as a layer (its ``call``)."""
        shape = input_shape if not isinstance(input_shape, list) else input_shape
        Layer.ensure_built(self, shape)
        self._model_layers = []
        list_in = isinstance(input_shape, list)
        n_in = len(input_shape) if list_in else 1
        step = _AsLayer(self)
        self._program = Program(
            [Step(step, list(range(n_in)), [n_in], list_input=list_in, owner=self)],
            list(range(n_in)),
            [n_in],
            n_in + 1,
        )
        # The output shape is what call() gives: one probe sample, in inference mode.
        shapes = input_shape if list_in else [input_shape]
        probes = [
            np.zeros((1, *(1 if d is None else d for d in s[1:])), np.float32)
            for s in shapes
        ]
        y, _ = step.forward(probes if list_in else probes[0], False)
        self.output_shape = (None, *np.shape(y)[1:])

    def check_input_shape(self, input_shape):
        if self._program is None or not self._inputs:
            return
        expected = [tuple(t.shape) for t in self._inputs]
        given = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(given) != len(expected) or any(
            len(g) != len(e)
            or any(
                a is not None and b is not None and a != b for a, b in zip(g[1:], e[1:])
            )
            for g, e in zip(given, expected)
        ):
            raise ShapeError(
                f"Model '{self.name}' expects input(s) of shape {self._shape_of(self._inputs)}. "
                f"Received: input shape={input_shape}"
            )

    def forward(self, x, training=False):
        """``x`` (one array, or a list for several inputs) -> ``(y, cache)`` through the
        fast program (the reference executor when the fast path is off)."""
        program = self._run_program(training)
        outs, trace = run_forward(program, self._input_list(x), training)
        return (
            outs[0]
            if len(outs) == 1 and not isinstance(self._structure_out, (list, dict))
            else outs
        ), trace

    def backward(self, dy, caches, skip_last_activation=False):
        """Gradient of the output(s) -> gradients for ``self.trainable_weights``, in order."""
        dys = dy if isinstance(dy, list) else [dy]
        skip = {self._last_program().output_step(0)} if skip_last_activation else set()
        _, grads = run_backward(
            self._last_program(), dys, caches, skip_activation=skip - {None}
        )
        return self._grads_in_order(
            grads, [(layer, ws) for layer, ws in self._weight_owners()]
        )

    def _backward_by_layer(self, dy, trace, need_dx=True, skip_activation=False):
        """As a step of an outer model: ``(dx, {id(layer): grads})``."""
        dys = dy if isinstance(dy, list) else [dy]
        skip = (
            {self._last_program().output_step(0)} - {None} if skip_activation else set()
        )
        dxs, grads = run_backward(
            self._last_program(),
            dys,
            trace,
            skip_activation=skip,
            need_input_grads=need_dx,
        )
        return (dxs if self._structure_in_is_list() else dxs[0]), grads

    def _weight_owners(self):
        """``[(layer, its trainable weights)]`` of every layer that currently trains (for ``backward``)."""
        return self._trained_leaves()

    @staticmethod
    def _grads_in_order(grads, owners):
        out = []
        for layer, ws in owners:
            g = grads.get(id(layer))
            out += list(g) if g is not None else [np.zeros_like(w) for w in ws]
        return out

    def _tape_backward(self, dy, trace, need_dx):
        """As one entry of a custom layer's tape: ``(dx, grads for _tape_slots())``."""
        dx, grads = self._backward_by_layer(dy, trace, need_dx=need_dx)
        return dx, self._grads_in_order(grads, self._weight_owners())

    def _tape_slots(self):
        where = {
            id(owner._weights[key]): (owner, key) for owner, key in self.weight_slots()
        }
        return [where[id(w)] for _, ws in self._weight_owners() for w in ws]

    def _structure_in_is_list(self):
        return isinstance(self._structure_in, (list, dict)) or (
            self._program is not None and len(self._program.input_slots) > 1
        )

    @property
    def activation_name(self):
        """The activation at the single output (lets a nested model's softmax fuse with the loss)."""
        program = self._program
        if (
            program is None
            or len(program.output_slots) != 1
            or program.output_step(0) is None
        ):
            return "linear"
        return getattr(
            program.steps[program.output_step(0)].layer, "activation_name", "linear"
        )

    @activation_name.setter
    def activation_name(self, value):
        pass  # Layer.__init__ assigns it; a model's comes from its output layer

    @property
    def ends_in_softmax(self):
        program = self._program
        k = (
            None
            if program is None or len(program.output_slots) != 1
            else program.output_step(0)
        )
        return k is not None and getattr(
            program.steps[k].layer, "ends_in_softmax", False
        )

    def __call__(self, x, training=None):
        if graph_mod.is_symbolic(x):
            return graph_mod.symbolic_call(self, x, training)
        if tape.is_recorded(x):  # inside a custom layer's recorded call: one tape entry
            return Layer.__call__(self, x, training)
        training = bool(training)
        xs = self._check_inputs(x, "call")
        out = self.forward(xs if len(xs) > 1 else xs[0], training)[0]
        return out

    # ---- programs -----------------------------------------------------
    def _require_program(self):
        if self._program is None:
            raise CnnlabError(
                f"Model '{self.name}' is not built yet: call it on data (or on a keras.Input) first."
            )
        return self._program

    def _run_program(self, training=False, fast=None, inference=False):
        """The program a forward pass runs: the fast engine's plan, or the reference.
        ``inference``: predict's and evaluate's, which never runs backward (engine step 5)."""
        program = self._require_program()
        if not (fast_path() if fast is None else fast):
            if not inference:
                self._last = program
            return program
        if inference:
            key = self._plan_key(program)
            cached = self.__dict__.get("_fast_inference")
            if cached is None or cached[0] is not program or cached[1] != key:
                cached = (program, key, engine.plan(program, inference=True)[0])
                self._fast_inference = cached
            return cached[2]
        activations = self._plan_key(program)
        if (
            self._fast is None
            or self._fast[3] is not program
            or self._fast[4] != activations
        ):
            fast, crops, fused = engine.plan(program)
            self._fast = (fast, crops, fused, program, activations)
        self._last = self._fast[0]
        return self._fast[0]

    @staticmethod
    def _plan_key(program):
        """What a plan depends on beyond the program: the layers' activations (pooling
        first), which may be assigned later, and which layers train (a frozen BN infers)."""
        return [
            (
                getattr(step.layer, "activation_name", None),
                getattr(step.layer, "trainable", None),
            )
            for step in program.steps
        ]

    def _last_program(self):
        return getattr(self, "_last", None) or self._require_program()

    # ---- inputs ---------------------------------------------------------
    def _input_list(self, x):
        """``x`` as a list, one array per model input (a dict is read by Input name)."""
        n = len(self._require_program().input_slots)
        if isinstance(x, dict):
            names = self.input_names if self._inputs else []
            missing = [name for name in names if name not in x]
            if missing:
                raise CnnlabError(
                    f"Model '{self.name}': the input dict lacks {missing}; the model's inputs are "
                    f"{names}. Received: keys={sorted(x)}"
                )
            return [x[name] for name in names]
        if isinstance(x, (list, tuple)) and (n > 1 or _one_array_list(x)):
            if len(x) != n:
                raise CnnlabError(
                    f"Model '{self.name}' has {n} inputs ({self.input_names}) but {len(x)} arrays "
                    f"were given. Received: {len(x)} arrays"
                )
            return list(x)
        if n > 1:
            raise CnnlabError(
                f"Model '{self.name}' has {n} inputs ({self.input_names}): give a list or a dict "
                f"keyed by Input name. Received: one {type(x).__name__}"
            )
        return [x]

    def _check_inputs(self, x, where):
        """Cast every input batch to float32 and check it against its Input."""
        xs = [
            as_float_input(v, f"Model '{self.name}' ({where})")
            for v in (
                self._input_list(x)
                if self._program is not None
                else (x if isinstance(x, list) else [x])
            )
        ]
        if self._program is None:
            self.ensure_built([v.shape for v in xs] if len(xs) > 1 else xs[0].shape)
        lengths = {len(v) for v in xs}
        if len(lengths) > 1:
            raise CnnlabError(
                f"Model '{self.name}' ({where}): every input must have the same number of samples. "
                f"Received: input shapes={[tuple(v.shape) for v in xs]}"
            )
        for v, t, name in zip(
            xs, self._inputs, self.input_names if self._inputs else []
        ):
            if tuple(v.shape[1:]) != tuple(t.shape[1:]) and not any(
                s is None for s in t.shape[1:]
            ):
                raise ShapeError(
                    f"Model '{self.name}' ({where}): the Input '{name}' expects shape "
                    f"{tuple(t.shape)}, got {tuple(v.shape)}. Received: input shape={tuple(v.shape)}"
                )
        return xs

    def _check_shape(self, shapes, where):
        """For training.py: check the inputs' shapes (one shape, or a list of shapes)."""
        if not isinstance(shapes, list):
            shapes = [shapes]
        self._check_inputs([np.empty((1, *s[1:]), np.float32) for s in shapes], where)

    # ---- looking inside (cnnlab.explain) ---------------------------------
    def layer_outputs(self, x):
        """Every layer's full output for the batch ``x`` (inference mode, no rewrites):
        ``(outputs, caches)`` with ``outputs[i]`` the output of ``self.layers[i]`` (its first
        use in this model; an InputLayer's is the input itself)."""
        xs = self._check_inputs(x, "layer_outputs")
        program = self._require_program()
        _, trace = run_forward(program, xs, training=False)
        outputs, caches = LayerOutputs(), LayerCaches()
        outputs.inputs, caches.trace = [], trace
        for layer in self.layers:
            slot, k = self._slot_of(layer)
            outputs.append(trace.values[slot])
            caches.append(None if k is None else trace.caches[k])
            step = None if k is None else program.steps[k]
            outputs.inputs.append(
                trace.values[slot]
                if step is None
                else (
                    [trace.values[s] for s in step.inputs]
                    if step.list_input
                    else trace.values[step.inputs[0]]
                )
            )
        return outputs, caches

    def _slot_of(self, layer):
        """``(slot of the layer's first output in this model, its step)``."""
        program = self._require_program()
        for k, step in enumerate(program.steps):
            if step.layer is layer:
                return step.outputs[0], k
        for t, slot in zip(self._inputs, program.input_slots):
            if t.node.layer is layer:
                return slot, None
        raise CnnlabError(f"Layer '{layer.name}' is not part of model '{self.name}'.")

    def gradient_at(self, caches, layer_index, top_grad, top_is_logits=True):
        """Backpropagate ``top_grad`` (the gradient of a scalar score with respect to the
        output, or, with ``top_is_logits``, to its pre-activation) down to the output of
        ``self.layers[layer_index]`` (or the layer of that name); ``caches`` come from
        :meth:`layer_outputs`."""
        program = self._require_program()
        layer = (
            self.get_layer(name=layer_index)
            if isinstance(layer_index, str)
            else self.layers[layer_index]
        )
        slot, _ = self._slot_of(layer)
        skip = {program.output_step(0)} - {None} if top_is_logits else set()
        tops = (
            top_grad
            if isinstance(top_grad, list)
            else [top_grad] + [None] * (len(program.output_slots) - 1)
        )
        grad, _ = run_backward(
            program, tops, caches.trace, skip_activation=skip, stop_at=slot
        )
        return np.zeros_like(caches.trace.values[slot]) if grad is None else grad

    # ---- training set-up ----------------------------------------------
    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        **kwargs,
    ):
        for key, value in kwargs.items():
            if key not in (
                "run_eagerly",
                "jit_compile",
                "steps_per_execution",
                "auto_scale_loss",
            ) or (key == "steps_per_execution" and value != 1):
                raise ValueError(
                    f"compile(): cnnlab does not support `{key}`. Received: {key}={value!r}"
                )
        self.optimizer = optimizers_mod.get(optimizer)
        self.loss = (
            losses_mod.get(loss)
            if loss is not None and not isinstance(loss, (list, tuple, dict))
            else loss
        )
        self._loss_spec, self._loss_weights_spec = loss, loss_weights
        self._metric_specs = (
            list(metrics or []) if not isinstance(metrics, dict) else metrics
        )
        # Keras 3: `metrics` never see sample or class weights; `weighted_metrics` do
        self._weighted_metric_specs = (
            list(weighted_metrics or [])
            if not isinstance(weighted_metrics, dict)
            else weighted_metrics
        )
        self._heads = []
        self._setup = None
        # Keras 3: the trainable weights are fixed here; a later change of `trainable`
        # takes effect at the next compile() (fit warns about it).
        self._compiled_trainable = self._trainable_state()
        self.compiled = True

    def _trainable_state(self):
        state, stack = {}, [self]
        while stack:
            layer = stack.pop()
            state[id(layer)] = (layer, layer.trainable)
            if isinstance(layer, Model):
                stack += layer._sublayers()
        return state

    def _warn_if_trainable_changed(self):
        if self._compiled_trainable is None:
            return
        current = self._trainable_state()
        changed = [
            layer.name
            for key, (layer, flag) in current.items()
            if key not in self._compiled_trainable
            or self._compiled_trainable[key][1] != flag
        ]
        if changed:
            warnings.warn(
                "A layer's `trainable` state has changed since the model was compiled. This can result "
                "in unexpected behavior, as the compiled optimizer and loss functions may not track the "
                "correct variables. Please recompile your model (e.g. `model.compile(...)`) before "
                "calling `fit()` or `evaluate()` so the change takes effect. "
                f"Changed layers: {changed}",
                stacklevel=3,
            )
            self._compiled_trainable = current

    def _output_heads(self):
        if not self._heads:
            names = self.output_names if self._outputs else [self.name]
            self._heads = compile_outputs.resolve(
                names,
                getattr(self, "_loss_spec", self.loss),
                getattr(self, "_loss_weights_spec", None),
                self._metric_specs,
                getattr(self, "_weighted_metric_specs", None) or None,
            )
        return self._heads

    def _build_metrics(self, y):
        """Metric objects, created on first use: ``'accuracy'`` depends on the labels' shape."""
        ys = self._target_list(y)
        out_shapes = self._output_shapes()
        return [
            m
            for head, yi, shape in zip(self._output_heads(), ys, out_shapes)
            for m in head.build_metrics(np.shape(yi), shape)
        ]

    def _output_shapes(self):
        shape = self.output_shape
        return shape if isinstance(shape, list) else [shape]

    @property
    def metrics(self):
        """The compiled metric objects (created when training or evaluation first sees labels)."""
        return [m for head in self._heads for m in head.metrics]

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self.metrics]

    def _require_compiled(self, what):
        if not self.compiled or all(h.loss is None for h in self._output_heads()):
            raise CnnlabError(
                f"You must call `compile()` with a loss before calling `{what}()`."
            )

    def _target_list(self, y):
        """``y`` as a list, one array per output (a dict is read by output name)."""
        names = self.output_names if self._outputs else [self.name]
        if isinstance(y, dict):
            missing = [
                n for n in names if n not in y and self._head_for(n).loss is not None
            ]
            if missing:
                raise CnnlabError(
                    f"Model '{self.name}': the label dict lacks {missing}; the outputs are {names}. "
                    f"Received: keys={sorted(y)}"
                )
            return [y.get(n) for n in names]
        if isinstance(y, (list, tuple)) and (len(names) > 1 or _one_array_list(y)):
            if len(y) != len(names):
                raise CnnlabError(
                    f"Model '{self.name}' has {len(names)} outputs ({names}) but {len(y)} label "
                    f"arrays were given. Received: {len(y)} arrays"
                )
            return list(y)
        if len(names) > 1:
            raise CnnlabError(
                f"Model '{self.name}' has {len(names)} outputs ({names}): give the labels as a list "
                f"or a dict keyed by output name. Received: one {type(y).__name__}"
            )
        return [y]

    def _head_for(self, name):
        return next(h for h in self._output_heads() if h.name == name)

    def _loss_and_grad(self, ys, outs, trace, program, sample_weight=None):
        """The weighted loss, each output's loss, the gradients to start backward from,
        and the steps whose activation the loss fused with (softmax + cross-entropy).
        ``sample_weight``: per-sample weights for every output, Keras's ``sum(w * loss) / N``."""
        total, per_output, dys, fused = 0.0, [], [], set()
        for i, (head, y, out) in enumerate(zip(self._output_heads(), ys, outs)):
            if head.loss is None or y is None:
                per_output.append(None)
                dys.append(None)
                continue
            k = program.output_step(i)
            layer = None if k is None else program.steps[k].layer
            name = getattr(layer, "activation_name", "linear")
            cache = None if k is None else trace.caches[k]
            if (
                layer is not None
                and head.loss.fuses_with(name)
                and getattr(cache, "z", None) is not None
                and (name != "softmax" or getattr(layer, "ends_in_softmax", False))
                and getattr(layer, "activity_regularizer", None) is None
            ):  # (its gradient is on the output)
                loss, dy = head.loss.value_and_grad(
                    y, cache.z, from_logits=True, sample_weight=sample_weight
                )
                fused.add(k)
            else:
                loss, dy = head.loss.value_and_grad(y, out, sample_weight=sample_weight)
            if head.weight != 1.0:
                dy = dy * dy.dtype.type(head.weight)
            total += head.weight * loss
            per_output.append(loss)
            dys.append(dy)
        return total, per_output, dys, fused

    def _training_setup(self):
        """The weights the next step updates (fixed at compile), laid out for the optimizer."""
        if self._setup is not None and self._setup.current():
            return self._setup
        if self._compiled_trainable is None:
            self._compiled_trainable = self._trainable_state()
        params = self._trained_leaves()
        setup = engine.FlatParameters(params)
        setup.owners = params
        setup.slots = [
            (id(layer), i, w) for layer, ws in params for i, w in enumerate(ws)
        ]
        setup.leaves = self._all_leaves()
        setup.stochastic = any(layer.stochastic for layer in setup.leaves)
        n = sum(w.size for w in setup.arrays)
        if (
            self.optimizer.built
            and sum(s.size for s in self.optimizer._flat_slots[:1]) not in (n, 0)
            and self.optimizer.slot_names
        ):
            raise CnnlabError(
                f"Model '{self.name}': the optimizer was built for other variables than the model's "
                f"trainable weights now ({n} values). This optimizer can only be called for the "
                f"variables it was originally built with: pass a new optimizer to compile(). "
                f"Received: optimizer={self.optimizer.name}"
            )
        if not self.optimizer.built:
            self.optimizer.build(setup.arrays)
        self._setup = setup
        return setup

    # ---- one batch ----------------------------------------------------
    def _train_step(self, x, y, sample_weight=None):
        """One update on the batch ``(x, y)`` (lists: one array per input, one per output),
        weighted per sample by ``sample_weight``; returns the batch loss (before the update)
        and the outputs. The fast engine splits a large batch across threads; the gradient
        is the same."""
        keep_freed_memory()
        xs = x if isinstance(x, list) else [x]
        ys = y if isinstance(y, list) else [y]
        fast = fast_path()
        program = self._run_program(training=True, fast=fast)
        setup = self._training_setup()
        n = len(xs[0])
        parts = engine.batch_parts(n, setup.leaves, training=True, fast=fast)
        streams = (
            [cnn_random.make_generator() for _ in parts]
            if len(parts) > 1 and setup.stochastic
            else [None] * len(parts)
        )

        # The parts add their batch statistics together (BatchNormalization, cnnlab.part_sums).
        group = part_sums.PartGroup(len(parts)) if len(parts) > 1 else None

        def part_step(index):
            with part_sums.running_part(group, index):
                return one_part(index)

        def one_part(index):
            sl = parts[index]
            with cnn_random.thread_stream(streams[index]):
                outs, trace = run_forward(program, [v[sl] for v in xs], training=True)
            loss, per_output, dys, fused = self._loss_and_grad(
                [None if v is None else v[sl] for v in ys],
                outs,
                trace,
                program,
                None if sample_weight is None else sample_weight[sl],
            )
            loss += activity_penalty(trace.caches)
            share = (sl.stop - sl.start) / n  # each part's loss is its own mean
            if share != 1:
                dys = [None if d is None else d * d.dtype.type(share) for d in dys]
                per_output = [
                    None if loss is None else loss * share for loss in per_output
                ]
            _, grads = run_backward(program, dys, trace, skip_activation=fused)
            return loss * share, per_output, outs, grads

        results = parallel.run(part_step, list(range(len(parts))))
        # Each trained weight's gradient from every part (a layer no loss reaches gets zeros), and
        # its regularizer's gradient (computed on the weights before the update).
        penalties = {
            id(layer): penalty_gradients(layer)
            for layer, _ in setup.owners
            if _has_rules(layer)
        }
        penalty = self._weight_penalty()
        grads_per_weight = [
            [r[3][key][i] if key in r[3] else np.zeros_like(w) for r in results]
            + (
                [penalties[key][i]]
                if key in penalties and penalties[key][i] is not None
                else []
            )
            for key, i, w in setup.slots
        ]
        setup.apply(self.optimizer, grads_per_weight, threads=len(parts))
        for (
            layer,
            _,
        ) in setup.owners:  # Keras: each weight's constraint right after the update
            if _has_rules(layer):
                layer.apply_constraints()
        if len(results) == 1:
            loss, self._last_output_losses, outs, _ = results[0]
        else:
            loss = sum(r[0] for r in results)
            self._last_output_losses = [
                None if loss is None else sum(r[1][i] for r in results)
                for i, loss in enumerate(results[0][1])
            ]
            outs = [
                np.concatenate([r[2][i] for r in results])
                for i in range(len(results[0][2]))
            ]
        loss += penalty
        return loss, (outs[0] if len(outs) == 1 else outs)

    def _all_leaves(self):
        """Every layer that runs (models used as layers opened up), computed once per build."""
        memo = self.__dict__.get("_leaves_memo")
        if memo is not None and memo[0] is self._program:
            return memo[1]
        out, stack = [], list(self._sublayers()) or [self]
        while stack:
            layer = stack.pop()
            if (
                isinstance(layer, Model)
                and layer is not self
                and layer._program is not None
            ):
                stack += layer._sublayers()
            else:
                out.append(layer)
        self._leaves_memo = (self._program, out)
        return out

    def _infer(self, x, y=None, sample_weight=None):
        """Outputs for the batch ``x`` (split across threads like training), and the
        loss when labels ``y`` are given (weighted per sample by ``sample_weight``)."""
        keep_freed_memory()
        xs = x if isinstance(x, list) else [x]  # lists, as in _train_step
        ys = y if y is None or isinstance(y, list) else [y]
        fast = fast_path()
        program = self._run_program(fast=fast, inference=True)
        n = len(xs[0])
        parts = engine.batch_parts(n, self._all_leaves(), training=False, fast=fast)

        def part(sl):
            outs, trace = run_forward(program, [v[sl] for v in xs])
            if ys is None:
                return outs, None, None
            loss, per_output, _, _ = self._loss_and_grad(
                [None if v is None else v[sl] for v in ys],
                outs,
                trace,
                program,
                None if sample_weight is None else sample_weight[sl],
            )
            loss += activity_penalty(trace.caches)
            share = (sl.stop - sl.start) / n
            return (
                outs,
                loss * share,
                [
                    None if loss_value is None else loss_value * share
                    for loss_value in per_output
                ],
            )

        results = parallel.run(part, parts)
        outs = [
            results[0][0][i]
            if len(results) == 1
            else np.concatenate([r[0][i] for r in results])
            for i in range(len(results[0][0]))
        ]
        out = outs[0] if len(outs) == 1 else outs
        if ys is None:
            return out, None
        self._last_output_losses = [
            None if loss is None else sum(r[2][i] for r in results)
            for i, loss in enumerate(results[0][2])
        ]
        return out, sum(r[1] for r in results) + self._weight_penalty()

    def _weight_penalty(self):
        """Every weight regularizer's penalty over the trainable weights: Keras adds it to the loss
        that fit, evaluate and val_loss report, as it adds the activity regularizers' (per forward
        pass, ``activity_penalty``)."""
        return sum(
            layer.weight_penalty()
            for layer in self._all_leaves()
            if hasattr(layer, "weight_penalty")
        )

    def _step_logs(self, loss_sum, output_sums, seen, metrics):
        """The logs of a step or an epoch, named and ordered as Keras 3 names them."""
        heads = self._output_heads()
        logs = {"loss": loss_sum / seen}
        if len(heads) > 1:
            for head, s in zip(heads, output_sums):
                if s is not None:
                    logs[f"{head.name}_loss"] = s / seen
            logs.update({m.name: m.result() for m in metrics})
            return dict(
                sorted(logs.items())
            )  # Keras 3 reports several outputs' logs sorted by name
        logs.update({m.name: m.result() for m in metrics})
        return logs

    def train_on_batch(self, x, y, return_dict=False):
        self._require_compiled("train_on_batch")
        xs, ys = training.as_arrays(x, y, "train_on_batch", self)
        xs = self._check_inputs(xs, "train_on_batch")
        if any(not np.isfinite(v).all() for v in xs) or not all(
            training.finite_labels(v) for v in ys if v is not None
        ):
            raise CnnlabError(
                "train_on_batch(): the batch contains NaN or inf (in x or y); the weights were "
                "not updated. Clean the data before training."
            )
        loss, out = self._train_step(xs, ys)
        return self._format_result(loss, ys, out, return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled("test_on_batch")
        xs, ys = training.as_arrays(x, y, "test_on_batch", self)
        xs = self._check_inputs(xs, "test_on_batch")
        out, loss = self._infer(xs, ys)
        return self._format_result(loss, ys, out, return_dict)

    def _format_result(self, loss, ys, out, return_dict):
        metrics = self._build_metrics(ys)
        outs = out if isinstance(out, list) else [out]
        for m in metrics:
            m.reset_state()
        for head, yi, oi in zip(self._output_heads(), ys, outs):
            for m in head.metrics:
                m.update_state(yi, oi)
        values = self._step_logs(loss, self._last_output_losses, 1, metrics)
        if return_dict:
            return values
        return training.ordered_values(self, values)

    def predict_on_batch(self, x):
        return self._format_predictions(
            self._infer(self._check_inputs(x, "predict_on_batch"))[0]
        )

    def _format_predictions(self, out):
        if isinstance(self._structure_out, dict):
            return dict(zip(self._structure_out, out))
        return out

    # ---- whole data sets ----------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        initial_epoch=0,
        steps_per_epoch=None,
        class_weight=None,
        sample_weight=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for ``epochs`` passes over ``(x, y)`` in mini-batches of ``batch_size`` (32).

        One epoch is ``ceil(N / batch_size)`` updates (seed 002 calls it one
        update; with mini-batches it is one per batch). Returns a ``History``.
        """
        self._require_compiled("fit")
        self._warn_if_trainable_changed()
        return training.fit(
            self,
            x,
            y,
            batch_size,
            epochs,
            verbose,
            callbacks,
            validation_split,
            validation_data,
            shuffle,
            initial_epoch,
            validation_batch_size,
            validation_freq,
            steps_per_epoch,
            class_weight,
            sample_weight,
            validation_steps,
        )

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        return_dict=False,
        sample_weight=None,
        steps=None,
        callbacks=None,
    ):
        """Loss (and metrics) over the whole data: ``[loss, metric...]``, or the loss alone without metrics."""
        self._require_compiled("evaluate")
        self._warn_if_trainable_changed()
        return training.evaluate(
            self,
            x,
            y,
            batch_size,
            verbose,
            return_dict,
            sample_weight,
            steps,
            callbacks,
        )

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for every sample, in batches (a list for several outputs, a dict for dict outputs)."""
        return self._format_predictions(
            training.predict(self, x, batch_size, verbose, steps, callbacks)
        )

    # ---- description --------------------------------------------------
    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        show_formula=False,
        **kwargs,
    ):
        text = summary_mod.render(self, line_length, positions, show_formula)
        if print_fn is None:
            print(text, end="")
        else:
            print_fn(text)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    @property
    def keras_class_name(self):
        """``keras.Model(inputs, outputs)`` makes a ``Functional`` in Keras (the summary's type column,
        the ``.keras`` file's weight keys); a subclass keeps its own name."""
        return (
            "Functional"
            if type(self) is Model and not self._subclassed
            else type(self).__name__
        )

    # ---- files (cnnlab.saving, reached through model/files.py) ------------
    def get_config(self):
        """Keras 3's config of this model (``cnnlab.saving.keras_config``, the one serializer): for a
        functional model its layers, their calls, ``input_layers`` and ``output_layers``."""
        return files.saving().keras_config.serialize_model(self, include_compile=False)[
            "config"
        ]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The functional model ``get_config`` describes, with new weights (the reader of ``load_model``)."""
        return files.saving().model_from_config.model_from_config(
            {"class_name": "Functional", "config": config},
            compile=False,
            custom_objects=custom_objects,
        )

    def to_json(self, **kwargs):
        """The model's Keras config as JSON text (``keras.models.model_from_json`` reads it back)."""
        return files.saving().to_json(self, **kwargs)

    def save(self, filepath, overwrite=True, **kwargs):
        """Save the whole model: a Keras 3 ``.keras`` file, or a legacy ``.h5`` file (atomically)."""
        files.saving().save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights as ``.weights.h5`` (Keras's layout), legacy ``.h5`` or ``.safetensors``."""
        files.saving().save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights from ``.weights.h5``, ``.keras``, legacy ``.h5`` or ``.safetensors``, checked first."""
        files.saving().load_weights(self, filepath)


class _AsLayer:
    """A subclassed model as the one step of its own program: the Layer base's
    ``forward``/``backward`` (its ``call``, differentiated by the op tape)."""

    def __init__(self, model):
        self.model = model
        self.name = model.name

    def forward(self, x, training=False):
        if self._call_without_backward():
            if training:
                raise CnnlabError(
                    f"Model '{self.model.name}' ({type(self.model).__name__}) defines call() but cnnlab cannot "
                    f"differentiate it yet, so it cannot be trained (it would silently learn nothing). Give the "
                    f"class explicit _forward(x, training) -> (y, cache) and _backward(dy, cache, need_dx) -> "
                    f"(dx, grads), or build the model with the functional API. Received: call() only"
                )
            return self.model.call(x), None  # inference: the user's call, run on arrays
        return Layer.forward(self.model, x, training)

    def _call_without_backward(self):
        """True when the class writes call() but neither forward nor _forward, and the Layer
        base has no mechanism yet that runs and differentiates call() (the op tape)."""
        cls = type(self.model)
        return (
            getattr(cls, "call", None) is not None
            and getattr(Layer, "call", None) is None
            and cls._forward is Layer._forward
            and cls.forward is Model.forward
        )

    def backward(self, dy, cache, skip_activation=False, need_dx=True):
        return Layer.backward(
            self.model, dy, cache, skip_activation=skip_activation, need_dx=need_dx
        )


def _has_rules(layer):
    """True when the layer or one of its sub-layers (a custom layer's) has a regularizer or constraint."""
    return bool(
        getattr(layer, "weight_regularizers", None)
        or getattr(layer, "weight_constraints", None)
        or getattr(layer, "_sublayers", list)()
    )


def _one_array_list(x):
    """A list holding one array (or None): the per-input / per-output list form, not a batch."""
    return len(x) == 1 and (x[0] is None or isinstance(x[0], np.ndarray))


def _tracked_layers(model):
    """A subclassed model's layers: the Layer attributes it holds, in assignment order."""
    out = []
    for value in model.__dict__.values():
        items = value if isinstance(value, (list, tuple)) else [value]
        for v in items:
            if isinstance(v, Layer) and v is not model and all(v is not o for o in out):
                out.append(v)
    return out


def _snake(name):
    from ..layers.base import snake_case

    return snake_case(name)


def _restructure(structure, flat):
    """The inverse of :func:`_structure`: the tensor, list or dict the model was given."""
    if isinstance(structure, dict):
        return dict(zip(structure, flat))
    return list(flat) if isinstance(structure, list) else flat[0]


def _structure(value, where):
    """A tensor, list or dict of KerasTensors -> ``(structure, flat list)``."""
    if isinstance(value, dict):
        flat = list(value.values())
        structure = {k: None for k in value}
    elif isinstance(value, (list, tuple)):
        flat, structure = list(value), [None] * len(value)
    else:
        flat, structure = [value], None
    for t in flat:
        if not isinstance(t, graph_mod.KerasTensor):
            raise CnnlabError(
                f"{where} must be KerasTensors (from keras.Input and layer calls), not arrays. "
                f"Received: {type(t).__name__}"
            )
    return structure, flat
