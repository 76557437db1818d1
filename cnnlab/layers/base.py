"""The Layer base class: weights, lazy build, forward beside backward.

A layer turns an op into an object with weights. Its two halves:

* ``forward(x, training) -> (y, cache)``: the op's forward, then the layer's
  activation (``Conv2D(..., activation="relu")`` applies ReLU to the op's
  output ``z``);
* ``backward(dy, cache) -> (dx, grads)``: the activation's backward, then the
  op's. ``grads`` lines up with ``layer.trainable_weights``.

The cache travels with the caller instead of living in the layer, so one
layer can run on two halves of a batch at once (see ``cnnlab.model.parallel``).

Keras's face (``layer(x)``, ``build``, ``get_weights``, ``get_config``) sits on top.
"""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..backend import floatx
from ..errors import CnnlabError, ShapeError
from ..ops import activations as act_ops
from ..ops import tape
from ..registry import lookup
from . import constraints, graph, initializers, regularizers
from .variable import Variable

_uids: dict[str, int] = {}


def unique_name(prefix: str) -> str:
    """``conv2d``, then ``conv2d_1``, ``conv2d_2``... as Keras names layers."""
    count = _uids.get(prefix, 0)
    _uids[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session():
    """Reset automatic names (``keras.backend.clear_session``)."""
    _uids.clear()


def snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def as_float_input(x, where):
    """Cast an input batch to float32 as Keras does (uint8 pixels, ``x / 255.0`` float64,
    other integers and bools included); refuse what cannot be a number, a scalar (no
    batch axis) and an empty array (an axis of length 0)."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:  # nested lists of unequal lengths
        raise ShapeError(
            f"{where}: expects an array of numbers, but the input cannot be read as one ({e}). "
            f"Received: {type(x).__name__}"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise ShapeError(
            f"{where}: expects a numeric array. Received: dtype={arr.dtype}"
        )
    if arr.ndim == 0:
        raise ShapeError(
            f"{where}: expects a batch of samples (the batch axis first), got a scalar. "
            f"Received: input shape=()"
        )
    if 0 in arr.shape:
        raise ShapeError(
            f"{where}: expects a non-empty batch, but an axis of the input has length 0. "
            f"Received: input shape={arr.shape}"
        )
    return arr if arr.dtype == floatx else arr.astype(floatx)


@dataclass
class Cache:
    core: object  # what the op's backward needs
    z: object = None  # the op's output, before the activation
    y: object = None  # after the activation
    activity_penalty: float = (
        0.0  # activity_regularizer(y) / batch size, part of the loss
    )


def activity_penalty(caches) -> float:
    """The activity regularizers' share of the loss, from a forward pass's caches (a nested
    model's cache is its own trace, with ``caches`` of its own)."""
    total = 0.0
    for c in caches:
        if isinstance(c, Cache):
            total += c.activity_penalty
        elif hasattr(c, "caches"):
            total += activity_penalty(c.caches)
    return total


def penalty_gradients(layer) -> list:
    """The weight regularizers' gradients, one per trainable weight of ``layer`` (None where a
    weight has no regularizer): what the training step adds to the loss's gradients."""
    if not hasattr(layer, "trainable_slots"):
        return [None] * len(layer.trainable_weights)
    return [
        owner.weight_regularizers[k].gradient(owner._weights[k])
        if k in owner.weight_regularizers
        else None
        for owner, k in layer.trainable_slots()
    ]


class Layer:
    """Base class. Built-in layers set ``input_rank`` (with the batch axis, or None
    for any) and override ``build``, ``compute_output_shape``, ``_forward``,
    ``_backward`` and ``get_config``.

    A user's layer, as in Keras, overrides ``build(input_shape)`` (weights from
    ``add_weight``) and ``call(inputs, training=None)`` written with ``keras.ops``;
    its backward comes from the tape (``cnnlab.ops.tape``). Layers held as its
    attributes (also in lists and dicts) are its sub-layers: their weights are
    its weights. Instead of the tape, a layer may define its own
    ``backward(self, dy, x) -> (dx, [grad per trainable weight])``, where ``x``
    is the input its ``call`` received (the explicit form the seeds teach).
    """

    input_rank: int | None = None
    _custom_call = False  # set per class by __init_subclass__
    _own_backward = False
    stochastic = False  # draws random numbers in training (Dropout)
    # Training must see the whole batch at once (BatchNormalization's batch statistics):
    # the batch is then never split across threads (cnnlab.model.parallel).
    needs_whole_batch = False
    # Weights never trained by the optimizer, whatever ``trainable`` says (BN's moving statistics).
    non_trainable_names: tuple = ()
    can_crop = False  # forward accepts crop_to (Conv)
    rank_hint = ""  # how to describe the expected input, e.g. "(batch, height, width, channels)"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A user's layer defines ``call``; built-in layers define ``_forward``/``_backward``. Where a
        # class defines both, the more derived one says which runs (a Dense subclass with its own
        # call runs the call; a class writing _forward/_backward beside its call runs those).
        cls._custom_call = cls.call is not Layer.call and not issubclass(
            _defining_class(cls, "_forward"), _defining_class(cls, "call")
        )
        cls._call_takes_training = (
            cls._custom_call and "training" in inspect.signature(cls.call).parameters
        )
        # A user's own backward (the explicit form): called with the arguments the model passes.
        own_backward = cls.__dict__.get("backward")
        if (
            own_backward is not None
            and not cls.__module__.startswith("cnnlab.")
            and not _takes(own_backward, "need_dx")
        ):
            cls.backward = _with_model_arguments(own_backward)
        if own_backward is not None and cls._custom_call:
            cls._own_backward = True  # call + backward(dy, x): no tape

    def __init__(
        self,
        activation=None,
        name=None,
        trainable=True,
        dtype=None,
        input_shape=None,
        batch_input_shape=None,
        activity_regularizer=None,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._inbound_nodes = []  # one Node per call on symbolic tensors (cnnlab.layers.graph)
        self.trainable = trainable
        self.built = False
        self._weights: dict[str, np.ndarray] = {}
        self.weight_regularizers: dict = {}  # weight name -> Regularizer (set_weight_rules)
        self.weight_constraints: dict = {}  # weight name -> Constraint
        self.activity_regularizer = self._rule(
            regularizers.get, "activity_regularizer", activity_regularizer
        )
        if self.activity_regularizer is not None:
            # Keras divides the output's penalty by the batch size: one batch, not thread parts.
            self.needs_whole_batch = True
        self._variables: dict[str, Variable] = {}
        self._non_trainable_names: set[str] = set()  # add_weight(..., trainable=False)
        self.input_shape_arg = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            self.input_shape_arg = self._check_input_shape_arg(tuple(input_shape))
            warn_input_shape(self.name)
        self.activation = activation
        self.input_shape = None
        self.output_shape = None

    # ---- activation ---------------------------------------------------
    @property
    def activation(self):
        """The activation function (``keras.activations.linear`` for none)."""
        return self._act_forward

    @activation.setter
    def activation(self, activation):
        """``None``, a name or a function (``layer.activation = None`` gives logits, as Keras's
        Grad-CAM example does): forward, backward, config and the fused loss follow it."""
        self.activation_name = (
            "linear" if activation is None else _activation_name(activation)
        )
        self._act_forward, self._act_backward = act_ops.get(self.activation_name)
        self._act_kwargs = {}

    # ---- shapes -------------------------------------------------------
    def _check_input_shape_arg(self, shape):
        """``input_shape`` is one sample's shape; say so if it holds the batch axis."""
        if self.input_rank is not None and len(shape) != self.input_rank - 1:
            extra = ""
            if len(shape) == self.input_rank:
                extra = (
                    f" It looks like it includes the batch axis: `input_shape` is the shape of one sample, "
                    f"e.g. input_shape={shape[1:]}."
                )
            elif len(shape) == self.input_rank - 2:
                extra = f" Add the channel axis, e.g. input_shape={shape + (1,)}."
            raise ShapeError(
                f"Layer '{self.name}' ({type(self).__name__}) expects `input_shape` with {self.input_rank - 1} "
                f"entries {self.rank_hint.replace('batch, ', '')}.{extra} Received: input_shape={shape}"
            )
        return shape

    def check_input_shape(self, input_shape):
        """Refuse an input of the wrong rank with a message that says how to fix it."""
        if self.input_rank is not None and len(input_shape) != self.input_rank:
            hint = ""
            if len(input_shape) == self.input_rank - 1 and self.input_rank >= 3:
                hint = (
                    " The channel axis seems to be missing: for grayscale images add it with "
                    "x[..., None] (or x.reshape(-1, *x.shape[1:], 1))."
                )
            raise ShapeError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible: expected rank "
                f"{self.input_rank} {self.rank_hint}, found rank {len(input_shape)}.{hint} "
                f"Received: input shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        """The output's shape for ``input_shape`` (batch axis first, may be None). A user's layer
        without its own method gets it, as in Keras, by running ``call`` (on a zero batch)."""
        if self._custom_call:
            return self._probe_output_shape(input_shape)
        return tuple(input_shape)

    def _probe_output_shape(self, input_shape):
        """Run ``call`` in inference mode on a batch of two zero samples; also builds the
        sub-layers that ``call`` builds on first use, so that the model sees their weights."""
        if any(d is None for d in tuple(input_shape)[1:]):
            raise ShapeError(
                f"Layer '{self.name}' ({type(self).__name__}): cnnlab finds a custom layer's output shape by "
                f"running call() on a small zero batch, which needs every axis but the batch one. Define "
                f"compute_output_shape(self, input_shape). Received: input shape={tuple(input_shape)}"
            )
        y, _ = self._call_forward(
            np.zeros((2, *tuple(input_shape)[1:]), dtype=floatx), training=False
        )
        return (input_shape[0], *np.shape(y)[1:])

    def build(self, input_shape):
        """Create the weights for ``input_shape`` (batch axis first, may be None)."""
        self.built = True

    def ensure_built(self, input_shape):
        """Build for ``input_shape`` on first use; return the output shape for it.
        ``input_shape`` is a list of shapes for layers that take several inputs."""
        if isinstance(input_shape, list):
            input_shape = [tuple(s) for s in input_shape]
            batchless = [(None,) + s[1:] for s in input_shape]
        else:
            input_shape = tuple(input_shape)
            batchless = (None,) + input_shape[1:]
        self.check_input_shape(input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._check_weight_rules()
            self.input_shape = batchless
            if (
                self._custom_call
                and type(self).compute_output_shape is not Layer.compute_output_shape
                and not isinstance(batchless, list)
                and None not in batchless[1:]
            ):
                self._probe_output_shape(
                    batchless
                )  # builds the sub-layers that call() builds
            self.output_shape = _as_shapes(self.compute_output_shape(batchless))
            return self.output_shape
        return _as_shapes(self.compute_output_shape(batchless))

    # ---- weights ------------------------------------------------------
    def add_loss(self, loss):
        """Keras's ``add_loss`` (a penalty computed inside ``call``) is not supported: say so instead of
        training without it."""
        raise CnnlabError(
            f"Layer '{self.name}' ({type(self).__name__}): cnnlab does not support add_loss() yet. "
            f"Put the penalty in a weight regularizer (kernel_regularizer=keras.regularizers.L2(...)), "
            f"an activity_regularizer, or the loss function you compile with. "
            f"Received: add_loss({type(loss).__name__})"
        )

    def add_weight(
        self,
        *args,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        overwrite_with_gradient=False,
        name=None,
    ):
        """Create a weight, as Keras 3: ``add_weight(shape=(3, 4), initializer="zeros",
        trainable=True, name="kernel")``, or positionally ``add_weight(shape, initializer, dtype)``.
        Also cnnlab's and Keras 2's ``add_weight(name, shape, initializer)``. Returns the
        :class:`Variable`; ``trainable=False`` keeps the weight out of the gradients."""
        where = (
            f"Layer '{getattr(self, 'name', '?')}' ({type(self).__name__}).add_weight"
        )
        if not hasattr(self, "_weights"):
            raise CnnlabError(
                f"{where}: call super().__init__(**kwargs) at the start of __init__ first. "
                f"Received: a layer whose Layer.__init__ has not run"
            )
        if args and isinstance(args[0], str):
            if name is not None:
                raise TypeError(
                    f"{where}: `name` was passed both positionally and as a keyword argument."
                )
            name, args = args[0], args[1:]
        if len(args) > 3:
            raise TypeError(
                f"{where}() takes at most 3 positional arguments but {len(args)} were given."
            )
        for key in ("shape", "initializer", "dtype")[: len(args)]:
            if locals()[key] is not None:
                raise TypeError(
                    f"{where}: `{key}` was passed both positionally and as a keyword argument."
                )
        shape, initializer, dtype = (
            list(args) + [shape, initializer, dtype][len(args) :]
        )[:3]
        dtype = np.dtype(dtype or floatx)
        if initializer is None:
            initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
        shape = (
            ()
            if shape is None
            else tuple(int(d) for d in np.atleast_1d(shape))
            if np.ndim(shape)
            else (int(shape),)
        )
        key = self._free_weight_name(name or "variable")
        self._weights[key] = np.asarray(
            initializers.get(initializer)(shape, dtype=dtype), dtype=dtype
        )
        if not trainable:
            self._non_trainable_names.add(key)
        self.set_weight_rules(key, regularizer, constraint, prefix="")
        return self.variable(key)

    def _free_weight_name(self, name):
        key, count = name, 0
        while key in self._weights:
            count += 1
            key = f"{name}_{count}"
        return key

    def variable(self, name):
        """The :class:`Variable` of this layer's own weight ``name``."""
        if name not in self._variables:
            self._variables[name] = Variable(self, name)
        return self._variables[name]

    # Sub-layers: the layers held in this layer's attributes (and in lists, tuples and dicts
    # there), found when asked, in attribute order, as Keras tracks them.
    def _sublayers(self):
        found, seen = [], {id(self)}

        def visit(item):
            if isinstance(item, Layer):
                if id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
            elif isinstance(item, (list, tuple)):
                for inner in item:
                    visit(inner)
            elif isinstance(item, dict):
                for inner in item.values():
                    visit(inner)

        for item in vars(self).values():
            visit(item)
        return found

    def _walk(self, trainable_only=False):
        """This layer and its sub-layers, depth first, each once (Keras's order of ``weights``).
        ``trainable_only`` does not enter a frozen layer."""
        order, seen, stack = [], set(), [self]
        while stack:
            layer = stack.pop()
            if id(layer) in seen or (trainable_only and not layer.trainable):
                continue
            seen.add(id(layer))
            order.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return order

    def weight_slots(self):
        """``(owner layer, name)`` of every weight: own first, then the sub-layers'."""
        return [(layer, key) for layer in self._walk() for key in layer._weights]

    def trainable_slots(self):
        """``(owner layer, name)`` of the weights the optimizer updates; ``backward``'s grads line up with them."""
        return [
            (layer, key)
            for layer in self._walk(trainable_only=True)
            for key in layer.trainable_weight_names
        ]

    @property
    def trainable_weight_names(self):
        """Names of this layer's own weights the optimizer updates (none when ``trainable`` is False):
        not BN's moving statistics (``non_trainable_names``), not ``add_weight(trainable=False)``."""
        if not self.trainable:
            return []
        return [
            k
            for k in self._weights
            if k not in self.non_trainable_names and k not in self._non_trainable_names
        ]

    @property
    def weights(self):
        return [layer._weights[key] for layer, key in self.weight_slots()]

    @property
    def weight_names(self):
        return [
            key if layer is self else f"{layer.name}/{key}"
            for layer, key in self.weight_slots()
        ]

    @property
    def trainable_weights(self):
        return [layer._weights[key] for layer, key in self.trainable_slots()]

    @property
    def non_trainable_weights(self):
        trainable = {(id(layer), key) for layer, key in self.trainable_slots()}
        return [
            layer._weights[key]
            for layer, key in self.weight_slots()
            if (id(layer), key) not in trainable
        ]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` in (Keras layouts), checking count and shapes first."""
        weights = list(weights)
        names, currents = self.weight_names, self.weights
        if len(weights) != len(currents):
            raise ShapeError(
                f"Layer '{self.name}' ({type(self).__name__}) has {len(currents)} weights "
                f"{names} but {len(weights)} were given. Received: {len(weights)} arrays"
            )
        for key, current, new in zip(names, currents, weights):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ShapeError(
                    f"Layer '{self.name}' ({type(self).__name__}): weight '{key}' has shape {current.shape}, "
                    f"the given array has shape {new.shape}. Received: shape={new.shape}"
                )
        for current, new in zip(currents, weights):
            np.copyto(
                current, np.asarray(new, dtype=current.dtype)
            )  # in place: optimizers keep their views

    # ---- regularizers and constraints -----------------------------------
    def _rule(self, get, key, value):
        """``regularizers.get``/``constraints.get`` with the layer and the argument in the error."""
        try:
            return get(value)
        except ValueError as e:
            raise CnnlabError(
                f"{type(self).__name__} '{self.name}': `{key}`: {e}"
            ) from None

    def set_weight_rules(self, weight, regularizer=None, constraint=None, prefix=None):
        """Attach ``{prefix}_regularizer``/``{prefix}_constraint`` (Keras's arguments, ``prefix``
        defaulting to the weight's name) to the weight called ``weight`` (created later, in build)."""
        prefix = prefix or weight
        reg = self._rule(regularizers.get, f"{prefix}_regularizer", regularizer)
        con = self._rule(constraints.get, f"{prefix}_constraint", constraint)
        if reg is not None:
            self.weight_regularizers[weight] = reg
        if con is not None:
            self.weight_constraints[weight] = con

    def weight_rules_config(self, *weights):
        """``{"kernel_regularizer": ..., "bias_regularizer": ..., "kernel_constraint": ..., ...}``
        for ``get_config``, serialized as Keras writes them (None where there is none)."""
        config = {
            f"{w}_regularizer": regularizers.serialize(self.weight_regularizers.get(w))
            for w in weights
        }
        config.update(
            {
                f"{w}_constraint": constraints.serialize(self.weight_constraints.get(w))
                for w in weights
            }
        )
        return config

    def weight_penalty(self) -> float:
        """The weight regularizers' penalty over the trainable weights, sub-layers' included
        (Keras adds it to the loss)."""
        return sum(
            owner.weight_regularizers[k](owner._weights[k])
            for owner, k in self.trainable_slots()
            if k in owner.weight_regularizers
        )

    def apply_constraints(self):
        """Project the constrained trainable weights (sub-layers' included), in place (after each
        optimizer update)."""
        for owner, k in self.trainable_slots():
            if k in owner.weight_constraints:
                np.copyto(
                    owner._weights[k], owner.weight_constraints[k](owner._weights[k])
                )

    def _check_weight_rules(self):
        for k, con in self.weight_constraints.items():
            if k in self._weights:
                con.check_shape(
                    self._weights[k].shape,
                    f"{type(self).__name__} '{self.name}', {k}_constraint",
                )

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ---- computation --------------------------------------------------
    def _forward(self, x, training):
        """The op's forward: ``x -> (z, core_cache)``."""
        return x, None

    def _backward(self, dz, core_cache, need_dx=True):
        """The op's backward: ``dz -> (dx, [grad per trainable weight])``; ``dx``
        may be None when ``need_dx`` is False (the model's first layer)."""
        # The identity backward fits only an identity forward: a user's _forward without a
        # _backward would train as the identity. (cnnlab's Identity layer relies on it.)
        if not _defining_class(type(self), "_forward").__module__.startswith("cnnlab."):
            self._no_backward()
        return dz, []

    def _no_backward(self):
        raise CnnlabError(
            f"Layer '{self.name}' ({type(self).__name__}) defines its forward but no backward, so cnnlab "
            f"cannot compute its gradient. Define call() with keras.ops (the tape gives the backward), or "
            f"define backward() beside the forward. Received: a training step through '{self.name}'"
        )

    def used_input_extent(self, input_shape):
        """How many leading cells of each spatial axis this layer reads (None: all).
        A valid pooling 11 -> 5 reads only 10, so the layer before may skip the last."""
        return None

    def forward(self, x, training=False, crop_to=None):
        """``x -> (y, cache)``: the op, then the activation. ``crop_to`` (layers that
        support it) computes only the first ``crop_to[i]`` outputs per spatial axis.
        A user's layer runs its ``call``, recorded on a tape (the cache)."""
        if self._custom_call:
            return self._call_forward(x, training)
        return self._op_forward(x, training, crop_to)

    def backward(self, dy, cache, skip_activation=False, need_dx=True):
        """``dy -> (dx, grads)``, grads lining up with ``trainable_weights``. ``skip_activation``
        means ``dy`` is already the gradient of the pre-activation ``z`` (the fused softmax +
        cross-entropy path). A user's layer replays its tape."""
        if self._custom_call:
            return self._call_backward(dy, cache)
        if not isinstance(cache, Cache):
            self._no_backward()
        return self._op_backward(dy, cache, skip_activation, need_dx)

    def _op_forward(self, x, training=False, crop_to=None):
        z, core = (
            self._forward(x, training, crop_to)
            if crop_to
            else self._forward(x, training)
        )
        y = (
            z
            if self.activation_name == "linear"
            else self._act_forward(z, **self._act_kwargs)
        )
        cache = Cache(core, z, y)
        if self.activity_regularizer is not None:
            cache.activity_penalty = self.activity_regularizer(y) / len(y)
        return y, cache

    def _op_backward(self, dy, cache: Cache, skip_activation=False, need_dx=True):
        if self.activity_regularizer is not None and not skip_activation:
            dy = dy + self.activity_regularizer.gradient(cache.y) / dy.dtype.type(
                len(dy)
            )
        dz = (
            dy
            if (skip_activation or self.activation_name == "linear")
            else self._act_backward(dy, cache.z, cache.y, **self._act_kwargs)
        )
        dx, grads = self._backward(dz, cache.core, need_dx)
        return dx, (grads if self.trainable else [])

    def call(self, inputs, training=None):
        """The layer's computation, as Keras's ``call``. For a built-in layer: its op and
        activation (inside another layer's recorded ``call``, one entry on the tape, whose
        backward is the layer's own)."""
        if tape.is_recorded(inputs):
            own = [
                (self, key) for layer, key in self.trainable_slots() if layer is self
            ]
            return tape.record_layer(
                f"layer '{self.name}'",
                inputs,
                bool(training),
                self._op_forward,
                lambda dy, cache, need_dx: self._op_backward(
                    dy, cache, need_dx=need_dx
                ),
                own,
            )
        return self._op_forward(tape.value(inputs), bool(training))[0]

    def _call_forward(self, x, training, **kwargs):
        if self._call_takes_training:
            kwargs["training"] = bool(training)
        if (
            self._own_backward
        ):  # the explicit form: call on plain arrays, the cache is the input
            return _one_output(self, self.call(x, **kwargs)), x
        record = tape.Tape(
            f"Layer '{self.name}' ({type(self).__name__})", bool(training)
        )
        with record:
            inputs = record.watch(x)
            out = self.call(inputs, **kwargs)
        return _one_output(self, out), tape.CallCache(record, inputs, out)

    def _tape_backward(self, dy, cache, need_dx):
        """This layer's backward as one entry of another layer's tape (a model overrides it)."""
        return self.backward(dy, cache, need_dx=need_dx)

    def _tape_slots(self):
        """The weights :meth:`_tape_backward`'s gradients line up with."""
        return self.trainable_slots()

    def _call_backward(self, dy, cache):
        slots = self.trainable_slots()
        dx, grads = tape.replay(
            cache.tape,
            cache.inputs,
            cache.output,
            dy,
            [(id(layer), k) for layer, k in slots],
            {(id(layer), k) for layer, k in self.weight_slots()},
        )
        return dx, [
            np.zeros_like(layer._weights[key]) if g is None else g
            for (layer, key), g in zip(slots, grads)
        ]

    # ---- the graph (cnnlab.layers.graph) ------------------------------------
    @property
    def input(self):
        """The symbolic input of the layer's first call (Keras's ``layer.input``)."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call (Keras's ``layer.output``)."""
        return self._node_attribute("output_tensors", "output")

    def _node_attribute(self, attr, what):
        nodes = getattr(self, "_inbound_nodes", [])
        if not nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called and thus has no defined {what}."
            )
        values = getattr(nodes[0], attr)
        if what == "input" and nodes[0].call_args == "single":
            return values[0]
        return values[0] if len(values) == 1 else list(values)

    def __call__(self, x, training=None, **kwargs):
        if graph.is_symbolic(x):
            return graph.symbolic_call(self, x, training)
        recording = tape.current()
        if (
            training is None
        ):  # inside a call, sub-layers follow the outer training flag (Keras)
            training = recording.training if recording is not None else False
        if kwargs and not self._custom_call:
            raise TypeError(
                f"Layer '{self.name}' ({type(self).__name__}) got unexpected arguments "
                f"{sorted(kwargs)}. Received: {kwargs}"
            )
        if tape.is_recorded(
            x
        ):  # called inside another layer's recorded call: one tape entry
            values = (
                tape.value(x)
                if not isinstance(x, (list, tuple))
                else [tape.value(v) for v in x]
            )
            self.ensure_built(
                np.shape(values)
                if not isinstance(values, list)
                else [v.shape for v in values]
            )
            if not isinstance(values, list):
                self.check_input(values)
            return tape.record_layer(
                f"layer '{self.name}'",
                x,
                bool(training),
                lambda v, t: (
                    self._call_forward(v, t, **kwargs) if kwargs else self.forward(v, t)
                ),
                self._tape_backward,
                self._tape_slots(),
            )
        if isinstance(
            x, tape.TensorLike
        ):  # a recorded value of a finished call, or a weight
            x = x.value
        x = as_float_input(x, f"Layer '{self.name}' ({type(self).__name__})")
        self.ensure_built(x.shape)
        self.check_input(x)
        if kwargs:
            return self._call_forward(x, training, **kwargs)[0]
        return self.forward(x, training)[0]

    @property
    def ends_in_softmax(self):
        """True when the layer's output is a softmax over the last axis (fused loss path)."""
        return self.activation_name == "softmax" and self._act_kwargs.get(
            "axis", -1
        ) in (-1,)

    def check_input(self, x):
        """Hook for layers with more to check than the rank (channels, sizes)."""

    # ---- config -------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": floatx}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(
                self.activity_regularizer
            )
        if self.input_shape_arg is not None:
            config["batch_input_shape"] = (None,) + tuple(self.input_shape_arg)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("dtype", None)
        return cls(**config)

    @property
    def keras_class_name(self):
        """The class name Keras gives this layer (a model says ``Functional`` where Keras does)."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _as_shapes(shape):
    """One output shape as a tuple, several as a list of tuples."""
    if isinstance(shape, list):
        return [tuple(s) for s in shape]
    return tuple(shape)


def _one_output(layer, out):
    """The array a user's ``call`` returned (cnnlab's layers have one output)."""
    if isinstance(out, tape.TensorLike):
        return np.array(out.value) if isinstance(out, Variable) else out.value
    if isinstance(out, (list, tuple, dict)) or out is None:
        raise CnnlabError(
            f"Layer '{layer.name}' ({type(layer).__name__}): call() must return one array; cnnlab "
            f"layers have one output. Received: {type(out).__name__}"
        )
    return np.asarray(out)


def _defining_class(cls, name):
    return next(klass for klass in cls.__mro__ if name in klass.__dict__)


def _takes(function, name):
    parameters = inspect.signature(function).parameters
    return name in parameters or any(
        p.kind == p.VAR_KEYWORD for p in parameters.values()
    )


def _with_model_arguments(backward):
    """A user's ``backward(self, dy, x)`` called with the arguments the model passes."""

    @functools.wraps(backward)
    def full_backward(self, dy, cache, skip_activation=False, need_dx=True):
        dx, grads = backward(self, dy, cache)
        return dx, list(grads)

    return full_backward


def _activation_name(activation):
    if callable(activation):
        if (
            getattr(activation, "cnnlab_activation", None) in act_ops.ACTIVATIONS
        ):  # keras.activations.X
            return activation.cnnlab_activation
        for name, (fwd, _) in act_ops.ACTIVATIONS.items():
            if fwd is activation:
                return name
        raise ValueError(
            f"Unknown activation function {activation!r}; pass a name such as 'relu'."
        )
    # Keras's rule: activation names are exact ("relu", not "ReLU"); a clear error lists the known ones.
    lookup("activation", activation, act_ops.ACTIVATIONS, "activation")
    return activation


def warn_input_shape(layer_name):
    warnings.warn(
        f"Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential models, "
        f"prefer using an `Input(shape)` object as the first layer in the model instead. ({layer_name})",
        UserWarning,
        stacklevel=4,
    )


SPATIAL_NAMES = {1: "steps", 2: "height, width", 3: "depth, height, width"}


class SpatialLayer(Layer):
    """A layer over ``(batch, *spatial, channels)`` with ``rank`` spatial axes
    (1: audio-like steps, 2: images, 3: video or volumes)."""

    rank = 2

    @property
    def input_rank(self):
        return self.rank + 2

    @property
    def rank_hint(self):
        return f"(batch, {SPATIAL_NAMES[self.rank]}, channels)"
