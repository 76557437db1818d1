"""Merge ops (cnnlab.ops.merge): backward against float64 central differences on
hypothesis-drawn shapes, and against PyTorch autograd in float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.ops import merge

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
ELEMENTWISE = ["add", "subtract", "multiply", "average", "maximum", "minimum"]


def numeric_input_grads(forward, xs, r, eps=1e-6):
    grads = []
    for x in xs:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(x.size):
            old = flat[i]
            flat[i] = old + eps
            up = float((forward(xs)[0] * r).sum())
            flat[i] = old - eps
            down = float((forward(xs)[0] * r).sum())
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


def rel_error(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(a)), np.max(np.abs(b))))


shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(lambda s: (2, *s))


@SETTINGS
@given(
    op=st.sampled_from(ELEMENTWISE),
    shape=shapes,
    n=st.integers(2, 3),
    broadcast=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_elementwise_merge_gradients(op, shape, n, broadcast, seed):
    if op == "subtract":
        n = 2
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(shape) for _ in range(n)]
    if (
        broadcast and len(shape) > 1
    ):  # an axis of 1 against the full size (Keras allows it)
        xs[-1] = rng.standard_normal((shape[0], 1, *shape[2:]))
    fwd, bwd = getattr(merge, f"{op}_forward"), getattr(merge, f"{op}_backward")
    y, cache = fwd(xs)
    r = rng.standard_normal(y.shape)
    analytic = bwd(r, cache)
    numeric = numeric_input_grads(fwd, xs, r)
    for a, b, x in zip(analytic, numeric, xs):
        assert a.shape == x.shape
        assert rel_error(a, b) < 1e-6


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    axis=st.integers(-3, 3),
    n=st.integers(2, 3),
    seed=st.integers(0, 10_000),
)
def test_concatenate_gradients(shape, axis, n, seed):
    shape = [2] + shape[1:]
    axis = axis % len(shape) or 1
    rng = np.random.default_rng(seed)
    xs = []
    for i in range(n):
        s = list(shape)
        s[axis] = i + 1
        xs.append(rng.standard_normal(s))
    fwd = lambda v: merge.concatenate_forward(v, axis)  # noqa: E731
    y, cache = fwd(xs)
    r = rng.standard_normal(y.shape)
    for a, b in zip(
        merge.concatenate_backward(r, cache), numeric_input_grads(fwd, xs, r)
    ):
        assert rel_error(a, b) < 1e-6


DOT_CASES = [
    ((2, 4), (2, 4), (1, 1)),
    ((2, 3, 4), (2, 4, 5), (2, 1)),
    ((2, 3, 4), (2, 3, 5), (1, 1)),
    ((2, 4, 3), (2, 4), (1, 1)),
    ((2, 3, 2), (2, 2, 3), (-1, 1)),
]


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("sx, sy, axes", DOT_CASES)
def test_dot_gradients(sx, sy, axes, normalize):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(sx), rng.standard_normal(sy)]
    fwd = lambda v: merge.dot_forward(v, axes, normalize)  # noqa: E731
    y, cache = fwd(xs)
    r = rng.standard_normal(y.shape)
    for a, b in zip(merge.dot_backward(r, cache), numeric_input_grads(fwd, xs, r)):
        assert rel_error(a, b) < 1e-6


def test_dot_of_vectors_is_n_by_1_and_cosine_with_normalize():
    x = np.array([[3.0, 4.0], [1.0, 0.0]], np.float32)
    y = np.array([[4.0, 3.0], [0.0, 2.0]], np.float32)
    z, _ = merge.dot_forward([x, y], (1, 1))
    np.testing.assert_allclose(z, [[24.0], [0.0]])
    c, _ = merge.dot_forward([x, y], (1, 1), normalize=True)
    np.testing.assert_allclose(c, [[24.0 / 25.0], [0.0]], rtol=1e-6)


TORCH_OPS = {
    "add": lambda ts: sum(ts[1:], ts[0]),
    "subtract": lambda ts: ts[0] - ts[1],
    "multiply": lambda ts: ts[0] * ts[1] * ts[2] if len(ts) == 3 else ts[0] * ts[1],
    "average": lambda ts: sum(ts[1:], ts[0]) / len(ts),
    "maximum": lambda ts: (
        torch.maximum(torch.maximum(ts[0], ts[1]), ts[2])
        if len(ts) == 3
        else torch.maximum(ts[0], ts[1])
    ),
    "minimum": lambda ts: torch.minimum(ts[0], ts[1]),
}


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_elementwise_merge_matches_torch(op):
    rng = np.random.default_rng(1)
    n = 2 if op in ("subtract", "minimum") else 3
    xs = [
        rng.standard_normal((4, 3, 5)).astype(np.float32) for _ in range(n)
    ]  # no ties in random floats
    y, cache = getattr(merge, f"{op}_forward")(xs)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = getattr(merge, f"{op}_backward")(dy, cache)
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    ty = TORCH_OPS[op](ts)
    ty.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_concatenate_and_dot_match_torch():
    rng = np.random.default_rng(2)
    a, b = (
        rng.standard_normal((3, 4, 2)).astype(np.float32),
        rng.standard_normal((3, 4, 5)).astype(np.float32),
    )
    y, cache = merge.concatenate_forward([a, b], -1)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    ga, gb = merge.concatenate_backward(dy, cache)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch.cat([ta, tb], -1).backward(torch.tensor(dy))
    np.testing.assert_allclose(ga, ta.grad.numpy())
    np.testing.assert_allclose(gb, tb.grad.numpy())
    x, w = (
        rng.standard_normal((3, 2, 4)).astype(np.float32),
        rng.standard_normal((3, 4, 5)).astype(np.float32),
    )
    z, cache = merge.dot_forward([x, w], (2, 1))
    dz = rng.standard_normal(z.shape).astype(np.float32)
    gx, gw = merge.dot_backward(dz, cache)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tz = torch.bmm(tx, tw)
    tz.backward(torch.tensor(dz))
    np.testing.assert_allclose(z, tz.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-5, atol=1e-5)
    tc = torch.nn.functional.cosine_similarity(
        torch.tensor(x[:, 0]), torch.tensor(w[:, :, 0]), dim=1
    )
    c, _ = merge.dot_forward([x[:, 0], w[:, :, 0]], (1, 1), normalize=True)
    np.testing.assert_allclose(c[:, 0], tc.numpy(), rtol=1e-5)


def test_maximum_and_minimum_ties_send_the_gradient_to_the_first_input():
    """Pinned choice: TensorFlow's rule (x >= y takes the gradient), as cnnlab's max pooling
    sends a tie to the first maximum. (PyTorch's torch.maximum would split it in halves.)"""
    a = np.array([[1.0, 2.0, 3.0]], np.float32)
    b = np.array([[1.0, 5.0, 3.0]], np.float32)
    c = np.array([[1.0, 0.0, 3.0]], np.float32)
    dy = np.ones((1, 3), np.float32)
    for fwd, bwd in [
        (merge.maximum_forward, merge.maximum_backward),
        (merge.minimum_forward, merge.minimum_backward),
    ]:
        _, cache = fwd([a, b, c])
        ga, gb, gc = bwd(dy, cache)
        assert (
            ga[0, 0] == 1 and gb[0, 0] == 0 and gc[0, 0] == 0
        )  # a three-way tie: the first only
        assert ga[0, 2] == 1 and gb[0, 2] == 0 and gc[0, 2] == 0
        np.testing.assert_array_equal(ga + gb + gc, dy)  # nothing lost, nothing doubled
