"""The tape: how a layer written with ``keras.ops`` gets its backward.

A built-in layer has a hand-written backward. A custom layer's ``call`` is user
code, so cnnlab records it instead: while ``call`` runs, every op it calls
(``keras.ops.matmul``, ``x * 2``, ``x[:, 0]``, a built-in layer called inside)
appends one entry to a tape: the op's backward and the cache its forward
returned. The backward pass replays those explicit backwards in reverse order,
adding gradients where a value was used twice. There is no second autodiff:
the tape only calls backwards that ``cnnlab.ops`` already has.

What ``call`` receives is a :class:`Tensor`: a NumPy array (``.value``) plus the
tape it belongs to, with Python's operators mapped to the ops. The weights that
``add_weight`` returns (``cnnlab.layers.variable.Variable``) behave the same way
and are the tape's leaves for the weight gradients.

Anything the tape cannot follow is recorded as a *break*, with the line of user
code where it happened: a recorded value turned into a NumPy array (``np.tanh(x)``,
``np.asarray(x)``), an op without a backward. Inference does not need the
chain, so it still works; the backward pass refuses with an error naming the
layer and the line (:class:`TapeError`).
"""

from __future__ import annotations

import linecache
import os
import sys
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import CnnlabError

_local = (
    threading.local()
)  # each thread records its own tape (the batch split runs layers in threads)
_HERE = os.path.dirname(os.path.abspath(__file__))
_NUMPY = os.path.dirname(np.__file__)
_LAYERS = os.path.join(os.path.dirname(_HERE), "layers")


class TapeError(CnnlabError):
    """The tape cannot compute a gradient: a NumPy call or an op without backward broke the chain."""


def current():
    """The tape now recording in this thread, or None."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def user_line():
    """``file:line (code)`` of the innermost frame outside cnnlab's ops and layers and NumPy:
    the user's line that made the call."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if (
            not path.startswith((_HERE, _NUMPY, _LAYERS))
            and "<__array_function__" not in path
        ):
            code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
            return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}(): `{code}`"
        frame = frame.f_back
    return "(unknown place)"


@dataclass
class Entry:
    """One recorded op: ``output = forward(inputs)``; ``backward(d output, cache)``
    returns one gradient per input (None where there is none)."""

    name: str
    backward: object
    cache: object
    inputs: list  # Tensor, Variable (a weight) or None (a constant), per input
    output: object  # the Tensor the op returned


@dataclass
class Tape:
    """The ops one ``call`` ran, in order, and what broke the chain."""

    owner: str  # "Layer 'scale' (Scale)", for messages
    training: bool = False
    place: str = "call()"  # where the recorded code is: call(), the loss function
    entries: list = field(default_factory=list)
    breaks: list = field(default_factory=list)  # (what happened, where)

    def __enter__(self):
        if not hasattr(_local, "stack"):
            _local.stack = []
        _local.stack.append(self)
        return self

    def __exit__(self, *exc):
        _local.stack.pop()

    def watch(self, x):
        """The inputs of ``call`` as Tensors of this tape (a list stays a list)."""
        if isinstance(x, (list, tuple)):
            return type(x)(self.watch(item) for item in x)
        return Tensor(x, self)

    def record_break(self, what):
        self.breaks.append((what, user_line()))

    def node(self, t):
        """The graph node for an op input: this tape's Tensor, a weight, or None for a constant."""
        if isinstance(t, Tensor):
            if t.tape is self:
                return t
            if t.tape is not None and t.tape.is_recording():
                self.record_break(
                    "a value recorded by another layer's call was used inside this one"
                )
            return None
        if isinstance(t, TensorLike):  # a weight (Variable)
            return t
        return None

    def is_recording(self):
        return self in getattr(_local, "stack", ())


def value(t):
    """The NumPy array behind a Tensor or a weight; other values unchanged (Python numbers
    stay numbers, so ``x * 2`` keeps x's dtype)."""
    if isinstance(t, TensorLike):
        return t.value
    if isinstance(t, (list, tuple)):
        arr = np.asarray([value(item) for item in t])
        return arr.astype(np.float32) if arr.dtype == np.float64 else arr
    return t


def is_recorded(x):
    """True when ``x`` (or an item of a list) is a Tensor of the tape now recording."""
    tape = current()
    if tape is None:
        return False
    if isinstance(x, (list, tuple)):
        return any(is_recorded(item) for item in x)
    return isinstance(x, Tensor) and x.tape is tape


def apply(name, forward, backward, tensors, **params):
    """Run ``forward(*values, **params) -> (y, cache)``; while a tape records and an input
    is recorded (a Tensor of the tape, or a weight), append the op and return a Tensor.
    Otherwise return the plain array. ``backward`` None marks an op with no gradient:
    replaying it is refused."""
    y, cache = forward(*(value(t) for t in tensors), **params)
    tape = current()
    if tape is None:
        return y
    nodes = [tape.node(t) for t in tensors]
    if all(n is None for n in nodes) or not _is_float(y):
        return y  # a constant (or integers, booleans: no gradient)
    out = Tensor(np.asarray(y), tape)  # NumPy scalars become 0-d arrays
    tape.entries.append(Entry(name, backward, cache, nodes, out))
    return out


def record_layer(name, x, training, forward, backward, slots):
    """A layer called inside ``call`` is one entry: its own ``forward(x, training) -> (y, cache)``
    and ``backward(dy, cache, need_dx) -> (dx, grads)``, grads lining up with the weights
    ``slots`` names (``(owner layer, weight name)`` pairs)."""
    tape = current()
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    values = [value(t) for t in xs]
    y, cache = forward(values if isinstance(x, (list, tuple)) else values[0], training)
    input_nodes = [tape.node(t) for t in xs]
    need_dx = any(n is not None for n in input_nodes)
    weights = [owner.variable(key) for owner, key in slots]
    out = Tensor(y, tape)

    def layer_backward(dy, layer_cache):
        dx, grads = backward(dy, layer_cache, need_dx)
        dxs = list(dx) if isinstance(dx, (list, tuple)) else [dx]
        if not need_dx:
            dxs = [None] * len(xs)
        return (*dxs, *grads)

    tape.entries.append(Entry(name, layer_backward, cache, input_nodes + weights, out))
    return out


@dataclass
class CallCache:
    """What a recorded ``call`` leaves for its backward: the tape, the Tensors ``call``
    received and what it returned."""

    tape: Tape
    inputs: object
    output: object


def _is_float(y):
    return (
        np.asarray(y).dtype.kind in "fc"
        if not isinstance(y, np.ndarray)
        else y.dtype.kind in "fc"
    )


def _key(node):
    return (
        node.grad_key
        if isinstance(node, TensorLike) and not isinstance(node, Tensor)
        else id(node)
    )


def replay(tape, inputs, output, dy, weight_keys, held_keys=()):
    """The backward pass of one recorded ``call``.

    ``inputs``: the Tensors ``call`` received; ``output``: what it returned; ``dy``:
    the gradient of the output. Returns ``(dx, grads)``: ``dx`` per input (zeros
    where the output does not depend on it) and one gradient per weight of
    ``weight_keys`` (``(owner id, name)`` pairs). A gradient that reaches a weight outside
    ``held_keys`` (the layer's weights, trainable or not) would be lost: refused.
    """
    if tape.breaks:
        what, where = tape.breaks[0]
        raise TapeError(
            f"{tape.owner} cannot be trained: cnnlab computes its gradient by replaying the keras.ops calls "
            f"recorded in {tape.place}, and {what} at {where}. Write that step with keras.ops (keras.ops.exp, "
            f"keras.ops.sum, ...) instead of NumPy, or give the layer its own backward(). Inference works "
            f"as it is. Received: {len(tape.breaks)} break(s) in the chain"
        )
    grads = {}
    if isinstance(output, TensorLike):
        grads[_key(output)] = dy
    for entry in reversed(tape.entries):
        g = grads.pop(id(entry.output), None)
        if g is None:
            continue
        if entry.backward is None:
            raise TapeError(
                f"{tape.owner} cannot be trained: keras.ops.{entry.name} has no backward in cnnlab, and the "
                f"gradient has to pass through it. Write that step with ops that have one, or give the layer "
                f"its own backward(). Received: keras.ops.{entry.name} on a value of shape "
                f"{tuple(np.shape(g))}"
            )
        for node, gi in zip(entry.inputs, entry.backward(g, entry.cache)):
            if node is None or gi is None:
                continue
            key = _key(node)
            grads[key] = gi if key not in grads else grads[key] + gi
    flat_inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    dxs = [_writable(grads.get(id(t), None), t.value) for t in flat_inputs]
    dx = type(inputs)(dxs) if isinstance(inputs, (list, tuple)) else dxs[0]
    weight_grads = [grads.pop(key, None) for key in weight_keys]
    stray = [k for k in grads if isinstance(k, tuple) and k not in held_keys]
    if stray:
        owner_id, name = stray[0]
        raise TapeError(
            f"{tape.owner} uses the weight '{name}' of a layer it does not hold as an attribute, so "
            f"that weight would not be trained. Keep the layer as an attribute of this one "
            f"(self.inner = ...). Received: weight '{name}'"
        )
    return dx, weight_grads


def _writable(g, like):
    """A gradient the caller may keep and change: zeros where nothing flowed, a copy of read-only
    broadcast views."""
    if g is None:
        return np.zeros_like(like)
    g = np.asarray(g)
    return (
        g
        if g.flags.writeable and g.shape == like.shape
        else np.array(np.broadcast_to(g, like.shape))
    )


class TensorLike:
    """Python's operators on recorded values, mapped to the ops (shared by Tensor and Variable)."""

    __array_priority__ = 1000  # ndarray + Tensor defers to Tensor.__radd__
    value: np.ndarray

    @property
    def shape(self):
        return self.value.shape

    @property
    def ndim(self):
        return self.value.ndim

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def size(self):
        return self.value.size

    def __len__(self):
        return len(self.value)

    def numpy(self):
        """A NumPy copy, detached from the tape (as Keras's ``convert_to_numpy``)."""
        return np.array(self.value)

    def __array__(self, dtype=None, copy=None):
        if self._breaks_chain():
            self.break_tape().record_break(
                f"a recorded value of shape {self.shape} was turned into a NumPy array"
            )
        arr = self.value
        return arr.astype(dtype) if dtype is not None else arr

    def _breaks_chain(self):
        """True when turning this value into a plain array would lose a gradient."""
        return False

    def break_tape(self):
        """The tape that loses the gradient when this value leaves it."""
        return current()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``np.add(a, t)`` and the other operator ufuncs go through the ops; any other NumPy
        ufunc (``np.exp(t)``) computes on plain arrays and breaks the chain."""
        if not _UFUNC_OPS:
            _register_ufuncs()
        op = (
            _UFUNC_OPS.get(ufunc.__name__)
            if method == "__call__" and not kwargs
            else None
        )
        if op is not None:
            return op(*inputs)
        if ufunc.__name__ not in _NO_GRADIENT_UFUNCS:
            for t in inputs:
                if isinstance(t, TensorLike) and t._breaks_chain():
                    t.break_tape().record_break(
                        f"numpy.{ufunc.__name__} was applied to a recorded value"
                    )
                    break
        plain = [t.value if isinstance(t, TensorLike) else t for t in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)

    def __bool__(self):
        return bool(self.value)

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __add__(self, other):
        return _fn().add(self, other)

    def __radd__(self, other):
        return _fn().add(other, self)

    def __sub__(self, other):
        return _fn().subtract(self, other)

    def __rsub__(self, other):
        return _fn().subtract(other, self)

    def __mul__(self, other):
        return _fn().multiply(self, other)

    def __rmul__(self, other):
        return _fn().multiply(other, self)

    def __truediv__(self, other):
        return _fn().divide(self, other)

    def __rtruediv__(self, other):
        return _fn().divide(other, self)

    def __pow__(self, other):
        return _fn().power(self, other)

    def __rpow__(self, other):
        return _fn().power(other, self)

    def __matmul__(self, other):
        return _fn().matmul(self, other)

    def __rmatmul__(self, other):
        return _fn().matmul(other, self)

    def __neg__(self):
        return _fn().negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _fn().abs(self)

    def __getitem__(self, key):
        return _fn().getitem(self, key)

    def __lt__(self, other):
        return value(self) < value(other)

    def __le__(self, other):
        return value(self) <= value(other)

    def __gt__(self, other):
        return value(self) > value(other)

    def __ge__(self, other):
        return value(self) >= value(other)

    def __eq__(self, other):
        return value(self) == value(other)

    def __ne__(self, other):
        return value(self) != value(other)

    __hash__ = object.__hash__

    @property
    def T(self):
        return _fn().transpose(self)

    def reshape(self, *shape):
        return _fn().reshape(self, shape[0] if len(shape) == 1 else shape)


class Tensor(TensorLike):
    """A value inside a recorded ``call``: the array and the tape that records the ops on it."""

    def __init__(self, value, tape):
        self.value = value
        self.tape = tape

    def _breaks_chain(self):
        return self.tape is not None and self.tape.is_recording()

    def break_tape(self):
        return self.tape

    def __setitem__(self, key, item):
        raise TapeError(
            f"{self.tape.owner if self.tape else 'A layer'}: a recorded value cannot be changed in "
            f"place (x[...] = v), because the ops already recorded read it. Build a new value, e.g. "
            f"keras.ops.where(mask, v, x). Received: assignment to x[{key!r}]"
        )

    def __repr__(self):
        return f"<cnnlab Tensor shape={self.shape}, dtype={self.dtype}>\n{self.value!r}"


def _fn():
    from . import functions

    return functions


_UFUNC_OPS: dict = {}
# Ufuncs whose result carries no gradient anyway (comparisons, tests): computing them on plain
# arrays loses nothing.
_NO_GRADIENT_UFUNCS = {
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "equal",
    "not_equal",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "isnan",
    "isinf",
    "isfinite",
    "signbit",
}


def _register_ufuncs():
    f = _fn()
    _UFUNC_OPS.update(
        {
            "add": f.add,
            "subtract": f.subtract,
            "multiply": f.multiply,
            "true_divide": f.divide,
            "divide": f.divide,
            "power": f.power,
            "negative": f.negative,
            "matmul": f.matmul,
            "absolute": f.abs,
        }
    )
