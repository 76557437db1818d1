"""Every keras.ops op's backward, replayed by the tape, against float64 central differences.

Each case records ``y = f(*inputs)`` on a tape, replays the backward of
``L = sum(y * R)`` for a random ``R`` and compares the gradient of every input
with the numerical one (relative error < 1e-6), on shapes drawn by hypothesis.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gradients import SETTINGS, assert_grad

from cnnlab.keras import ops
from cnnlab.ops.tape import Tape, TapeError, replay

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**31 - 1)


def recorded(fn, *arrays):
    """``fn`` run on Tensors of a fresh tape: ``(tape, inputs, output)``."""
    record = Tape("test")
    with record:
        inputs = [record.watch(a) for a in arrays]
        out = fn(*inputs)
    return record, inputs, out


def check(fn, *arrays, seed=0):
    """The tape's gradient of ``sum(fn(*arrays) * R)`` against central differences, per input."""
    record, inputs, out = recorded(fn, *arrays)
    y = np.asarray(fn(*arrays))
    assert np.allclose(out.value, y), "the recorded forward differs from the plain one"
    r = np.random.default_rng(seed).standard_normal(y.shape)
    grads, _ = replay(record, inputs, out, r, [])
    for i, (a, g) in enumerate(zip(arrays, grads)):
        assert_grad(
            g, lambda: float(np.sum(np.asarray(fn(*arrays)) * r)), a, f"input {i}"
        )


def values(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


def away_from_zero(rng, shape):
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def broadcast_partner(rng, shape):
    """A shape that broadcasts against ``shape``: some axes set to 1, some leading ones dropped."""
    partner = [1 if rng.random() < 0.4 else d for d in shape]
    return tuple(partner[int(rng.integers(0, len(partner))) :]) or (1,)


# --------------------------------------------------------------------------- binary, broadcasting

BINARY = {
    "add": (ops.add, values),
    "subtract": (ops.subtract, values),
    "multiply": (ops.multiply, values),
    "divide": (ops.divide, away_from_zero),
    "maximum": (ops.maximum, values),
    "minimum": (ops.minimum, values),
    "power": (ops.power, lambda rng, s: rng.uniform(0.5, 2.0, s)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shape=shapes, seed=seeds, swap=st.booleans())
@SETTINGS
def test_binary_ops_broadcast(name, shape, seed, swap):
    fn, draw = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = values(rng, shape), draw(rng, broadcast_partner(rng, shape))
    if name == "power":
        a = rng.uniform(0.5, 2.0, shape)
    if (
        name == "divide"
    ):  # `swap` may make `a` the denominator: keep it away from zero too
        a = away_from_zero(rng, shape)
    if swap:
        a, b = b, a
    check(fn, a, b, seed=seed)


@given(shape=shapes, seed=seeds)
@SETTINGS
def test_operators_on_recorded_values(shape, seed):
    rng = np.random.default_rng(seed)
    a, b = values(rng, shape), away_from_zero(rng, shape)
    check(
        lambda x, y: (
            (2 - x) * y / 3
            + x**2
            - 1 / y
            + ops.sum((-x) @ np.ones(shape[-1:])) * abs(y)
        ),
        a,
        b,
        seed=seed,
    )
    # a NumPy array on the left of the operator goes through the op too
    c = values(rng, shape)
    check(lambda x: c * x + c - x, a, seed=seed)


@given(shape=shapes, seed=seeds)
@SETTINGS
def test_where_and_clip(shape, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shape) < 0.5
    check(
        lambda a, b: ops.where(cond, a, b),
        values(rng, shape),
        values(rng, broadcast_partner(rng, shape)),
        seed=seed,
    )
    x = rng.choice([-1.5, -0.2, 0.3, 1.7], shape) + rng.uniform(
        -0.05, 0.05, shape
    )  # away from the bounds
    check(lambda a: ops.clip(a, -1.0, 1.0), x, seed=seed)


def test_maximum_splits_a_tie_evenly():
    record, (a, b), out = recorded(
        ops.maximum, np.array([1.0, 2.0]), np.array([1.0, 3.0])
    )
    (ga, gb), _ = replay(record, [a, b], out, np.ones(2), [])
    assert ga.tolist() == [0.5, 0.0] and gb.tolist() == [0.5, 1.0]


# --------------------------------------------------------------------------- unary


def positive(rng, shape):
    return rng.uniform(0.2, 3.0, shape)


UNARY = {
    "negative": (ops.negative, values),
    "abs": (ops.abs, away_from_zero),
    "square": (ops.square, values),
    "sqrt": (ops.sqrt, positive),
    "exp": (ops.exp, values),
    "expm1": (ops.expm1, values),
    "log": (ops.log, positive),
    "log1p": (ops.log1p, positive),
    "reciprocal": (ops.reciprocal, away_from_zero),
    "sin": (ops.sin, values),
    "cos": (ops.cos, values),
    "relu": (ops.relu, away_from_zero),
    "sigmoid": (ops.sigmoid, values),
    "tanh": (ops.tanh, values),
    "softplus": (ops.softplus, values),
    "silu": (ops.silu, values),
    "elu": (lambda x: ops.elu(x, alpha=0.7), away_from_zero),
    "leaky_relu": (ops.nn.leaky_relu, away_from_zero),
    "softmax": (lambda x: ops.nn.softmax(x, axis=0), values),
    "log_softmax": (ops.log_softmax, values),
    "cast": (lambda x: ops.cast(x, "float64") * 1.0, values),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
@SETTINGS
def test_unary_ops(name, shape, seed):
    fn, draw = UNARY[name]
    check(fn, draw(np.random.default_rng(seed), shape), seed=seed)


def test_piecewise_constant_ops_have_zero_gradient():
    for fn in (ops.sign, ops.floor, ops.ceil, ops.round):
        record, (x,), out = recorded(fn, np.array([0.3, -1.7, 2.5]))
        (g,), _ = replay(record, [x], out, np.ones(3), [])
        assert g.tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- products


@given(
    n=st.integers(1, 4),
    k=st.integers(1, 4),
    m=st.integers(1, 4),
    batch=st.sampled_from([(), (2,), (3, 1)]),
    kind=st.sampled_from(["mm", "vec_left", "vec_right", "batch_b"]),
    seed=seeds,
)
@SETTINGS
def test_matmul(n, k, m, batch, kind, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = {
        "mm": ((*batch, n, k), (k, m)),
        "vec_left": ((k,), (*batch, k, m)),
        "vec_right": ((*batch, n, k), (k,)),
        "batch_b": ((n, k), (*batch, k, m)),
    }[kind]
    check(ops.matmul, values(rng, a_shape), values(rng, b_shape), seed=seed)


@given(
    a_shape=st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple),
    b_rank=st.integers(0, 3),
    seed=seeds,
)
@SETTINGS
def test_dot_follows_numpy(a_shape, b_rank, seed):
    rng = np.random.default_rng(seed)
    if a_shape and b_rank:
        b_shape = [2] * b_rank
        b_shape[max(b_rank - 2, 0)] = a_shape[-1]
    else:
        b_shape = [2] * b_rank
    a, b = values(rng, a_shape), values(rng, tuple(b_shape))
    assert np.allclose(ops.dot(a, b), np.dot(a, b))
    check(ops.dot, a, b, seed=seed)


def test_tensordot_axes_forms():
    rng = np.random.default_rng(1)
    a, b = values(rng, (2, 3, 4)), values(rng, (4, 3, 5))
    check(lambda x, y: ops.tensordot(x, y, axes=([1, 2], [1, 0])), a, b)
    check(
        lambda x, y: ops.tensordot(x, y, axes=1),
        values(rng, (2, 4)),
        values(rng, (4, 3)),
    )


# --------------------------------------------------------------------------- reductions


def axes_for(shape):
    n = len(shape)
    return st.one_of(
        st.none(),
        st.integers(-n, n - 1),
        st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True).map(tuple),
    )


REDUCTIONS = {
    "sum": ops.sum,
    "mean": ops.mean,
    "max": ops.max,
    "min": ops.min,
    "prod": ops.prod,
    "var": ops.var,
    "std": ops.std,
    "logsumexp": ops.logsumexp,
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data(), shape=shapes, keepdims=st.booleans(), seed=seeds)
@SETTINGS
def test_reductions(name, data, shape, keepdims, seed):
    axis = data.draw(axes_for(shape))
    rng = np.random.default_rng(seed)
    x = values(rng, shape)
    if name in (
        "max",
        "min",
    ):  # distinct values, farther apart than the central difference's step
        x = (
            rng.permutation(x.size).reshape(shape) * 0.1 - 1.0
        )  # (seed 275 drew two within 6e-7); ties: torch parity
    if name == "std" and x.size == 1:
        x = x + 0.0
    fn = REDUCTIONS[name]
    if name == "std":
        count = (
            x.size if axis is None else np.prod([shape[a] for a in np.atleast_1d(axis)])
        )
        if count == 1:
            return  # the std of one value is 0: its gradient is not defined
    assert np.allclose(
        fn(x, axis=axis, keepdims=keepdims),
        getattr(np, {"logsumexp": "sum"}.get(name, name))(
            np.exp(x) if name == "logsumexp" else x, axis=axis, keepdims=keepdims
        )
        if name != "logsumexp"
        else np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)),
    )
    check(lambda a: fn(a, axis=axis, keepdims=keepdims), x, seed=seed)


def test_max_splits_ties_and_prod_handles_zeros():
    record, (x,), out = recorded(
        lambda a: ops.max(a, axis=1), np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    )
    (g,), _ = replay(record, [x], out, np.ones(2), [])
    assert g.tolist() == [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]
    check(
        lambda a: ops.prod(a, axis=1),
        np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -1.0]]),
    )


@given(shape=shapes, seed=seeds, flat=st.booleans())
@SETTINGS
def test_cumsum(shape, seed, flat):
    rng = np.random.default_rng(seed)
    axis = None if flat else int(rng.integers(0, len(shape)))
    check(lambda a: ops.cumsum(a, axis=axis), values(rng, shape), seed=seed)


# --------------------------------------------------------------------------- shapes and indexing


@given(shape=shapes, seed=seeds)
@SETTINGS
def test_reshape_transpose_expand_squeeze_flip(shape, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, shape)
    order = tuple(rng.permutation(len(shape)))
    check(
        lambda a: ops.transpose(ops.reshape(a, (-1, *shape[1:])), order), x, seed=seed
    )
    check(
        lambda a: ops.squeeze(ops.expand_dims(a, 1), axis=1) * ops.expand_dims(a, 0)[0],
        x,
        seed=seed,
    )
    check(
        lambda a: (
            ops.flip(a, axis=0) + ops.sum(ops.moveaxis(a, 0, -1).T.reshape(-1) * 2)
        ),
        x,
        seed=seed,
    )
    check(lambda a: ops.swapaxes(a, 0, -1) * ops.sum(ops.ravel(a)), x, seed=seed)


@given(shape=shapes, seed=seeds)
@SETTINGS
def test_indexing_scatters_back(shape, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, shape)
    repeated = rng.integers(0, shape[0], size=5)  # fancy indices that repeat
    check(lambda a: a[repeated], x, seed=seed)
    check(lambda a: a[::-1, ...][: max(shape[0] - 1, 1)], x, seed=seed)
    check(lambda a: a[x > 0] * 2 if (x > 0).any() else a * 2, x, seed=seed)
    check(lambda a: ops.take(a, repeated % a.shape[0], axis=0), x, seed=seed)


@given(shape=shapes, seed=seeds, count=st.integers(1, 3))
@SETTINGS
def test_concatenate_stack_split_unstack(shape, seed, count):
    rng = np.random.default_rng(seed)
    axis = int(rng.integers(0, len(shape)))
    xs = [
        values(rng, shape[:axis] + (int(rng.integers(1, 4)),) + shape[axis + 1 :])
        for _ in range(count)
    ]
    check(lambda *a: ops.concatenate(a, axis=axis), *xs, seed=seed)
    same = [values(rng, shape) for _ in range(count)]
    check(lambda *a: ops.stack(a, axis=axis), *same, seed=seed)
    big = values(rng, shape[:axis] + (2 * shape[axis],) + shape[axis + 1 :])
    check(
        lambda a: (
            ops.split(a, 2, axis=axis)[1] * ops.sum(ops.split(a, [1], axis=axis)[0])
        ),
        big,
        seed=seed,
    )
    check(lambda a: ops.unstack(a, axis=axis)[-1] * 3, same[0], seed=seed)


@given(shape=shapes, seed=seeds)
@SETTINGS
def test_broadcast_tile_repeat_pad(shape, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, shape)
    check(lambda a: ops.broadcast_to(a, (2, *shape)), x, seed=seed)
    reps = tuple(
        int(r) for r in rng.integers(1, 3, size=len(shape) + int(rng.integers(0, 2)))
    )
    check(lambda a: ops.tile(a, reps), x, seed=seed)
    counts = rng.integers(0, 3, size=shape[-1])
    check(
        lambda a: ops.repeat(a, counts, axis=-1) * 1.5 + ops.sum(ops.repeat(a, 2)),
        x,
        seed=seed,
    )
    widths = [(int(rng.integers(0, 2)), int(rng.integers(0, 3))) for _ in shape]
    check(lambda a: ops.pad(a, widths, constant_values=0.5), x, seed=seed)


# --------------------------------------------------------------------------- convolution and pooling


@given(
    nd=st.integers(1, 2),
    padding=st.sampled_from(["valid", "same"]),
    stride=st.integers(1, 2),
    seed=seeds,
)
@SETTINGS
def test_conv_and_pools(nd, padding, stride, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, (2, *(5,) * nd, 2))
    kernel = values(rng, (*(2,) * nd, 2, 3))
    check(
        lambda a, k: ops.conv(a, k, strides=stride, padding=padding),
        x,
        kernel,
        seed=seed,
    )
    check(
        lambda a: ops.average_pool(a, 2, strides=stride, padding=padding), x, seed=seed
    )
    check(lambda a: ops.max_pool(a, 2, strides=stride, padding=padding), x, seed=seed)


# --------------------------------------------------------------------------- what the tape refuses


def test_an_op_without_backward_refuses_only_when_the_gradient_needs_it():
    record, (x,), out = recorded(lambda a: ops.sort(a) * 2, np.array([3.0, 1.0, 2.0]))
    assert out.value.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(TapeError, match=r"keras.ops.sort has no backward"):
        replay(record, [x], out, np.ones(3), [])
    # argmax is an index: no gradient needed, nothing to refuse
    record, (x,), out = recorded(
        lambda a: a * ops.one_hot(ops.argmax(a), 3), np.array([3.0, 1.0, 2.0])
    )
    (g,), _ = replay(record, [x], out, np.ones(3), [])
    assert g.tolist() == [1.0, 0.0, 0.0]


def test_numpy_on_a_recorded_value_is_a_break_with_the_line():
    record, (x,), out = recorded(
        lambda a: ops.exp(np.asarray(a)) + a, np.array([1.0, 2.0])
    )
    assert np.allclose(
        out.value, np.exp([1.0, 2.0]) + [1.0, 2.0]
    )  # the forward still works
    with pytest.raises(
        TapeError, match=r"turned into a NumPy array at .*test_tape_gradients.py:\d+"
    ):
        replay(record, [x], out, np.ones(2), [])
    record, (x,), out = recorded(lambda a: np.tanh(a) * a, np.array([1.0, 2.0]))
    with pytest.raises(TapeError, match=r"numpy.tanh was applied to a recorded value"):
        replay(record, [x], out, np.ones(2), [])


def test_convert_to_numpy_detaches_as_keras_does():
    record, (x,), out = recorded(
        lambda a: a * ops.convert_to_numpy(a), np.array([1.0, 2.0])
    )
    (g,), _ = replay(record, [x], out, np.ones(2), [])
    assert g.tolist() == [1.0, 2.0]  # the detached factor is a constant


def test_recorded_values_cannot_be_changed_in_place():
    record = Tape("test")
    with record:
        x = record.watch(np.zeros(3))
        with pytest.raises(TapeError, match=r"cannot be changed in place"):
            x[0] = 1.0


def test_plain_arrays_stay_plain_outside_a_tape():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    y = ops.softmax(ops.matmul(x, ops.ones((3, 2))) + 1)
    assert type(y) is np.ndarray and y.dtype == np.float32
    assert ops.shape(x) == (2, 3) and ops.convert_to_tensor(1.5).dtype == np.float32
