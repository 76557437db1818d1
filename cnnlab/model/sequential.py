"""``Sequential``: a stack of layers, the linear case of the graph.

Building a Sequential calls its layers one after another on a ``keras.Input``,
so it is a functional model whose graph is a chain (``model.py``): the same
program, the same executor, the same training step. What this class adds is
Keras's way of building a stack: ``add``, ``pop``, the input shape from
``keras.Input``, a first layer's ``input_shape=`` or the first call on data.

One training step (DESIGN.md): forward through the layers, the loss and its
gradient, backward through the layers in reverse, then the optimizer
(``cnnlab.model.executor`` is where it is written out). When the last layer
ends in softmax (sigmoid) and the loss is (binary) cross-entropy, the loss reads
the layer's pre-activation ``z`` and the gradient is simply ``softmax(z) - y``,
as Keras does during ``fit``.
"""

from __future__ import annotations

from ..errors import ShapeError
from ..layers import InputLayer, KerasTensor, Layer
from ..layers.base import as_float_input, unique_name
from ..layers.core import Input
from ..ops import tape
from . import files
from .model import Model


class Sequential(Model):
    """A linear stack of layers with Keras's ``compile``/``fit``/``evaluate``/``predict``."""

    _builds_own_graph = True

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or unique_name("sequential"))
        self._layers: list[Layer] = []
        self._input_shape = None  # one sample's shape, batch axis excluded
        self._input_tensor = None  # the keras.Input the graph starts from
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    # ---- building -----------------------------------------------------
    def add(self, layer):
        if isinstance(layer, KerasTensor):
            tensor, layer = (
                layer,
                layer.input_layer
                if hasattr(layer, "input_layer")
                else layer.node.layer,
            )
            if not isinstance(layer, InputLayer):
                raise TypeError(
                    f"Sequential.add expects a layer instance or a keras.Input. Received: {tensor!r}"
                )
            if self._layers or self._input_shape is not None:
                raise ShapeError(
                    f"Sequential '{self.name}': an Input can only be the first layer."
                )
            self._input_shape = tuple(layer.shape[1:])
            self._input_tensor = tensor
            self._try_build()
            return
        if isinstance(layer, InputLayer):
            if self._layers or self._input_shape is not None:
                raise ShapeError(
                    f"Sequential '{self.name}': an Input can only be the first layer."
                )
            self._input_shape = tuple(layer.shape[1:])
            self._try_build()
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a layer instance. Received: {layer!r} of type {type(layer)}"
            )
        if (
            not self._layers
            and self._input_shape is None
            and getattr(layer, "input_shape_arg", None) is not None
        ):
            self._input_shape = tuple(layer.input_shape_arg)
        elif (
            not self._layers
            and self._input_shape is None
            and isinstance(layer, Model)
            and layer.built
            and isinstance(layer.input_shape, tuple)
        ):
            self._input_shape = tuple(
                layer.input_shape[1:]
            )  # Keras: a built model first gives its input
        names = {layer.name for layer in self._layers}
        if layer.name in names:
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. "
                f"Name '{layer.name}' is already the name of a layer in this model."
            )
        self._layers.append(layer)
        self._try_build()

    def pop(self):
        layer = self._layers.pop()
        self._try_build()
        return layer

    def _try_build(self):
        if self._input_shape is not None:
            self.build((None, *self._input_shape))
        else:
            self._program = None

    def build(self, input_shape=None):
        """Build every layer in order for ``input_shape`` (batch axis first), checking
        that each output fits the next layer: the layers are called on a keras.Input."""
        if input_shape is None:
            if self._input_shape is None:
                raise ShapeError(
                    f"Sequential '{self.name}' does not know its input shape yet: give the first "
                    f"layer input_shape=..., start with keras.Input(shape), or call the model on data."
                )
            input_shape = (None, *self._input_shape)
        shape = (None, *tuple(input_shape)[1:])
        self._input_shape = shape[1:]
        if self._input_tensor is None or tuple(self._input_tensor.shape[1:]) != tuple(
            shape[1:]
        ):
            self._input_tensor = Input(batch_shape=shape)
        self._drop_own_nodes()
        x = self._input_tensor
        for layer in self._layers:
            try:
                x = layer(x)
            except ShapeError as e:
                self._drop_own_nodes()
                raise ShapeError(
                    f"Sequential '{self.name}', layer '{layer.name}' ({type(layer).__name__}) "
                    f"with input shape {x.shape}: {e}"
                ) from None
        self._init_graph(self._input_tensor, x)
        self._own_nodes = [step.node for step in self._program.steps]
        return self.output_shape

    def _drop_own_nodes(self):
        """Forget the nodes of the previous build (each add() rebuilds the chain)."""
        for node in getattr(self, "_own_nodes", []):
            if node.layer._inbound_nodes and node.layer._inbound_nodes[-1] is node:
                node.layer._inbound_nodes.pop()
        self._own_nodes = []

    def ensure_built(self, input_shape):
        """As a layer of another model: build for ``input_shape`` on first use."""
        if isinstance(input_shape, list):
            raise ShapeError(
                f"Sequential '{self.name}' takes one input. Received: input_shape={input_shape}"
            )
        if not self.built:
            self.build(tuple(input_shape))
        self.check_input_shape(tuple(input_shape))
        return self.output_shape

    @property
    def built(self):
        return self._program is not None and all(layer.built for layer in self._layers)

    @built.setter
    def built(self, value):
        pass  # follows the program (Layer.__init__ and _init_graph assign it)

    @property
    def layers(self):
        return list(self._layers)

    def _sublayers(self):
        return list(self._layers)

    @property
    def _pool_first(self):
        """Per layer: True where the fast engine pools the raw convolution first."""
        fused = self._plan_parts()[1]
        return [i in fused for i in range(len(self._layers))]

    @property
    def _crops(self):
        """Per layer: the extent the fast engine computes (None: all of it)."""
        crops = self._plan_parts()[0]
        return [crops.get(i) for i in range(len(self._layers))]

    def _plan_parts(self):
        from . import engine

        if self._program is None:
            return {}, set()
        _, crops, fused = engine.plan(self._program)
        return crops, fused

    @property
    def input_shape(self):
        return None if self._input_shape is None else (None, *self._input_shape)

    @input_shape.setter
    def input_shape(self, value):
        pass

    @property
    def output_shape(self):
        return (
            self._layers[-1].output_shape
            if self._layers and self._layers[-1].built
            else (self.input_shape if not self._layers else None)
        )

    @output_shape.setter
    def output_shape(self, value):
        pass

    # ---- computation --------------------------------------------------
    def _check_batch(self, x, where):
        """Cast a batch to float32 and check its shape against the model's input."""
        x = as_float_input(x, f"Sequential '{self.name}' ({where})")
        self._check_shape(x.shape, where)
        return x

    def _check_inputs(self, x, where):
        if isinstance(x, list) and len(x) == 1:
            x = x[0]
        return [self._check_batch(x, where)]

    def _check_shape(self, shape, where):
        if isinstance(shape, list):
            shape = shape[0]
        shape = tuple(shape)
        if len(shape) == 0:
            raise ShapeError(
                f"Sequential '{self.name}' ({where}): expects a batch of samples, got a scalar."
            )
        if not self.built:
            self.build((None, *shape[1:]))
        expected = tuple(self._input_shape)
        if shape[1:] != expected:
            hint = ""
            if shape[1:] + (1,) == expected:
                hint = " The channel axis is missing: add it with x[..., None] (or x.reshape(-1, *x.shape[1:], 1))."
            elif shape == expected:
                hint = (
                    " This looks like a single sample: add the batch axis with x[None]."
                )
            raise ShapeError(
                f"Sequential '{self.name}' ({where}): expected input of shape (None, "
                f"{', '.join(map(str, expected))}), got {shape}.{hint} "
                f"Received: input shape={shape}"
            )

    def __call__(self, x, training=None):
        from ..layers import graph as graph_mod

        if graph_mod.is_symbolic(x):
            return graph_mod.symbolic_call(self, x, training)
        if tape.is_recorded(x):  # inside a custom layer's recorded call: one tape entry
            return Layer.__call__(self, x, training)
        training = bool(training)
        x = self._check_batch(x, "call")
        return self.forward(x, training)[0]

    # ---- description --------------------------------------------------
    def get_config(self):
        """Keras 3's config of this model (what ``config.json`` holds under ``"config"``): one
        serializer, ``cnnlab.saving.keras_config``, for files, specs and ``from_config``."""
        return files.saving().keras_config.serialize_model(self, include_compile=False)[
            "config"
        ]

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model ``get_config`` describes (new weights), through the same reader as ``load_model``."""
        return files.saving().model_from_config.model_from_config(
            {"class_name": "Sequential", "config": config},
            compile=False,
            custom_objects=custom_objects,
        )

    def __repr__(self):
        return f"<Sequential name={self.name}, built={self.built}>"
