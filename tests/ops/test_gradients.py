"""Every op's backward against a float64 central-difference gradient.

For an op ``y = f(x, ...)`` and a random ``R``, the scalar ``L = sum(y * R)``
has ``dL/dx = backward(R)``; the test compares that with
``(L(x + eps) - L(x - eps)) / (2 eps)`` entry by entry (relative error
< 1e-6). Shapes, strides, paddings and dilations are drawn by hypothesis and
kept tiny so that the finite differences stay cheap.

Conv and pooling forwards are also compared with a direct loop over output
positions written here from the definition, so that a wrong forward cannot
hide behind a backward that is consistent with it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    reshape_backward,
    reshape_forward,
    sparse_categorical_crossentropy,
)

TOL = 1e-6
EPS = 1e-6
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
# conv and pooling have the largest case space and cost milliseconds per case
WIDE = settings(SETTINGS, max_examples=100)


# --------------------------------------------------------------------------- helpers


def rel_error(a, b):
    """max|a - b| / max(1, max|a|, max|b|): absolute below 1, relative above."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(a)), np.max(np.abs(b))))


def numerical_grad(f, x, eps=EPS):
    """Central differences of the scalar ``f()`` with respect to every entry of
    ``x`` (perturbed in place and restored exactly)."""
    assert x.dtype == np.float64 and x.flags.c_contiguous
    flat = x.reshape(-1)
    g = np.zeros(x.size)
    for i in range(x.size):
        old = float(flat[i])
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g.reshape(x.shape)


def assert_grad(analytic, f, x, what=""):
    numeric = numerical_grad(f, x)
    assert analytic is not None, what
    assert np.asarray(analytic).shape == x.shape, (
        what,
        np.asarray(analytic).shape,
        x.shape,
    )
    err = rel_error(analytic, numeric)
    assert err < TOL, (
        f"{what}: relative error {err:.3g}\nanalytic={analytic}\nnumeric={numeric}"
    )


def test_rel_error_and_numerical_grad_helpers_detect_mistakes():
    # the helpers themselves must be able to fail
    x = np.array([0.3, -1.2, 2.0])
    numeric = numerical_grad(lambda: float(np.sum(x**3)), x)
    assert rel_error(3 * x**2, numeric) < TOL
    assert rel_error(2 * x**2, numeric) > 0.1
    assert rel_error([0.0], [1e-9]) < TOL
    assert rel_error([100.0], [101.0]) == pytest.approx(1 / 101)


def same_pads_tf(size, k, s, d):
    """TensorFlow's 'same' rule, written from the mission text."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return (total // 2, total - total // 2)


def resolve_pads(spatial, kernel, strides, dil, padding):
    if padding == "valid":
        return tuple((0, 0) for _ in spatial)
    if padding == "same":
        return tuple(
            same_pads_tf(i, k, s, d)
            for i, k, s, d in zip(spatial, kernel, strides, dil)
        )
    if isinstance(padding, int):
        return tuple((padding, padding) for _ in spatial)
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def conv_reference(x, w, b, strides, pads, dil):
    """Direct cross-correlation: one (N, C_in) @ (C_in, C_out) per output position and kernel offset."""
    nd = w.ndim - 2
    k = w.shape[:nd]
    xpd = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = tuple(
        (xpd.shape[1 + i] - ((k[i] - 1) * dil[i] + 1)) // strides[i] + 1
        for i in range(nd)
    )
    y = np.zeros((x.shape[0], *out, w.shape[-1]))
    for o in np.ndindex(*out):
        for kk in np.ndindex(*k):
            idx = tuple(o[i] * strides[i] + kk[i] * dil[i] for i in range(nd))
            y[(slice(None), *o)] += xpd[(slice(None), *idx)] @ w[kk]
    if b is not None:
        y += b
    return y


def pool_reference(x, pool, strides, pads, mode):
    """Direct pooling; padded cells hold -inf for max and are not counted for average."""
    nd = len(pool)
    fill = -np.inf if mode == "max" else 0.0
    xpd = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    real = np.pad(np.ones(x.shape[1:-1]), list(pads))
    out = tuple((xpd.shape[1 + i] - pool[i]) // strides[i] + 1 for i in range(nd))
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in np.ndindex(*out):
        sl = tuple(
            slice(o[i] * strides[i], o[i] * strides[i] + pool[i]) for i in range(nd)
        )
        win = xpd[(slice(None), *sl)].reshape(x.shape[0], -1, x.shape[-1])
        if mode == "max":
            y[(slice(None), *o)] = win.max(axis=1)
        else:
            y[(slice(None), *o)] = win.sum(axis=1) / real[sl].sum()
    return y


MAX_SPATIAL = {1: 9, 2: 6, 3: 4}
MAX_KERNEL = {1: 4, 2: 3, 3: 2}


@st.composite
def conv_cases(draw):
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, MAX_KERNEL[nd])) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["valid", "same", "int", "ints", "pairs"]))
    if mode == "int":
        padding = draw(st.integers(0, 2))
    elif mode == "ints":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    elif mode == "pairs":
        padding = tuple(
            (draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd)
        )
    else:
        padding = mode
    # spatial sizes large enough for at least one output cell
    spatial = []
    for i in range(nd):
        k_eff = (kernel[i] - 1) * dil[i] + 1
        if padding == "same":
            lo = 1
        else:
            pb, pa = resolve_pads([1] * nd, kernel, strides, dil, padding)[i]
            lo = max(1, k_eff - pb - pa)
        spatial.append(draw(st.integers(lo, max(lo, MAX_SPATIAL[nd]))))
    n = draw(st.integers(1, 3 if nd < 3 else 2))
    c_in = draw(st.integers(1, 3))
    c_out = draw(st.integers(1, 3))
    use_bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return (
        nd,
        tuple(spatial),
        kernel,
        strides,
        dil,
        padding,
        n,
        c_in,
        c_out,
        use_bias,
        seed,
    )


# --------------------------------------------------------------------------- convolution


@WIDE
@given(conv_cases())
def test_conv_gradients_match_numerical(case):
    nd, spatial, kernel, strides, dil, padding, n, c_in, c_out, use_bias, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *spatial, c_in))
    w = rng.standard_normal((*kernel, c_in, c_out))
    b = rng.standard_normal(c_out) if use_bias else None

    kwargs = dict(
        strides=strides if len(set(strides)) > 1 else strides[0],
        padding=padding,
        dilation_rate=dil,
    )
    y, cache = conv_forward(x, w, b, **kwargs)

    pads = resolve_pads(spatial, kernel, strides, dil, padding)
    ref = conv_reference(x, w, b, strides, pads, dil)
    assert y.shape == ref.shape
    assert rel_error(y, ref) < 1e-12
    if padding == "same":
        assert y.shape[1:-1] == tuple(
            math.ceil(i / s) for i, s in zip(spatial, strides)
        )

    r = rng.standard_normal(y.shape)
    dx, dw, db = conv_backward(r, cache)

    def loss():
        return float(np.sum(conv_forward(x, w, b, **kwargs)[0] * r))

    assert_grad(dx, loss, x, "dx")
    assert_grad(dw, loss, w, "dkernel")
    if use_bias:
        assert_grad(db, loss, b, "dbias")
    else:
        assert db is None

    # need_dx=False skips dx but gives the same weight gradients
    dx2, dw2, db2 = conv_backward(r, conv_forward(x, w, b, **kwargs)[1], need_dx=False)
    assert dx2 is None
    np.testing.assert_array_equal(dw2, dw)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_gradients_fixed_strided_dilated_same(nd):
    """A deterministic case per rank: even kernel, stride 2, dilation 2, 'same' (asymmetric pads)."""
    rng = np.random.default_rng(nd)
    spatial = {1: (9,), 2: (6, 5), 3: (5, 4, 5)}[nd]
    x = rng.standard_normal((2, *spatial, 2))
    w = rng.standard_normal((*(2,) * nd, 2, 3))
    b = rng.standard_normal(3)
    y, cache = conv_forward(x, w, b, strides=2, padding="same", dilation_rate=2)
    r = rng.standard_normal(y.shape)
    dx, dw, db = conv_backward(r, cache)

    def loss():
        return float(
            np.sum(
                conv_forward(x, w, b, strides=2, padding="same", dilation_rate=2)[0] * r
            )
        )

    assert_grad(dx, loss, x, "dx")
    assert_grad(dw, loss, w, "dkernel")
    assert_grad(db, loss, b, "dbias")


def test_conv_on_non_contiguous_input_matches_contiguous_copy():
    """The window view is built from the array's strides: slices and transposes must work."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((2, 3, 11, 9))
    for c_in, x in [
        (2, base.transpose(0, 2, 3, 1)[..., :2]),  # NCHW -> NHWC view, sliced
        (1, base[:, :1].transpose(0, 2, 3, 1)),  # one channel, a view
        (3, base.transpose(0, 2, 3, 1)[:, ::2, 1:]),
    ]:  # stepped spatial slice
        assert not x.flags.c_contiguous
        w = rng.standard_normal((3, 2, c_in, 4))
        y, cache = conv_forward(x, w, strides=(2, 1), padding="same")
        y_ref, cache_ref = conv_forward(
            np.ascontiguousarray(x), w, strides=(2, 1), padding="same"
        )
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
        r = rng.standard_normal(y.shape)
        for a, b in zip(conv_backward(r, cache), conv_backward(r, cache_ref)):
            if b is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for op in (max_pool_forward, avg_pool_forward):
        x = base.transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(
            op(x, (3, 2), (2, 2), "same")[0],
            op(np.ascontiguousarray(x), (3, 2), (2, 2), "same")[0],
        )


@pytest.mark.skipif(
    "crop_to" not in conv_forward.__code__.co_varnames,
    reason="conv_forward has no crop_to",
)
@pytest.mark.parametrize("c_in", [1, 2])
def test_conv_crop_to_equals_cropping_the_full_output(c_in):
    """crop_to computes only the leading outputs (those a following pooling keeps)."""
    rng = np.random.default_rng(c_in)
    x = rng.standard_normal((2, 7, 6, c_in))
    w = rng.standard_normal((2, 2, c_in, 3))
    b = rng.standard_normal(3)
    full, full_cache = conv_forward(x, w, b)  # (2, 6, 5, 3)
    y, cache = conv_forward(x, w, b, crop_to=(4, 4))
    assert y.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(y, full[:, :4, :4], rtol=1e-12)
    r = rng.standard_normal(y.shape)
    r_full = np.zeros(full.shape)
    r_full[:, :4, :4] = r
    for a, b_ in zip(conv_backward(r, cache), conv_backward(r_full, full_cache)):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)
    assert_grad(
        conv_backward(r, cache)[1],
        lambda: float(np.sum(conv_forward(x, w, b, crop_to=(4, 4))[0] * r)),
        w,
        "crop_to dkernel",
    )


# --------------------------------------------------------------------------- pooling


@st.composite
def pool_cases(draw):
    nd = draw(st.integers(1, 3))
    pool = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if draw(st.booleans()):
        strides = None
        eff = pool
    else:
        strides = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        eff = strides
    padding = draw(st.sampled_from(["valid", "same"]))
    spatial = tuple(
        draw(st.integers(pool[i] if padding == "valid" else 1, MAX_SPATIAL[nd] + 1))
        for i in range(nd)
    )
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    return nd, spatial, pool, strides, eff, padding, n, c, seed


def distinct_values(rng, shape):
    """Distinct values 0.05 apart (a shuffled grid), so every max is unique
    and a 1e-6 nudge never changes a winner."""
    size = math.prod(shape)
    return (rng.permutation(size).astype(np.float64) * 0.05 - size * 0.025).reshape(
        shape
    )


@WIDE
@given(pool_cases())
def test_max_pool_gradients_match_numerical(case):
    nd, spatial, pool, strides, eff, padding, n, c, seed = case
    rng = np.random.default_rng(seed)
    x = distinct_values(rng, (n, *spatial, c))
    y, cache = max_pool_forward(x, pool, strides, padding)
    pads = resolve_pads(spatial, pool, eff, (1,) * nd, padding)
    ref = pool_reference(x, pool, eff, pads, "max")
    assert y.shape == ref.shape
    np.testing.assert_array_equal(y, ref)
    assert np.all(np.isfinite(y))

    r = rng.standard_normal(y.shape)
    dx = max_pool_backward(r, cache)
    assert_grad(
        dx,
        lambda: float(np.sum(max_pool_forward(x, pool, strides, padding)[0] * r)),
        x,
        "max dx",
    )


def test_max_pool_gradients_overlapping_same_2d():
    rng = np.random.default_rng(7)
    x = distinct_values(rng, (2, 7, 6, 3))
    y, cache = max_pool_forward(x, (3, 3), (2, 1), "same")
    assert y.shape == (2, 4, 6, 3)
    r = rng.standard_normal(y.shape)
    dx = max_pool_backward(r, cache)
    # overlapping windows: some cells win several windows and collect several gradients
    wins = max_pool_backward(np.ones_like(y), cache)
    assert wins.max() >= 2
    assert_grad(
        dx, lambda: float(np.sum(max_pool_forward(x, (3, 3), (2, 1), "same")[0] * r)), x
    )


@WIDE
@given(pool_cases())
def test_avg_pool_gradients_match_numerical(case):
    nd, spatial, pool, strides, eff, padding, n, c, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *spatial, c))
    y, cache = avg_pool_forward(x, pool, strides, padding)
    pads = resolve_pads(spatial, pool, eff, (1,) * nd, padding)
    ref = pool_reference(x, pool, eff, pads, "avg")
    assert y.shape == ref.shape
    assert rel_error(y, ref) < 1e-12

    r = rng.standard_normal(y.shape)
    dx = avg_pool_backward(r, cache)
    assert_grad(
        dx,
        lambda: float(np.sum(avg_pool_forward(x, pool, strides, padding)[0] * r)),
        x,
        "avg dx",
    )


@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 4, 3, 2), (1, 3, 2, 3, 2)])
def test_global_pool_gradients_match_numerical(shape):
    rng = np.random.default_rng(len(shape))
    x = distinct_values(rng, shape)
    axes = tuple(range(1, len(shape) - 1))

    y, cache = global_max_pool_forward(x)
    np.testing.assert_array_equal(y, x.max(axis=axes))
    r = rng.standard_normal(y.shape)
    dx = global_max_pool_backward(r, cache)
    assert_grad(
        dx, lambda: float(np.sum(global_max_pool_forward(x)[0] * r)), x, "global max"
    )

    y, cache = global_avg_pool_forward(x)
    np.testing.assert_allclose(y, x.mean(axis=axes), rtol=1e-12)
    dx = global_avg_pool_backward(r, cache)
    assert_grad(
        dx, lambda: float(np.sum(global_avg_pool_forward(x)[0] * r)), x, "global avg"
    )


# --------------------------------------------------------------------------- dense, flatten, reshape, dropout


@SETTINGS
@given(
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 5),
    st.sampled_from([(), (3,), (2, 2)]),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_dense_gradients_match_numerical(n, d_in, d_out, middle, use_bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *middle, d_in))
    w = rng.standard_normal((d_in, d_out))
    b = rng.standard_normal(d_out) if use_bias else None
    y, cache = dense_forward(x, w, b)
    ref = x @ w + (b if use_bias else 0)
    assert y.shape == (n, *middle, d_out)
    assert rel_error(y, ref) < 1e-12
    r = rng.standard_normal(y.shape)
    dx, dw, db = dense_backward(r, cache)

    def loss():
        return float(np.sum(dense_forward(x, w, b)[0] * r))

    assert_grad(dx, loss, x, "dx")
    assert_grad(dw, loss, w, "dkernel")
    if use_bias:
        assert_grad(db, loss, b, "dbias")
    else:
        assert db is None


def test_flatten_and_reshape_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 2, 4))
    y, cache = flatten_forward(x)
    assert y.shape == (2, 24)
    np.testing.assert_array_equal(y[1], x[1].ravel())  # row-major over (H, W, C)
    r = rng.standard_normal(y.shape)
    assert_grad(
        flatten_backward(r, cache), lambda: float(np.sum(flatten_forward(x)[0] * r)), x
    )

    y, cache = reshape_forward(x, (4, -1))
    assert y.shape == (2, 4, 6)
    r = rng.standard_normal(y.shape)
    assert_grad(
        reshape_backward(r, cache),
        lambda: float(np.sum(reshape_forward(x, (4, -1))[0] * r)),
        x,
    )


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.8])
def test_dropout_gradient_matches_numerical_for_a_fixed_mask(rate):
    x = np.random.default_rng(1).standard_normal((3, 4, 5))
    r = np.random.default_rng(2).standard_normal(x.shape)

    def forward():
        return dropout_forward(x, rate, np.random.default_rng(123), training=True)

    y, mask = forward()
    assert 0 < np.count_nonzero(mask) < mask.size
    assert_grad(dropout_backward(r, mask), lambda: float(np.sum(forward()[0] * r)), x)


# --------------------------------------------------------------------------- activations


def away_from_zero(rng, shape, margin=0.05):
    x = rng.uniform(-3, 3, shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-12) * margin + x, x)


def away_from(x, kinks, margin=0.05):
    """Move entries within ``margin`` of a kink (where the derivative jumps) out of reach."""
    for k in kinks:
        near = np.abs(x - k) < margin
        x = np.where(near, k + np.where(x >= k, margin, -margin) + (x - k), x)
    return x


# name, keyword arguments, kinks to keep away from
ELEMENTWISE = [
    ("linear", {}, []),
    ("relu", {}, [0.0]),
    ("leaky_relu", {}, [0.0]),
    ("leaky_relu", {"negative_slope": 0.01}, [0.0]),
    ("leaky_relu", {"negative_slope": 0.3}, [0.0]),
    ("sigmoid", {}, []),
    ("tanh", {}, []),
    ("elu", {}, [0.0]),
    ("elu", {"alpha": 0.5}, [0.0]),
    ("softplus", {}, []),
    ("silu", {}, []),
    ("swish", {}, []),
    ("relu_general", {}, [0.0]),
    ("relu_general", {"max_value": 1.5}, [0.0, 1.5]),
    (
        "relu_general",
        {"negative_slope": 0.1, "threshold": 0.5, "max_value": 2.0},
        [0.5, 2.0],
    ),
    ("relu_general", {"threshold": -1.0}, [-1.0]),
    (
        "relu_general",
        {"threshold": -1.0, "max_value": 1.0, "negative_slope": 0.2},
        [-1.0, 0.0, 1.0],
    ),
    # issue 14's activations
    ("gelu", {}, []),
    ("gelu", {"approximate": True}, []),
    ("selu", {}, [0.0]),
    ("relu6", {}, [0.0, 6.0]),
    ("hard_sigmoid", {}, [-3.0, 3.0]),
    ("hard_silu", {}, [-3.0, 3.0]),
    ("hard_swish", {}, [-3.0, 3.0]),
    ("softsign", {}, []),
    ("mish", {}, []),
    ("exponential", {}, []),
    ("log_softmax", {}, []),
]


@pytest.mark.parametrize(
    "name,kw,kinks", ELEMENTWISE, ids=[f"{n}{kw or ''}" for n, kw, _ in ELEMENTWISE]
)
@SETTINGS
@given(shape=st.sampled_from([(4,), (3, 5), (2, 3, 4)]), seed=st.integers(0, 2**32 - 1))
def test_activation_gradients_match_numerical(name, kw, kinks, shape, seed):
    if name not in act.ACTIVATIONS:
        pytest.skip(f"{name} not registered")
    fwd, bwd = act.ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    x = away_from(rng.uniform(-3, 3, shape), kinks)
    y = fwd(x, **kw)
    assert y.shape == x.shape and y.dtype == x.dtype
    r = rng.standard_normal(shape)
    dx = bwd(r, x, y, **kw)
    assert_grad(dx, lambda: float(np.sum(fwd(x, **kw) * r)), x, name)


def test_activation_registry_is_complete():
    expected = {
        "linear",
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "softmax",
        "elu",
        "softplus",
        "silu",
    }
    assert expected <= set(act.ACTIVATIONS)
    # a newly registered activation must come with a gradient case above
    tested = {name for name, _, _ in ELEMENTWISE} | {"softmax"}
    assert set(act.ACTIVATIONS) <= tested, sorted(set(act.ACTIVATIONS) - tested)


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, -2])
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_softmax_gradient_along_any_axis(axis, seed):
    fwd, bwd = act.ACTIVATIONS["softmax"]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, 4)) * 2
    y = fwd(x, axis=axis)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=1e-12)
    ref = np.exp(x) / np.exp(x).sum(axis=axis, keepdims=True)
    assert rel_error(y, ref) < 1e-12
    r = rng.standard_normal(x.shape)
    dx = bwd(r, x, y, axis=axis)
    assert_grad(
        dx, lambda: float(np.sum(fwd(x, axis=axis) * r)), x, f"softmax axis={axis}"
    )


# --------------------------------------------------------------------------- losses

loss_shapes = st.tuples(st.integers(1, 4), st.integers(2, 5))


@SETTINGS
@given(loss_shapes, st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_categorical_crossentropy_gradient(shape, from_logits, soft_labels, seed):
    rng = np.random.default_rng(seed)
    n, k = shape
    if soft_labels:
        y_true = rng.dirichlet(np.ones(k), size=n)
    else:
        y_true = np.eye(k)[rng.integers(0, k, n)]
    if from_logits:
        y_pred = rng.standard_normal(shape) * 2
        ref = -np.mean(
            np.sum(
                y_true * (y_pred - np.log(np.exp(y_pred).sum(-1, keepdims=True))), -1
            )
        )
    else:
        # unnormalised positive scores: the op renormalises each row (as Keras does)
        y_pred = rng.uniform(0.1, 1.0, shape)
        ref = -np.mean(
            np.sum(y_true * np.log(y_pred / y_pred.sum(-1, keepdims=True)), -1)
        )
    loss, grad = categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
    assert isinstance(loss, float)
    assert loss == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert grad.shape == y_pred.shape
    assert_grad(
        grad,
        lambda: categorical_crossentropy(y_true, y_pred, from_logits=from_logits)[0],
        y_pred,
    )


@SETTINGS
@given(loss_shapes, st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_sparse_categorical_crossentropy_gradient(
    shape, from_logits, column_labels, seed
):
    rng = np.random.default_rng(seed)
    n, k = shape
    labels = rng.integers(0, k, n)
    y_true = labels[:, None] if column_labels else labels
    y_pred = (
        rng.standard_normal(shape) * 2 if from_logits else rng.uniform(0.1, 1.0, shape)
    )
    loss, grad = sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=from_logits
    )
    loss_dense, grad_dense = categorical_crossentropy(
        np.eye(k)[labels], y_pred, from_logits=from_logits
    )
    assert loss == pytest.approx(loss_dense, rel=1e-12)
    np.testing.assert_allclose(grad, grad_dense, rtol=1e-12, atol=1e-15)
    assert_grad(
        grad,
        lambda: sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=from_logits
        )[0],
        y_pred,
    )


@SETTINGS
@given(
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_binary_crossentropy_gradient(shape, from_logits, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.uniform(0, 1, shape)
    y_true[rng.uniform(size=shape) < 0.5] = 1.0
    if from_logits:
        y_pred = rng.standard_normal(shape) * 3
        p = 1 / (1 + np.exp(-y_pred))
    else:
        y_pred = rng.uniform(0.05, 0.95, shape)
        p = y_pred
    # mean over the last axis, then over samples
    ref = np.mean(
        np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)), axis=-1)
    )
    loss, grad = binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    assert loss == pytest.approx(ref, rel=1e-10)
    assert_grad(
        grad,
        lambda: binary_crossentropy(y_true, y_pred, from_logits=from_logits)[0],
        y_pred,
    )


@SETTINGS
@given(st.sampled_from([(3,), (2, 4), (3, 2, 2)]), st.integers(0, 2**32 - 1))
def test_regression_loss_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.standard_normal(shape)
    y_pred = y_true + away_from_zero(
        rng, shape, margin=0.01
    )  # MAE has a kink at y_pred == y_true

    loss, grad = mean_squared_error(y_true, y_pred)
    assert loss == pytest.approx(
        np.mean(np.mean((y_pred - y_true) ** 2, axis=-1)), rel=1e-12
    )
    assert_grad(grad, lambda: mean_squared_error(y_true, y_pred)[0], y_pred, "mse")

    loss, grad = mean_absolute_error(y_true, y_pred)
    assert loss == pytest.approx(
        np.mean(np.mean(np.abs(y_pred - y_true), axis=-1)), rel=1e-12
    )
    assert_grad(grad, lambda: mean_absolute_error(y_true, y_pred)[0], y_pred, "mae")


# --------------------------------------------------------------------------- a chain of ops


def test_small_network_gradient_end_to_end():
    """conv -> relu -> max pool -> flatten -> dense -> softmax CE, chained by hand."""
    rng = np.random.default_rng(42)
    x = rng.standard_normal((2, 6, 6, 1))
    w1 = rng.standard_normal((3, 3, 1, 2)) * 0.5
    b1 = rng.standard_normal(2) * 0.1
    w2 = rng.standard_normal((8, 3)) * 0.5
    b2 = rng.standard_normal(3) * 0.1
    labels = np.array([0, 2])

    def forward():
        h, c1 = conv_forward(x, w1, b1, padding="same")
        a = act.relu(h)
        p, c2 = max_pool_forward(a, (2, 2), (2, 2), "valid")
        p = p[:, :2, :2, :]
        f, c3 = flatten_forward(p)
        z, c4 = dense_forward(f, w2, b2)
        loss, dz = sparse_categorical_crossentropy(labels, z, from_logits=True)
        return loss, (h, a, c1, c2, c3, c4, dz)

    loss, (h, a, c1, c2, c3, c4, dz) = forward()
    df, dw2, db2 = dense_backward(dz, c4)
    dp = flatten_backward(df, c3)
    dp_full = np.zeros((2, 3, 3, 2))
    dp_full[:, :2, :2, :] = dp
    da = max_pool_backward(dp_full, c2)
    dh = act.relu_backward(da, h, a)
    dx, dw1, db1 = conv_backward(dh, c1)

    # keep clear of relu kinks and max ties for a clean finite difference
    assert np.min(np.abs(h)) > 1e-4

    def f():
        return forward()[0]

    for name, analytic, param in [
        ("w2", dw2, w2),
        ("b2", db2, b2),
        ("w1", dw1, w1),
        ("b1", db1, b1),
        ("x", dx, x),
    ]:
        assert_grad(analytic, f, param, name)
