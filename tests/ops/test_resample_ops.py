"""Padding, cropping, upsampling, resizing, PReLU and the noise ops: backward against float64
central differences in every spatial rank (hypothesis), forward and backward against PyTorch
where it has the operation, and the Keras/TensorFlow rules pinned by hand."""

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
from cnnlab.ops import activations as act
from cnnlab.ops import dropout as noise
from cnnlab.ops import resample as rs
from cnnlab.ops import shapes
from cnnlab.ops.resize import resize_backward

torch = pytest.importorskip("torch")
F = torch.nn.functional
from test_torch_parity import assert_close, from_torch, randn, to_torch  # noqa: E402


def grad_check(forward, backward, x, seed):
    y, cache = forward(x)
    r = np.random.default_rng(seed).standard_normal(y.shape)
    assert_grad(
        backward(r, cache),
        lambda: float(np.sum(forward(x)[0] * r)),
        x,
        forward.__name__,
    )


@st.composite
def spatial_inputs(draw, low=1, high=4):
    nd = draw(st.integers(1, 3))
    shape = (
        draw(st.integers(1, 2)),
        *(draw(st.integers(low, high)) for _ in range(nd)),
        draw(st.integers(1, 2)),
    )
    return nd, shape, draw(st.integers(0, 2**16))


@SETTINGS
@given(spatial_inputs(low=3), st.data())
def test_pad_and_crop_gradients(case, data):
    nd, shape, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    pads = tuple(
        (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(nd)
    )
    crops = tuple(
        (data.draw(st.integers(0, 1)), data.draw(st.integers(0, 1))) for _ in range(nd)
    )

    def zero_pad(x):
        return rs.zero_pad_forward(x, pads)

    def crop(x):
        return rs.crop_forward(x, crops)

    grad_check(zero_pad, rs.zero_pad_backward, x, seed)
    grad_check(crop, rs.crop_backward, x, seed)
    y, _ = zero_pad(x)
    assert rel_error(y, np.pad(x, ((0, 0), *pads, (0, 0)))) == 0
    back, _ = rs.crop_forward(y, pads)
    np.testing.assert_array_equal(
        back, x
    )  # cropping what was padded gives the input back


@SETTINGS
@given(spatial_inputs(), st.data())
def test_upsampling_and_resize_gradients(case, data):
    nd, shape, seed = case
    x = np.random.default_rng(seed).standard_normal(shape)
    factors = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    size = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    method = data.draw(st.sampled_from(["bilinear", "nearest"]))

    def repeat(x):
        return rs.repeat_forward(x, factors)

    def resize(x):
        return rs.spatial_resize(x, size, method)

    grad_check(repeat, rs.repeat_backward, x, seed)
    grad_check(resize, resize_backward, x, seed)
    # nearest upsampling by whole factors is nearest resizing to the multiplied size
    up, _ = repeat(x)
    same, _ = rs.spatial_resize(
        x, [s * f for s, f in zip(shape[1:-1], factors)], "nearest"
    )
    np.testing.assert_array_equal(up, same)


def test_bilinear_rule_by_hand():
    """[0, 1] to 4 cells: centres at (j + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped -> 0, .25, .75, 1;
    [0, 10, 20] to 2 cells (no antialiasing): (j + 0.5)*1.5 - 0.5 = 0.25, 1.75 -> 2.5, 17.5."""
    up, _ = rs.spatial_resize(np.array([0.0, 1.0]).reshape(1, 2, 1), (4,))
    assert up.ravel().tolist() == [0.0, 0.25, 0.75, 1.0]
    down, _ = rs.spatial_resize(np.array([0.0, 10.0, 20.0]).reshape(1, 3, 1), (2,))
    assert down.ravel().tolist() == [2.5, 17.5]
    near, _ = rs.spatial_resize(np.arange(5.0).reshape(1, 5, 1), (3,), "nearest")
    assert near.ravel().tolist() == [0.0, 2.0, 4.0]  # floor((j + 0.5) * 5/3) = 0, 2, 4
    # 2-D is the two axes one after the other
    img = np.array([[0.0, 4.0], [8.0, 12.0]]).reshape(1, 2, 2, 1)
    y, _ = rs.spatial_resize(img, (4, 4))
    assert y[0, 1, 1, 0] == pytest.approx(
        0.75 * (0.75 * 0 + 0.25 * 4) + 0.25 * (0.75 * 8 + 0.25 * 12)
    )


def test_aspect_boxes_by_hand():
    # a 7x6 image to 4x8 (aspect 1:2): crop to height int(6*4/8) = 3, starting at int((7-3)/2) = 2
    assert shapes.aspect_ratio_box(7, 6, 4, 8, "crop") == (2, 3)
    assert shapes.aspect_ratio_box(6, 7, 8, 4, "crop") == (
        0,
        6,
    )  # int(7*8/4) = 14, clamped to 6
    # pad to aspect: width int(7*8/4) = 14, so int((14-6)/2) = 4 fill cells on each side
    assert shapes.aspect_ratio_box(6, 7, 8, 4, "pad") == (4, 14)
    assert shapes.aspect_ratio_box(5, 6, 6, 3, "pad") == (
        3,
        12,
    )  # int((12-5)/2) = 3 each side: 11 cells


def test_crop_refuses_cropping_everything():
    with pytest.raises(ShapeError, match="leaves nothing"):
        rs.crop_forward(np.zeros((1, 4, 4, 1)), ((2, 2), (0, 0)))


@pytest.mark.parametrize(
    "nd,size", [(1, (9,)), (2, (7, 11)), (2, (3, 2)), (3, (5, 2, 6))]
)
def test_linear_resize_matches_torch(nd, size):
    rng = np.random.default_rng(nd + sum(size))
    x = randn(rng, (2, *(4, 5, 3)[:nd], 3))
    y, cache = rs.spatial_resize(x, size)
    dy = randn(rng, y.shape)
    dx = resize_backward(dy, cache)
    xt = to_torch(x)
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]
    yt = F.interpolate(xt, size=size, mode=mode, align_corners=False, antialias=False)
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "resize y")
    assert_close(dx, from_torch(xt.grad), "resize dx")


@pytest.mark.parametrize("nd,factors", [(1, (3,)), (2, (2, 3)), (3, (2, 1, 2))])
def test_nearest_upsampling_matches_torch(nd, factors):
    rng = np.random.default_rng(nd)
    x = randn(rng, (2, *(4, 5, 3)[:nd], 2))
    y, cache = rs.repeat_forward(x, factors)
    dy = randn(rng, y.shape)
    dx = rs.repeat_backward(dy, cache)
    xt = to_torch(x)
    yt = F.interpolate(xt, scale_factor=factors, mode="nearest")
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "upsample y")
    assert_close(dx, from_torch(xt.grad), "upsample dx")
    size = [s * f for s, f in zip(x.shape[1:-1], factors)]
    near, cache = rs.spatial_resize(x, size, "nearest")
    exact = F.interpolate(to_torch(x), size=size, mode="nearest-exact")
    assert_close(near, from_torch(exact), "nearest-exact")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_zero_padding_matches_torch(nd):
    rng = np.random.default_rng(nd)
    x = randn(rng, (2, *(4, 5, 3)[:nd], 2))
    pads = ((1, 2), (0, 3), (2, 1))[:nd]
    y, cache = rs.zero_pad_forward(x, pads)
    dy = randn(rng, y.shape)
    dx = rs.zero_pad_backward(dy, cache)
    xt = to_torch(x)
    yt = F.pad(
        xt, [p for pair in reversed(pads) for p in pair]
    )  # torch lists the last axis first
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "pad y")
    assert_close(dx, from_torch(xt.grad), "pad dx")


# ---- PReLU ------------------------------------------------------------------------------


@SETTINGS
@given(st.sampled_from([(3,), (2, 3), (2, 3, 2)]), st.data(), st.integers(0, 2**16))
def test_prelu_gradients(sample, data, seed):
    rng = np.random.default_rng(seed)
    shared = [a for a in range(1, len(sample) + 1) if data.draw(st.booleans())]
    alpha_shape = tuple(1 if i + 1 in shared else s for i, s in enumerate(sample))
    x = rng.uniform(-3, 3, (2, *sample))
    x = np.where(np.abs(x) < 0.05, 0.1, x)
    alpha = rng.standard_normal(alpha_shape)
    r = rng.standard_normal(x.shape)
    dx, dalpha = act.prelu_backward(r, x, alpha)
    assert_grad(
        dx, lambda: float(np.sum(act.prelu_forward(x, alpha)[0] * r)), x, "prelu dx"
    )
    assert_grad(
        dalpha,
        lambda: float(np.sum(act.prelu_forward(x, alpha)[0] * r)),
        alpha,
        "prelu dalpha",
    )


def test_prelu_matches_torch_with_one_slope_per_channel():
    rng = np.random.default_rng(0)
    x = randn(rng, (2, 4, 5, 3))
    alpha = randn(rng, (1, 1, 3))  # Keras PReLU(shared_axes=[1, 2])
    y, cache = act.prelu_forward(x, alpha)
    dy = randn(rng, y.shape)
    dx, dalpha = act.prelu_backward(dy, cache, alpha)
    xt, at = to_torch(x), torch.tensor(alpha.ravel().copy(), requires_grad=True)
    yt = F.prelu(xt, at)
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "prelu y")
    assert_close(dx, from_torch(xt.grad), "prelu dx")
    assert_close(dalpha.ravel(), at.grad.numpy(), "prelu dalpha")


# ---- noise ops -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which", ["spatial", "gaussian_noise", "gaussian_dropout", "alpha"]
)
def test_noise_ops_backward_matches_numerical_with_the_same_draw(which):
    x = np.random.default_rng(1).standard_normal((3, 4, 5, 2))

    def forward():
        rng = np.random.default_rng(7)  # the same numbers at every call
        if which == "spatial":
            return noise.dropout_forward(
                x, 0.4, rng, True, noise.spatial_noise_shape(x.shape)
            )
        if which == "gaussian_noise":
            return noise.gaussian_noise_forward(x, 0.5, rng)
        if which == "gaussian_dropout":
            return noise.gaussian_dropout_forward(x, 0.3, rng)
        return noise.alpha_dropout_forward(x, 0.3, rng)

    y, mask = forward()
    r = np.random.default_rng(2).standard_normal(y.shape)
    assert_grad(
        noise.dropout_backward(r, mask),
        lambda: float(np.sum(forward()[0] * r)),
        x,
        which,
    )


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((50, 6, 6, 8), np.float32)
    y, mask = noise.dropout_forward(
        x, 0.5, np.random.default_rng(0), True, noise.spatial_noise_shape(x.shape)
    )
    per_map = y.reshape(50, 36, 8)
    assert np.all(
        (per_map == 0).all(axis=1) | (per_map == 2).all(axis=1)
    )  # a map is all 0 or all 1/(1-rate)
    assert 0.4 < (per_map[:, 0] == 0).mean() < 0.6


def test_noise_statistics_are_keras_s():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(400_000).astype(np.float32)
    y, _ = noise.alpha_dropout_forward(x, 0.2, rng)
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01  # SELU's fixed point kept
    ones = np.ones(400_000, np.float32)
    g, _ = noise.gaussian_dropout_forward(ones, 0.2, rng)
    assert (
        abs(g.mean() - 1) < 0.01 and abs(g.std() - 0.5) < 0.01
    )  # sqrt(0.2 / 0.8) = 0.5
    n, _ = noise.gaussian_noise_forward(ones, 0.3, rng)
    assert abs(n.std() - 0.3) < 0.01 and n.dtype == np.float32
    for fn in (
        noise.alpha_dropout_forward,
        noise.gaussian_dropout_forward,
        noise.gaussian_noise_forward,
    ):
        same, mask = fn(x, 0.2, rng, training=False)
        assert same is x and mask is None
