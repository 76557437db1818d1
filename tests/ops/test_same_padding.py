"""TensorFlow's asymmetric ``padding="same"``, pinned by hand-computed cases.

Rule: ``out = ceil(in / s)``; ``total = max((out - 1)*s + k_eff - in, 0)``;
``before = total // 2``, ``after = total - before`` (the extra cell goes after).
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.ops import (
    avg_pool_backward,
    avg_pool_forward,
    conv_backward,
    conv_forward,
    max_pool_backward,
    max_pool_forward,
    output_size,
    same_padding,
)
from cnnlab.ops.shapes import output_shape, resolve_padding

# size, kernel, stride, dilation -> out, (before, after)
HAND_CASES = [
    (5, 2, 1, 1, 5, (0, 1)),  # even kernel: total 1, the extra cell after
    (7, 3, 2, 1, 4, (1, 1)),  # out 4, total (4-1)*2 + 3 - 7 = 2
    (6, 3, 2, 1, 3, (0, 1)),  # out 3, total (3-1)*2 + 3 - 6 = 1
    (5, 4, 2, 1, 3, (1, 2)),  # out 3, total (3-1)*2 + 4 - 5 = 3
    (5, 3, 1, 2, 5, (2, 2)),  # k_eff = (3-1)*2 + 1 = 5, total 4
    (5, 1, 1, 1, 5, (0, 0)),  # 1x1 kernel never pads
    (9, 1, 3, 1, 3, (0, 0)),
    (4, 3, 3, 1, 2, (1, 1)),  # out 2, total 3 + 3 - 4 = 2
    (5, 2, 2, 1, 3, (0, 1)),  # out 3, total 4 + 2 - 5 = 1
    (28, 3, 1, 1, 28, (1, 1)),
    (28, 5, 1, 1, 28, (2, 2)),
    (2, 5, 3, 1, 1, (1, 2)),  # kernel larger than the input: out 1, total 3
    (5, 2, 6, 1, 1, (0, 0)),  # stride past the end: (1-1)*6 + 2 - 5 < 0 -> no padding
    (6, 2, 1, 3, 6, (1, 2)),  # k_eff 4, total 3
]


@pytest.mark.parametrize("size,k,s,d,out,pads", HAND_CASES)
def test_same_padding_hand_cases(size, k, s, d, out, pads):
    assert same_padding(size, k, s, d) == pads
    assert output_size(size, k, s, d, *pads) == out
    assert resolve_padding((size,), (k,), (s,), (d,), "same") == (pads,)
    assert output_shape((size,), (k,), (s,), (d,), (pads,)) == (out,)


def test_same_padding_per_axis_and_case_insensitive():
    pads = resolve_padding((7, 6, 5), (3, 3, 4), (2, 2, 2), (1, 1, 1), "SAME")
    assert pads == ((1, 1), (0, 1), (1, 2))


@pytest.mark.parametrize(
    "padding,expected",
    [
        ("valid", ((0, 0), (0, 0))),
        (2, ((2, 2), (2, 2))),
        ((1, 3), ((1, 1), (3, 3))),
        (((0, 1), (2, 0)), ((0, 1), (2, 0))),
        ((1, (0, 2)), ((1, 1), (0, 2))),
    ],
)
def test_resolve_explicit_padding(padding, expected):
    assert resolve_padding((5, 5), (3, 3), (1, 1), (1, 1), padding) == expected


@pytest.mark.parametrize(
    "bad", ["full", -1, (1, 2, 3), ((1, 2, 3), (0, 0)), ((-1, 0), (0, 0))]
)
def test_resolve_padding_rejects_nonsense(bad):
    with pytest.raises(ValueError, match="padding"):
        resolve_padding((5, 5), (3, 3), (1, 1), (1, 1), bad)


# --------------------------------------------------------------------------- conv "same" by hand


def test_conv_same_even_kernel_stride_2_odd_input_by_hand():
    """5x5 input 1..25, kernel [[1, 2], [3, 4]], stride 2, 'same'.

    out = ceil(5/2) = 3, total = (3-1)*2 + 2 - 5 = 1 -> pads (0, 1): windows start at
    rows/cols 0, 2, 4, and the last ones hang over a zero row/column at the end.
    y[i, j] = 1*x[a, b] + 2*x[a, b+1] + 3*x[a+1, b] + 4*x[a+1, b+1] with a = 2i, b = 2j.
    """
    x = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    w = np.array([[1, 2], [3, 4]], dtype=np.float32).reshape(2, 2, 1, 1)
    y, cache = conv_forward(x, w, strides=2, padding="same")
    expected = np.array(
        [
            [1 + 4 + 18 + 28, 3 + 8 + 24 + 36, 5 + 30],  # [51, 71, 35]
            [11 + 24 + 48 + 68, 13 + 28 + 54 + 76, 15 + 60],  # [151, 171, 75]
            [21 + 44, 23 + 48, 25],  # [65, 71, 25]
        ],
        dtype=np.float32,
    )
    assert y.shape == (1, 3, 3, 1)
    np.testing.assert_array_equal(y[0, :, :, 0], expected)

    # backward of sum(y): each input cell collects the kernel entries whose windows cover it
    dx, dw, _ = conv_backward(np.ones_like(y), cache)
    expected_dx = np.array(
        [
            [1, 2, 1, 2, 1],
            [3, 4, 3, 4, 3],
            [1, 2, 1, 2, 1],
            [3, 4, 3, 4, 3],
            [1, 2, 1, 2, 1],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(dx[0, :, :, 0], expected_dx)
    # dkernel[p, q] = sum of the cells that offset (p, q) touches (padding adds nothing)
    xs = x[0, :, :, 0]
    expected_dw = np.array(
        [
            [xs[0::2, 0::2].sum(), xs[0::2, 1::2].sum()],
            [xs[1::2, 0::2].sum(), xs[1::2, 1::2].sum()],
        ]
    )
    np.testing.assert_array_equal(dw[:, :, 0, 0], expected_dw)


def test_conv_same_1d_even_kernel_stride_1_pads_after():
    """in 4, k 2, s 1: pads (0, 1), so the last output sees x[3] and a zero."""
    x = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32).reshape(1, 4, 1)
    w = np.array([10.0, 1.0], dtype=np.float32).reshape(2, 1, 1)
    y, _ = conv_forward(x, w, padding="same")
    np.testing.assert_array_equal(y[0, :, 0], [12.0, 23.0, 34.0, 40.0])


def test_conv_same_dilated_by_hand():
    """in 5, k 2, d 2 -> k_eff 3, pads (1, 1): y[i] = w0*x[i-1] + w1*x[i+1]."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    w = np.array([1.0, 100.0]).reshape(2, 1, 1)
    y, _ = conv_forward(x, w, padding="same", dilation_rate=2)
    np.testing.assert_array_equal(y[0, :, 0], [200.0, 301.0, 402.0, 503.0, 4.0])


# --------------------------------------------------------------------------- pooling "same"


def test_avg_pool_same_divides_by_real_cells_only():
    """3x3 input, pool 2, stride 2, 'same': pads (0, 1), windows of 4, 2, 2 and 1 real cells."""
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y, cache = avg_pool_forward(x, (2, 2), (2, 2), "same")
    np.testing.assert_allclose(
        y[0, :, :, 0], [[(1 + 2 + 4 + 5) / 4, (3 + 6) / 2], [(7 + 8) / 2, 9.0]]
    )
    dx = avg_pool_backward(np.ones_like(y), cache)
    np.testing.assert_allclose(
        dx[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]]
    )


def test_avg_pool_same_stride_1_border_counts():
    """1-D, pool 3, stride 1, 'same' (pads (1, 1)): the ends average 2 cells, the middle 3."""
    x = np.array([3.0, 6.0, 9.0, 12.0]).reshape(1, 4, 1)
    y, _ = avg_pool_forward(x, (3,), 1, "same")
    np.testing.assert_allclose(y[0, :, 0], [4.5, 6.0, 9.0, 10.5])


def test_max_pool_same_never_picks_padding():
    """All-negative input: a zero-padded max would return 0 at the border."""
    x = -np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    y, cache = max_pool_forward(x, (2, 2), (2, 2), "same")
    np.testing.assert_array_equal(y[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])
    dx = max_pool_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_max_pool_same_stride_1_all_negative():
    x = -np.array([5.0, 1.0, 7.0, 3.0, 9.0]).reshape(1, 5, 1)
    y, cache = max_pool_forward(x, (2,), 1, "same")  # pads (0, 1)
    np.testing.assert_array_equal(y[0, :, 0], [-1.0, -1.0, -3.0, -3.0, -9.0])
    dx = max_pool_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(dx[0, :, 0], [0, 2, 0, 2, 1])


# --------------------------------------------------------------------------- the rule as properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 5),
    d=st.integers(1, 3),
)
def test_same_padding_properties(size, k, s, d):
    before, after = same_padding(size, k, s, d)
    out = -(-size // s)  # ceil(size / s)
    k_eff = (k - 1) * d + 1
    assert 0 <= before <= after <= before + 1  # the extra cell goes after
    assert before + after == max((out - 1) * s + k_eff - size, 0)
    assert output_size(size, k, s, d, before, after) == out
    # every window touches at least one real cell (so max never sees only -inf, avg never divides by 0)
    for o in range(out):
        start = o * s - before
        assert start <= size - 1 and start + k_eff - 1 >= 0
