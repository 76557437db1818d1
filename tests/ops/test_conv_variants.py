"""Transposed, grouped and depthwise convolution (ops): backward against float64 central
differences on hypothesis-drawn shapes in every rank, and Keras's own geometry
(``same`` for transposed convolution, ``output_padding=None`` against 0, ``causal``)
pinned by cases computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gradients import (
    SETTINGS,
    assert_grad,
    rel_error,
)  # tests/ops is on sys.path (pytest's rootdir mode)

from cnnlab.errors import ShapeError
from cnnlab.ops import shapes
from cnnlab.ops.conv import conv_backward, conv_forward, depthwise_kernel_as_grouped
from cnnlab.ops.conv_transpose import conv_transpose_backward, conv_transpose_forward


def check_all_grads(forward, backward, arrays, seed):
    """``forward(*arrays) -> (y, cache)``; ``backward(r, cache)`` returns one gradient per array
    (None where not wanted); each one is compared with central differences of ``sum(y * r)``."""
    y, cache = forward(*arrays)
    r = np.random.default_rng(seed).standard_normal(y.shape)
    grads = backward(r, cache)
    for name, array, grad in zip("abcdef", arrays, grads):
        if array is None or grad is None:
            continue
        assert_grad(
            grad,
            lambda: float(np.sum(forward(*arrays)[0] * r)),
            array,
            f"gradient {name}",
        )


# ---------------------------------------------------------------- transposed convolution


@st.composite
def transpose_cases(draw):
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilated = draw(st.booleans())
    strides = (
        (1,) * nd if dilated else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    )
    dil = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilated else (1,) * nd
    padding = draw(st.sampled_from(["valid", "same"]))
    op = (
        None
        if draw(st.booleans())
        else tuple(draw(st.integers(0, s - 1)) for s in strides)
    )
    spatial = tuple(draw(st.integers(1, {1: 5, 2: 3, 3: 2}[nd])) for _ in range(nd))
    return (
        nd,
        spatial,
        kernel,
        strides,
        dil,
        padding,
        op,
        draw(st.integers(1, 2)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.booleans()),
        draw(st.integers(0, 2**16)),
    )


def transpose_reference(x, w, b, strides, dil, padding, op):
    """From the definition: input cell ``i`` adds ``x[i] @ w[o].T`` at ``i*s + o*d`` of the full
    grid; the output is ``transpose_output_size`` cells from ``transpose_crop_before``."""
    nd = x.ndim - 2
    k = w.shape[:-2]
    full_shape = [
        (n - 1) * s + shapes.effective_kernel(kk, d)
        for n, kk, s, d in zip(x.shape[1:-1], k, strides, dil)
    ]
    out = [
        shapes.transpose_output_size(
            n, kk, s, d, padding, None if op is None else op[a]
        )
        for a, (n, kk, s, d) in enumerate(zip(x.shape[1:-1], k, strides, dil))
    ]
    start = [
        shapes.transpose_crop_before(kk, s, d, padding, None if op is None else op[a])
        for a, (kk, s, d) in enumerate(zip(k, strides, dil))
    ]
    big = [max(f, b0 + o) for f, b0, o in zip(full_shape, start, out)]
    full = np.zeros((x.shape[0], *big, w.shape[-2]))
    for i in np.ndindex(*x.shape[1:-1]):
        for o in np.ndindex(*k):
            pos = tuple(ii * s + oo * d for ii, oo, s, d in zip(i, o, strides, dil))
            full[(slice(None), *pos)] += x[(slice(None), *i)] @ w[o].T
    y = full[(slice(None), *(slice(s0, s0 + o) for s0, o in zip(start, out)))]
    assert y.shape[1:-1] == tuple(out) and nd == len(out)
    return y + (0 if b is None else b)


@SETTINGS
@given(transpose_cases())
def test_conv_transpose_gradients_match_numerical(case):
    nd, spatial, kernel, strides, dil, padding, op, n, c_in, filters, use_bias, seed = (
        case
    )
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *spatial, c_in))
    w = rng.standard_normal((*kernel, filters, c_in))
    b = rng.standard_normal(filters) if use_bias else None

    def forward(x, w, b):
        return conv_transpose_forward(x, w, b, strides, padding, op, dil)

    y, _ = forward(x, w, b)
    assert rel_error(y, transpose_reference(x, w, b, strides, dil, padding, op)) < 1e-12
    check_all_grads(forward, conv_transpose_backward, [x, w, b], seed)


def test_conv_transpose_same_and_output_padding_by_hand():
    """1-D, one channel, kernel [1, 2, 3], input [1, 10], stride 2. The full scatter is
    [1, 2, 3+10, 20, 30] = [1, 2, 13, 20, 30] (length (2-1)*2 + 3 = 5)."""
    x = np.array([1.0, 10.0]).reshape(1, 2, 1)
    w = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)

    def run(padding, op):
        return conv_transpose_forward(x, w, None, 2, padding, op)[0].ravel().tolist()

    assert run("valid", None) == [1, 2, 13, 20, 30]  # (n-1)*s + max(k, s) = 5
    assert run("valid", 0) == [1, 2, 13, 20, 30]  # (n-1)*s + k + 0 = 5
    assert run("valid", 1) == [
        1,
        2,
        13,
        20,
        30,
        0,
    ]  # + op: a zero cell added at the end
    # same, op None: n*s = 4 cells; padding p = s + k - 2 = 3, ceil(3/2) = 2 = k - 1 before: cut 0
    assert run("same", None) == [1, 2, 13, 20]
    # same, op 0: (n-1)*s + k%2 + 0 = 3 cells; p = k + k%2 - 2 + 0 = 2, 1 before: cut 1
    assert run("same", 0) == [2, 13, 20]
    # same, op 1: 4 cells, p = 3: cut 0 (as op None here)
    assert run("same", 1) == [1, 2, 13, 20]
    # An even kernel [1, 2, 3, 4], stride 2, same: n*s = 4 cells of the full [1, 2, 13, 24, 30, 40]
    w4 = np.array([1.0, 2.0, 3.0, 4.0]).reshape(4, 1, 1)
    y = conv_transpose_forward(x, w4, None, 2, "same")[0].ravel().tolist()
    assert y == [2, 13, 24, 30]  # p = 4, 2 before: cut k-1-2 = 1
    # output_padding=0 differs from None when s > k (valid): (2-1)*3 + max(1, 3) = 6 against 4
    w1 = np.array([5.0]).reshape(1, 1, 1)
    assert conv_transpose_forward(x, w1, None, 3, "valid", None)[
        0
    ].ravel().tolist() == [5, 0, 0, 50, 0, 0]
    assert conv_transpose_forward(x, w1, None, 3, "valid", 0)[0].ravel().tolist() == [
        5,
        0,
        0,
        50,
    ]


def test_conv_transpose_length_formulas():
    # MISSION.md's table, with the numbers filled in
    assert shapes.transpose_output_size(4, 3, 2, 1, "valid", None) == 3 * 2 + 3
    assert shapes.transpose_output_size(4, 1, 2, 1, "valid", None) == 3 * 2 + 2
    assert shapes.transpose_output_size(4, 3, 2, 1, "same", None) == 8
    assert shapes.transpose_output_size(4, 3, 2, 1, "valid", 1) == 3 * 2 + 3 + 1
    assert shapes.transpose_output_size(4, 3, 2, 1, "same", 1) == 3 * 2 + 1 + 1
    assert shapes.transpose_output_size(4, 4, 2, 1, "same", 0) == 3 * 2 + 0
    assert (
        shapes.transpose_output_size(5, 3, 1, 2, "valid", None) == 4 + 5
    )  # dilated kernel 5
    assert shapes.transpose_geometry_text(4, 3, 2) == "(4 - 1)*2 + max(3, 2) = 9"


def test_conv_transpose_refuses_bad_arguments():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ShapeError, match="output_padding.*strictly less than.*strides"):
        conv_transpose_forward(
            x, np.zeros((3, 3, 5, 2), np.float32), None, 2, "same", 2
        )
    with pytest.raises(ShapeError, match="2 channels but the kernel expects 3"):
        conv_transpose_forward(x, np.zeros((3, 3, 5, 3), np.float32))
    with pytest.raises(ShapeError, match="padding"):
        conv_transpose_forward(x, np.zeros((3, 3, 5, 2), np.float32), None, 1, "causal")


# ---------------------------------------------------------------- grouped and depthwise


@st.composite
def grouped_cases(draw):
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dil = (
        (1,) * nd
        if max(strides) > 1
        else tuple(draw(st.integers(1, 2)) for _ in range(nd))
    )
    padding = draw(st.sampled_from(["valid", "same"]))
    groups = draw(st.integers(1, 3))
    per_in, per_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    eff = [shapes.effective_kernel(k, d) for k, d in zip(kernel, dil)]
    spatial = tuple(draw(st.integers(e, e + {1: 4, 2: 2, 3: 1}[nd])) for e in eff)
    return (
        nd,
        spatial,
        kernel,
        strides,
        dil,
        padding,
        groups,
        per_in,
        per_out,
        draw(st.booleans()),
        draw(st.integers(0, 2**16)),
    )


def grouped_reference(x, w, b, groups, **kwargs):
    """A grouped convolution is ``groups`` ordinary ones side by side."""
    c_g, f_g = w.shape[-2], w.shape[-1] // groups
    parts = [
        conv_forward(
            np.ascontiguousarray(x[..., j * c_g : (j + 1) * c_g]),
            w[..., j * f_g : (j + 1) * f_g].copy(),
            None,
            **kwargs,
        )[0]
        for j in range(groups)
    ]
    return np.concatenate(parts, axis=-1) + (0 if b is None else b)


@SETTINGS
@given(grouped_cases())
def test_grouped_conv_gradients_match_numerical(case):
    (
        nd,
        spatial,
        kernel,
        strides,
        dil,
        padding,
        groups,
        per_in,
        per_out,
        use_bias,
        seed,
    ) = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *spatial, groups * per_in))
    w = rng.standard_normal((*kernel, per_in, groups * per_out))
    b = rng.standard_normal(groups * per_out) if use_bias else None
    kwargs = dict(strides=strides, padding=padding, dilation_rate=dil)

    def forward(x, w, b):
        return conv_forward(x, w, b, groups=groups, **kwargs)

    assert (
        rel_error(forward(x, w, b)[0], grouped_reference(x, w, b, groups, **kwargs))
        < 1e-12
    )
    check_all_grads(forward, conv_backward, [x, w, b], seed)


@SETTINGS
@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 2),
    st.integers(0, 2**16),
)
def test_depthwise_conv_gradients_match_numerical(nd, channels, dm, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, *(k + 2,) * nd, channels))
    w = rng.standard_normal((*(k,) * nd, channels, dm))
    b = rng.standard_normal(channels * dm)

    def forward(x, w, b):
        return conv_forward(
            x, depthwise_kernel_as_grouped(w), b, padding="same", groups=channels
        )

    y, _ = forward(x, w, b)
    # output channel c*dm + m is input channel c filtered by w[..., c, m], alone
    for c in range(channels):
        for m in range(dm):
            alone = conv_forward(
                x[..., c : c + 1].copy(),
                w[..., c : c + 1, m : m + 1].copy(),
                None,
                padding="same",
            )[0]
            np.testing.assert_allclose(
                y[..., c * dm + m],
                alone[..., 0] + b[c * dm + m],
                rtol=1e-12,
                atol=1e-12,
            )

    def backward(r, cache):
        dx, dk, db = conv_backward(r, cache)
        return dx, dk.reshape(w.shape), db

    check_all_grads(forward, backward, [x, w, b], seed)


def test_grouped_conv_refuses_channels_not_divisible():
    with pytest.raises(ShapeError, match=r"5 channels.*expects 6.*3 groups of 2"):
        conv_forward(np.zeros((1, 4, 4, 5)), np.zeros((3, 3, 2, 6)), groups=3)
    with pytest.raises(
        ShapeError, match="7 output channels cannot be split into 3 groups"
    ):
        conv_forward(np.zeros((1, 4, 4, 6)), np.zeros((3, 3, 2, 7)), groups=3)


def test_causal_padding_by_hand():
    """Conv1D causal, kernel [1, 10, 100], dilation 2: y[t] = x[t-4] + 10 x[t-2] + 100 x[t]."""
    assert shapes.causal_padding(3, 2) == (4, 0)
    x = np.arange(1.0, 7.0).reshape(1, 6, 1)
    w = np.array([1.0, 10.0, 100.0]).reshape(3, 1, 1)
    y = conv_forward(
        x, w, None, padding=(shapes.causal_padding(3, 2),), dilation_rate=2
    )[0].ravel()
    xs = np.concatenate([np.zeros(4), np.arange(1.0, 7.0)])
    assert y.tolist() == [xs[t] + 10 * xs[t + 2] + 100 * xs[t + 4] for t in range(6)]
    assert y[0] == 100.0  # output 0 sees input 0 only
