"""The graph of layers: symbolic tensors, nodes, topological order (Keras's functional API).

``keras.Input(shape)`` returns a :class:`KerasTensor`: a batch that has a shape
but no values. Calling a layer on KerasTensors builds the layer from their
shapes, records a :class:`Node` (this layer, applied to these tensors) and
returns new KerasTensors for its outputs. Each tensor remembers where it came
from as ``(layer, node_index, tensor_index)``, the triple Keras's config
writes: the ``node_index``-th call of ``layer``, its ``tensor_index``-th output.

``topological_nodes(inputs, outputs)`` walks back from the outputs to the
inputs and returns every node between them, each after the nodes that feed it:
the order a forward pass runs in (``cnnlab.model.executor``).

This module sits beside the layers, not in ``model/``, because ``Layer.__call__``
records nodes and the house's imports point down only.
"""

from __future__ import annotations

from ..backend import floatx
from ..errors import ShapeError


class KerasTensor:
    """A symbolic batch: ``shape`` (batch axis first, usually None), ``dtype``, ``name``,
    and ``_keras_history = (layer, node_index, tensor_index)`` once a node made it."""

    def __init__(self, shape, dtype=floatx, name=None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._keras_history = None

    @property
    def node(self):
        """The node that produced this tensor (None for a bare tensor)."""
        if self._keras_history is None:
            return None
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One application of ``layer`` to ``input_tensors``, giving ``output_tensors``.

    ``call_args`` says how the layer received its inputs: ``"single"`` (one tensor)
    or ``"list"`` (a list: merge layers, models with several inputs); the executor
    hands the values over in the same form.
    """

    def __init__(
        self, layer, input_tensors, output_tensors, call_args="single", training=None
    ):
        self.layer = layer
        self.training = None if training is None else bool(training)
        self.input_tensors = list(input_tensors)
        self.output_tensors = list(output_tensors)
        self.call_args = call_args
        self.index = len(layer._inbound_nodes)
        layer._inbound_nodes.append(self)
        for i, t in enumerate(self.output_tensors):
            t._keras_history = (layer, self.index, i)

    @property
    def parent_nodes(self):
        return [t.node for t in self.input_tensors if t.node is not None]

    @property
    def inbound(self):
        """``[(layer, node_index, tensor_index)]`` of the inputs, as Keras's config lists them."""
        return [t._keras_history for t in self.input_tensors]

    @property
    def is_input(self):
        return not self.input_tensors

    def __repr__(self):
        return f"<Node {self.layer.name}#{self.index} in={[t.name for t in self.input_tensors]}>"


def is_symbolic(x) -> bool:
    """True for a KerasTensor or a non-empty list/tuple/dict of them."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, dict):
        x = list(x.values())
    return (
        isinstance(x, (list, tuple))
        and len(x) > 0
        and all(isinstance(t, KerasTensor) for t in x)
    )


def flatten(structure):
    """A tensor, list, tuple or dict of tensors -> a flat list (dict values in order)."""
    if isinstance(structure, dict):
        return list(structure.values())
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


def symbolic_call(layer, inputs, training=None):
    """``layer(inputs)`` on KerasTensors: build the layer, record a node, return the outputs.

    ``training`` given here (``base(x, training=False)``, Keras's transfer-learning idiom) is
    fixed in the node: that call always runs in that mode, whatever ``fit`` or ``predict`` say.

    The layer describes its output through ``compute_output_shape`` (one shape, or a
    list of shapes for several outputs); ``ensure_built`` builds it and checks the input.
    """
    call_args = "list" if isinstance(inputs, (list, tuple)) else "single"
    tensors = flatten(inputs)
    for t in tensors:
        if t._keras_history is None:
            raise ShapeError(
                f"Layer '{layer.name}' ({type(layer).__name__}) was called on a KerasTensor that no "
                f"keras.Input or layer produced. Start the graph with keras.Input(shape). "
                f"Received: {t!r}"
            )
    shapes = [t.shape for t in tensors] if call_args == "list" else tensors[0].shape
    out_shape = layer.ensure_built(shapes)
    if call_args == "single":
        layer.check_input(tensors[0])  # channels, features: the layer's own checks
    multi = isinstance(out_shape, list)
    batch = (
        tensors[0].shape[0] if tensors[0].shape else None
    )  # keras.Input(batch_size=) carries through
    out_shapes = [
        (batch, *s[1:]) if s else s for s in (out_shape if multi else [out_shape])
    ]
    base = layer.name
    outputs = [
        KerasTensor(s, tensors[0].dtype, name=base if not multi else f"{base}_{i}")
        for i, s in enumerate(out_shapes)
    ]
    Node(layer, tensors, outputs, call_args, training)
    return outputs if multi else outputs[0]


def topological_nodes(inputs, outputs, where="Model"):
    """The nodes from ``inputs`` to ``outputs``, each after the nodes that feed it.

    Depth-first with an explicit stack (a graph thousands of nodes deep must not
    hit Python's recursion limit). Raises a clear error when an output depends on
    an Input that is not one of ``inputs``, naming it.
    """
    for t in list(inputs) + list(outputs):
        if not isinstance(t, KerasTensor) or t._keras_history is None:
            raise ShapeError(
                f"{where}: inputs and outputs must be KerasTensors made by keras.Input and layer "
                f"calls. Received: {t!r} of type {type(t).__name__}"
            )
    for t in inputs:
        if not t.node.is_input:
            raise ShapeError(
                f"{where}: every input must come straight from keras.Input; {t.name!r} {t.shape} "
                f"is the output of layer '{t.node.layer.name}'. Received: inputs={[x.name for x in inputs]}"
            )
    input_nodes = {id(t.node) for t in inputs}
    order, done, first_seen = [], set(), {}
    for out in outputs:
        stack = [(out.node, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0 and id(node) in done:
                continue
            if i == 0:
                first_seen.setdefault(id(node.layer), len(first_seen))
            if node.is_input:
                if id(node) not in input_nodes:
                    given = ", ".join(repr(t.name) for t in inputs)
                    raise ShapeError(
                        f"{where}: the graph is disconnected: the output {out.name!r} {out.shape} depends on the "
                        f"Input {node.layer.name!r} {node.output_tensors[0].shape}, which is not among the model's "
                        f"inputs ({given}). Add it to `inputs`, or build the output from the given inputs. "
                        f"Received: inputs=[{given}]"
                    )
                done.add(id(node))
                order.append(node)
                continue
            if i < len(node.input_tensors):
                stack.append((node, i + 1))
                parent = node.input_tensors[i].node
                if id(parent) not in done:
                    stack.append((parent, 0))
            else:
                done.add(id(node))
                order.append(node)
    return order, first_seen


def keras_layer_order(nodes, first_seen, inputs):
    """The layers as Keras's ``model.layers`` lists them: by depth (the longest path to an
    output), deepest first, ties in the order the walk from the outputs first met them;
    unused Inputs count as depth 0."""
    depth = {}
    layer_depth = {}
    in_graph = {id(n) for n in nodes}
    for node in reversed(nodes):
        d = max(depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = d
        depth[id(node)] = d
        for parent in node.parent_nodes:
            if id(parent) in in_graph:
                depth[id(parent)] = max(d + 1, depth.get(id(parent), 0))
    layers = {id(n.layer): n.layer for n in nodes}
    for t in inputs:
        if id(t.node.layer) not in layer_depth:
            layers[id(t.node.layer)] = t.node.layer
            layer_depth[id(t.node.layer)] = 0
            first_seen[id(t.node.layer)] = -1
    return sorted(
        layers.values(),
        key=lambda layer: (-layer_depth[id(layer)], first_seen[id(layer)]),
    )


def get_source_inputs(tensor):
    """The ``keras.Input`` tensors that ``tensor`` was computed from, in the order first met
    (``keras.utils.get_source_inputs``): the inputs of a model whose output is ``tensor``."""
    if not isinstance(tensor, KerasTensor) or tensor._keras_history is None:
        raise ShapeError(
            f"get_source_inputs expects a KerasTensor made by keras.Input or a layer call. "
            f"Received: {tensor!r} of type {type(tensor).__name__}"
        )
    sources, seen, stack = [], set(), [tensor.node]
    while stack:  # an explicit stack: graphs thousands of nodes deep
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.is_input:
            sources.append(node.output_tensors[0])
        else:
            stack.extend(t.node for t in reversed(node.input_tensors))
    return sources
