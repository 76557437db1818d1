"""The fast path's input gradient of a stride-1 convolution as one GEMM over the padded output
gradient (``ops.conv.input_grad_one_gemm``) equals the reference's per-offset products, on
hypothesis-drawn shapes: 1 to 3 spatial axes, kernels, dilations, Keras paddings and crops
(float64, so only the order of the additions differs)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.ops import conv as conv_ops


@st.composite
def cases(draw):
    nd = draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilation = [draw(st.integers(1, 2)) for _ in range(nd)]
    spatial = [
        draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 5))
        for k, d in zip(kernel, dilation)
    ]
    padding = draw(st.sampled_from(["valid", "same", "explicit"]))
    if padding == "explicit":  # causal-like and uneven pads, as Conv1D's "causal" gives
        padding = tuple(
            (draw(st.integers(0, d * (k - 1))), draw(st.integers(0, 1)))
            for k, d in zip(kernel, dilation)
        )
    return dict(
        n=draw(st.integers(1, 11)),  # more than one chunk of samples, and a partial one
        spatial=spatial,
        kernel=kernel,
        dilation=dilation,
        padding=padding,
        c_in=(c_in := draw(st.integers(1, 4))),
        c_out=draw(
            st.integers(1, 2 * c_in)
        ),  # the choice takes at most 2x the channels
        crop=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@settings(max_examples=60, deadline=None)
@given(cases())
def test_one_gemm_input_grad_equals_the_per_offset_products(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], *case["spatial"], case["c_in"]))
    kernel = rng.standard_normal((*case["kernel"], case["c_in"], case["c_out"]))
    _, _, _, out = conv_ops.conv_geometry(
        x.shape, kernel.shape, 1, case["padding"], case["dilation"]
    )
    crop = tuple(max(1, o - 1) for o in out) if case["crop"] else None
    y, cache = conv_ops.conv_forward(
        x, kernel, None, 1, case["padding"], case["dilation"], crop
    )
    dy = rng.standard_normal(y.shape)
    reference, dk_ref, _ = conv_ops.conv_backward(dy, cache)
    # A pad after the input wider than the kernel's reach (only explicit pads) gives output
    # cells no input cell feeds: the choice falls back to the offsets there.
    fits = all(p >= 0 for pair in conv_ops._input_grad_pads(cache) for p in pair)
    assert conv_ops.uses_one_gemm_input_grad(cache) == fits
    if fits:
        fast = conv_ops.input_grad_one_gemm(dy, cache)
        assert fast.shape == reference.shape == x.shape
        np.testing.assert_allclose(fast, reference, rtol=1e-11, atol=1e-12)
    chosen, dk, _ = conv_ops.conv_backward(dy, cache, one_gemm_input_grad=True)
    np.testing.assert_allclose(chosen, reference, rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(dk, dk_ref)


def test_the_choice_follows_the_channels_and_strides():
    def cache_for(c_in, c_out, strides=1):
        x = np.zeros((2, 8, 8, c_in), np.float32)
        return conv_ops.conv_forward(
            x, np.zeros((3, 3, c_in, c_out), np.float32), None, strides, "same"
        )[1]

    assert conv_ops.uses_one_gemm_input_grad(cache_for(16, 16))
    assert conv_ops.uses_one_gemm_input_grad(cache_for(16, 32))
    assert not conv_ops.uses_one_gemm_input_grad(
        cache_for(32, 64)
    )  # seed-004 conv2: slower
    assert not conv_ops.uses_one_gemm_input_grad(
        cache_for(3, 16)
    )  # thin GEMM output: offsets win
    assert not conv_ops.uses_one_gemm_input_grad(
        cache_for(64, 64)
    )  # many channels: offsets win
    assert not conv_ops.uses_one_gemm_input_grad(
        cache_for(16, 16, strides=2)
    )  # stride 2: not one correlation


@settings(max_examples=40, deadline=None)
@given(
    case=cases(),
    strides=st.integers(1, 2),
    chunk_bytes=st.sampled_from([1, 300, 1 << 22]),
)
def test_kept_input_instead_of_cols_gives_the_same_values(case, strides, chunk_bytes):
    """The fast path keeps the input, not the im2col matrix, building it a few samples at a
    time in the forward and again in the backward (tiny chunk sizes: one sample per chunk)."""
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], *case["spatial"], case["c_in"]))
    kernel = rng.standard_normal((*case["kernel"], case["c_in"], case["c_out"]))
    bias = rng.standard_normal(case["c_out"])
    strides = strides if max(case["dilation"]) == 1 else 1
    args = (kernel, bias, strides, case["padding"], case["dilation"])
    y_ref, cache_ref = conv_ops.conv_forward(x, *args)
    saved = conv_ops.CHUNK_BYTES, conv_ops.REBUILD_COLS_ABOVE
    conv_ops.CHUNK_BYTES, conv_ops.REBUILD_COLS_ABOVE = (
        chunk_bytes,
        0,
    )  # every matrix rebuilt
    try:
        y, cache = conv_ops.conv_forward(x, *args, keep_cols=False)
        assert cache.cols is None and cache.x is x
        dy = rng.standard_normal(y.shape)
        got, want = (
            conv_ops.conv_backward(dy, cache),
            conv_ops.conv_backward(dy, cache_ref),
        )
        conv_ops.REBUILD_COLS_ABOVE = 1 << 40  # a small matrix is kept
        assert conv_ops.conv_forward(x, *args, keep_cols=False)[1].cols is not None
    finally:
        conv_ops.CHUNK_BYTES, conv_ops.REBUILD_COLS_ABOVE = saved
    np.testing.assert_allclose(y, y_ref, rtol=1e-11, atol=1e-12)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
