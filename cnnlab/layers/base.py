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

import re
import warnings
from dataclasses import dataclass

import numpy as np

from ..backend import floatx
from ..errors import CnnlabError, ShapeError
from ..ops import activations as act_ops
from . import constraints, initializers, regularizers
from ..registry import lookup
from . import graph

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
    except (ValueError, TypeError) as e:          # nested lists of unequal lengths
        raise ShapeError(f"{where}: expects an array of numbers, but the input cannot be read as one ({e}). "
                         f"Received: {type(x).__name__}") from None
    if arr.dtype.kind not in "biuf":
        raise ShapeError(f"{where}: expects a numeric array. Received: dtype={arr.dtype}")
    if arr.ndim == 0:
        raise ShapeError(f"{where}: expects a batch of samples (the batch axis first), got a scalar. "
                         f"Received: input shape=()")
    if 0 in arr.shape:
        raise ShapeError(f"{where}: expects a non-empty batch, but an axis of the input has length 0. "
                         f"Received: input shape={arr.shape}")
    return arr if arr.dtype == floatx else arr.astype(floatx)


@dataclass
class Cache:
    core: object        # what the op's backward needs
    z: object = None    # the op's output, before the activation
    y: object = None    # after the activation
    activity_penalty: float = 0.0   # activity_regularizer(y) / batch size, part of the loss


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
    rules = getattr(layer, "weight_regularizers", None) or {}
    names = getattr(layer, "trainable_weight_names", None)
    if names is None:
        return [None] * len(layer.trainable_weights)
    return [rules[k].gradient(layer._weights[k]) if k in rules else None for k in names]


class Layer:
    """Base class. Subclasses set ``input_rank`` (with the batch axis, or None
    for any) and override ``build``, ``compute_output_shape``, ``_forward``,
    ``_backward`` and ``get_config``."""

    input_rank: int | None = None
    stochastic = False  # draws random numbers in training (Dropout)
    # Training must see the whole batch at once (BatchNormalization's batch statistics):
    # the batch is then never split across threads (cnnlab.model.parallel).
    needs_whole_batch = False
    # Weights never trained by the optimizer, whatever ``trainable`` says (BN's moving statistics).
    non_trainable_names: tuple = ()
    can_crop = False    # forward accepts crop_to (Conv)
    rank_hint = ""      # how to describe the expected input, e.g. "(batch, height, width, channels)"

    def __init__(self, activation=None, name=None, trainable=True, dtype=None, input_shape=None,
                 batch_input_shape=None, activity_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._inbound_nodes = []     # one Node per call on symbolic tensors (cnnlab.layers.graph)
        self.trainable = trainable
        self.built = False
        self._weights: dict[str, np.ndarray] = {}
        self.weight_regularizers: dict = {}     # weight name -> Regularizer (set_weight_rules)
        self.weight_constraints: dict = {}      # weight name -> Constraint
        self.activity_regularizer = self._rule(regularizers.get, "activity_regularizer", activity_regularizer)
        if self.activity_regularizer is not None:
            # Keras divides the output's penalty by the batch size: one batch, not thread parts.
            self.needs_whole_batch = True
        self.input_shape_arg = None
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            self.input_shape_arg = self._check_input_shape_arg(tuple(input_shape))
            warn_input_shape(self.name)
        self.activation_name = "linear" if activation is None else _activation_name(activation)
        self._act_forward, self._act_backward = act_ops.get(self.activation_name)
        self._act_kwargs = {}
        self.input_shape = None
        self.output_shape = None

    # ---- shapes -------------------------------------------------------
    def _check_input_shape_arg(self, shape):
        """``input_shape`` is one sample's shape; say so if it holds the batch axis."""
        if self.input_rank is not None and len(shape) != self.input_rank - 1:
            extra = ""
            if len(shape) == self.input_rank:
                extra = (f" It looks like it includes the batch axis: `input_shape` is the shape of one sample, "
                         f"e.g. input_shape={shape[1:]}.")
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
                hint = (" The channel axis seems to be missing: for grayscale images add it with "
                        "x[..., None] (or x.reshape(-1, *x.shape[1:], 1)).")
            raise ShapeError(
                f"Input 0 of layer '{self.name}' ({type(self).__name__}) is incompatible: expected rank "
                f"{self.input_rank} {self.rank_hint}, found rank {len(input_shape)}.{hint} "
                f"Received: input shape={tuple(input_shape)}"
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

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
            self.output_shape = _as_shapes(self.compute_output_shape(batchless))
            return self.output_shape
        return _as_shapes(self.compute_output_shape(batchless))

    # ---- weights ------------------------------------------------------
    def add_weight(self, name, shape, initializer="zeros", dtype=None):
        value = np.asarray(initializers.get(initializer)(tuple(shape), dtype=dtype or floatx), dtype=dtype or floatx)
        self._weights[name] = value
        return value

    @property
    def weights(self):
        return list(self._weights.values())

    @property
    def weight_names(self):
        return list(self._weights)

    @property
    def trainable_weight_names(self):
        """Names of the weights the optimizer updates (none when ``trainable`` is False)."""
        return [k for k in self._weights if k not in self.non_trainable_names] if self.trainable else []

    @property
    def trainable_weights(self):
        return [self._weights[k] for k in self.trainable_weight_names]

    @property
    def non_trainable_weights(self):
        trained = set(self.trainable_weight_names)
        return [w for k, w in self._weights.items() if k not in trained]

    def get_weights(self):
        return [w.copy() for w in self._weights.values()]

    def set_weights(self, weights):
        """Copy ``weights`` in (Keras layouts), checking count and shapes first."""
        weights = list(weights)
        if len(weights) != len(self._weights):
            raise ShapeError(
                f"Layer '{self.name}' ({type(self).__name__}) has {len(self._weights)} weights "
                f"{self.weight_names} but {len(weights)} were given. Received: {len(weights)} arrays"
            )
        for (key, current), new in zip(self._weights.items(), weights):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ShapeError(
                    f"Layer '{self.name}' ({type(self).__name__}): weight '{key}' has shape {current.shape}, "
                    f"the given array has shape {new.shape}. Received: shape={new.shape}"
                )
        for current, new in zip(self._weights.values(), weights):
            np.copyto(current, np.asarray(new, dtype=current.dtype))  # in place: optimizers keep their views

    # ---- regularizers and constraints -----------------------------------
    def _rule(self, get, key, value):
        """``regularizers.get``/``constraints.get`` with the layer and the argument in the error."""
        try:
            return get(value)
        except ValueError as e:
            raise CnnlabError(f"{type(self).__name__} '{self.name}': `{key}`: {e}") from None

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
        config = {f"{w}_regularizer": regularizers.serialize(self.weight_regularizers.get(w)) for w in weights}
        config.update({f"{w}_constraint": constraints.serialize(self.weight_constraints.get(w)) for w in weights})
        return config

    def weight_penalty(self) -> float:
        """The weight regularizers' penalty over the trainable weights (Keras adds it to the loss)."""
        trained = self.trainable_weight_names
        return sum(reg(self._weights[k]) for k, reg in self.weight_regularizers.items() if k in trained)

    def apply_constraints(self):
        """Project the constrained trainable weights, in place (after each optimizer update)."""
        for k in self.trainable_weight_names:
            if k in self.weight_constraints:
                np.copyto(self._weights[k], self.weight_constraints[k](self._weights[k]))

    def _check_weight_rules(self):
        for k, con in self.weight_constraints.items():
            if k in self._weights:
                con.check_shape(self._weights[k].shape, f"{type(self).__name__} '{self.name}', {k}_constraint")

    def count_params(self):
        return int(sum(w.size for w in self._weights.values()))

    # ---- computation --------------------------------------------------
    def _forward(self, x, training):
        """The op's forward: ``x -> (z, core_cache)``."""
        return x, None

    def _backward(self, dz, core_cache, need_dx=True):
        """The op's backward: ``dz -> (dx, [grad per trainable weight])``; ``dx``
        may be None when ``need_dx`` is False (the model's first layer)."""
        return dz, []

    def used_input_extent(self, input_shape):
        """How many leading cells of each spatial axis this layer reads (None: all).
        A valid pooling 11 -> 5 reads only 10, so the layer before may skip the last."""
        return None

    def forward(self, x, training=False, crop_to=None):
        """``x -> (y, cache)``: the op, then the activation. ``crop_to`` (layers that
        support it) computes only the first ``crop_to[i]`` outputs per spatial axis."""
        z, core = self._forward(x, training, crop_to) if crop_to else self._forward(x, training)
        y = z if self.activation_name == "linear" else self._act_forward(z, **self._act_kwargs)
        cache = Cache(core, z, y)
        if self.activity_regularizer is not None:
            cache.activity_penalty = self.activity_regularizer(y) / len(y)
        return y, cache

    def backward(self, dy, cache: Cache, skip_activation=False, need_dx=True):
        """``dy -> (dx, grads)``. ``skip_activation`` means ``dy`` is already the
        gradient of the pre-activation ``z`` (the fused softmax + cross-entropy path)."""
        if self.activity_regularizer is not None and not skip_activation:
            dy = dy + self.activity_regularizer.gradient(cache.y) / dy.dtype.type(len(dy))
        dz = dy if (skip_activation or self.activation_name == "linear") else self._act_backward(
            dy, cache.z, cache.y, **self._act_kwargs)
        return self._backward(dz, cache.core, need_dx)

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
            raise AttributeError(f"Layer '{self.name}' has never been called and thus has no defined {what}.")
        values = getattr(nodes[0], attr)
        if what == "input" and nodes[0].call_args == "single":
            return values[0]
        return values[0] if len(values) == 1 else list(values)

    def __call__(self, x, training=None):
        if graph.is_symbolic(x):
            return graph.symbolic_call(self, x, training)
        x = as_float_input(x, f"Layer '{self.name}' ({type(self).__name__})")
        self.ensure_built(x.shape)
        self.check_input(x)
        return self.forward(x, training)[0]

    @property
    def ends_in_softmax(self):
        """True when the layer's output is a softmax over the last axis (fused loss path)."""
        return self.activation_name == "softmax" and self._act_kwargs.get("axis", -1) in (-1,)

    def check_input(self, x):
        """Hook for layers with more to check than the rank (channels, sizes)."""

    # ---- config -------------------------------------------------------
    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": floatx}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
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


def _activation_name(activation):
    if callable(activation):
        for name, (fwd, _) in act_ops.ACTIVATIONS.items():
            if fwd is activation:
                return name
        raise ValueError(f"Unknown activation function {activation!r}; pass a name such as 'relu'.")
    # Keras's rule: activation names are exact ("relu", not "ReLU"); a clear error lists the known ones.
    lookup("activation", activation, act_ops.ACTIVATIONS, "activation")
    return activation


def warn_input_shape(layer_name):
    warnings.warn(
        f"Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential models, "
        f"prefer using an `Input(shape)` object as the first layer in the model instead. ({layer_name})",
        UserWarning, stacklevel=4)


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
