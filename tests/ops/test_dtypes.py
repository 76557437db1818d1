"""float32 in, float32 out (Keras's floatx), and float32 agrees with float64.

Every op runs twice on the same data: once in float64, once in float32. The
float32 run must return float32 outputs *and* gradients (never compute
silently in float64), and agree with the float64 run to float32 precision.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.ops import activations as act
from cnnlab.ops import (
    avg_pool_backward,
    avg_pool_forward,
    binary_crossentropy,
    categorical_crossentropy,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    flatten_backward,
    flatten_forward,
    global_avg_pool_backward,
    global_avg_pool_forward,
    global_max_pool_backward,
    global_max_pool_forward,
    max_pool_backward,
    max_pool_forward,
    mean_absolute_error,
    mean_squared_error,
    sparse_categorical_crossentropy,
)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x2": rng.standard_normal((2, 7, 6, 3)),
        "x1": rng.standard_normal((2, 9, 2)),
        "x3": rng.standard_normal((1, 4, 5, 4, 2)),
        "w2": rng.standard_normal((2, 3, 3, 4)) * 0.5,
        "w1": rng.standard_normal((3, 2, 3)) * 0.5,
        "w3": rng.standard_normal((2, 2, 2, 2, 3)) * 0.5,
        "b": rng.standard_normal(4),
        "b3": rng.standard_normal(3),
        "dy_dense": rng.standard_normal((2, 5)),
        "wd": rng.standard_normal((6, 5)),
        "bd": rng.standard_normal(5),
        "xd": rng.standard_normal((2, 6)),
        "r": rng.standard_normal(64),
    }


def _r(d, shape):
    """A fixed upstream gradient of the given shape, from the shared random vector."""
    return np.resize(d["r"], shape)


def conv2d_case(d):
    y, c = conv_forward(d["x2"], d["w2"], d["b"], strides=2, padding="same")
    dx, dw, db = conv_backward(_r(d, y.shape).astype(y.dtype), c)
    return dict(y=y, dx=dx, dw=dw, db=db)


def conv1d_case(d):
    y, c = conv_forward(
        d["x1"], d["w1"], None, strides=1, padding=((1, 2),), dilation_rate=2
    )
    dx, dw, _ = conv_backward(_r(d, y.shape).astype(y.dtype), c)
    return dict(y=y, dx=dx, dw=dw)


def conv3d_case(d):
    y, c = conv_forward(d["x3"], d["w3"], d["b3"], padding="valid")
    dx, dw, db = conv_backward(_r(d, y.shape).astype(y.dtype), c)
    return dict(y=y, dx=dx, dw=dw, db=db)


def max_pool_case(d):
    y, c = max_pool_forward(d["x2"], (3, 3), (2, 2), "same")
    return dict(y=y, dx=max_pool_backward(_r(d, y.shape).astype(y.dtype), c))


def avg_pool_case(d):
    y, c = avg_pool_forward(d["x2"], (2, 2), None, "same")
    y2, c2 = avg_pool_forward(d["x1"], (3,), 2, "valid")
    return dict(
        y=y,
        dx=avg_pool_backward(_r(d, y.shape).astype(y.dtype), c),
        y2=y2,
        dx2=avg_pool_backward(_r(d, y2.shape).astype(y2.dtype), c2),
    )


def global_pool_case(d):
    ym, cm = global_max_pool_forward(d["x3"])
    ya, ca = global_avg_pool_forward(d["x2"])
    return dict(
        ym=ym,
        dxm=global_max_pool_backward(_r(d, ym.shape).astype(ym.dtype), cm),
        ya=ya,
        dxa=global_avg_pool_backward(_r(d, ya.shape).astype(ya.dtype), ca),
    )


def dense_case(d):
    y, c = dense_forward(d["xd"], d["wd"], d["bd"])
    dx, dw, db = dense_backward(d["dy_dense"].astype(y.dtype), c)
    f, fc = flatten_forward(d["x2"])
    return dict(y=y, dx=dx, dw=dw, db=db, f=f, df=flatten_backward(f, fc))


def dropout_case(d):
    y, mask = dropout_forward(d["x2"], 0.4, np.random.default_rng(0))
    return dict(
        y=y, mask=mask, dx=dropout_backward(_r(d, y.shape).astype(y.dtype), mask)
    )


CASES = [
    conv2d_case,
    conv1d_case,
    conv3d_case,
    max_pool_case,
    avg_pool_case,
    global_pool_case,
    dense_case,
    dropout_case,
]


def _cast(d, dtype):
    return {k: v.astype(dtype) for k, v in d.items()}


def _compare(r32, r64):
    assert r32.keys() == r64.keys()
    for name in r32:
        a, b = r32[name], r64[name]
        assert a.dtype == np.float32, f"{name}: float32 input gave {a.dtype}"
        assert b.dtype == np.float64, f"{name}: float64 input gave {b.dtype}"
        assert a.shape == b.shape, name
        scale = max(1.0, float(np.max(np.abs(b))))
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6 * scale, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=lambda f: f.__name__)
def test_op_keeps_float32_and_matches_float64(case):
    d = _data()
    _compare(case(_cast(d, np.float32)), case(_cast(d, np.float64)))


@pytest.mark.parametrize("name", sorted(act.ACTIVATIONS))
def test_activation_keeps_float32_and_matches_float64(name):
    fwd, bwd = act.ACTIVATIONS[name]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5)) * 4
    x[0, 0, :4] = [-80.0, 80.0, -20.0, 20.0]  # saturated tails
    dy = rng.standard_normal(x.shape)
    results = {}
    for dtype in (np.float32, np.float64):
        xx, dd = x.astype(dtype), dy.astype(dtype)
        y = fwd(xx)
        results[dtype] = dict(y=y, dx=bwd(dd, xx, y))
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(results[dtype]["dx"])), (
            name
        )
    _compare(results[np.float32], results[np.float64])


def _losses(dtype):
    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((6, 4)) * 2).astype(dtype)
    probs = rng.uniform(0.05, 1.0, (6, 4)).astype(dtype)
    labels = rng.integers(0, 4, 6)  # int labels stay int
    one_hot = np.eye(4)[labels]  # float64 labels, cast by the loss
    binary = (rng.uniform(size=(6, 1)) < 0.5).astype(np.int64)
    p1 = rng.uniform(0.05, 0.95, (6, 1)).astype(dtype)
    z1 = rng.standard_normal((6, 1)).astype(dtype)
    target = rng.standard_normal((6, 3))
    pred = (
        target + rng.uniform(0.1, 1.0, (6, 3)) * rng.choice([-1, 1], (6, 3))
    ).astype(dtype)
    out = {
        "cce_logits": categorical_crossentropy(one_hot, logits, from_logits=True),
        "cce_probs": categorical_crossentropy(one_hot, probs),
        "scce_logits": sparse_categorical_crossentropy(
            labels, logits, from_logits=True
        ),
        "scce_probs": sparse_categorical_crossentropy(labels, probs),
        "bce_logits": binary_crossentropy(binary, z1, from_logits=True),
        "bce_probs": binary_crossentropy(binary, p1),
        "mse": mean_squared_error(target, pred),
        "mae": mean_absolute_error(target, pred),
    }
    return out


def test_losses_keep_float32_gradients_and_match_float64():
    r32, r64 = _losses(np.float32), _losses(np.float64)
    for name in r32:
        (l32, g32), (l64, g64) = r32[name], r64[name]
        assert isinstance(l32, float) and isinstance(l64, float), name
        assert l32 == pytest.approx(l64, rel=1e-5), name
        assert g32.dtype == np.float32, f"{name}: gradient {g32.dtype}"
        assert g64.dtype == np.float64, name
        np.testing.assert_allclose(g32, g64, rtol=1e-5, atol=1e-7, err_msg=name)
