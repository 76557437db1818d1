"""The warp (Keras's affine_transform) and the other augmentation ops: backward against float64
central differences on hypothesis-drawn shapes and transforms, forward against Keras's own
``affine_transform`` (fixture written by scripts/make_bn_fixtures.py), fill modes by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gradients import SETTINGS, assert_grad

from cnnlab.ops import augment as aug
from cnnlab.ops import warp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


@st.composite
def warp_cases(draw):
    n, h, w, c = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 5)),
        draw(st.integers(1, 2)),
    )
    kind = draw(
        st.sampled_from(["rotation", "zoom", "translation", "affine", "shrink"])
    )
    fill_mode = draw(st.sampled_from(warp.FILL_MODES))
    interpolation = draw(st.sampled_from(warp.INTERPOLATIONS))
    out = (
        (draw(st.integers(1, 6)), draw(st.integers(1, 6))) if kind == "shrink" else None
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return n, h, w, c, kind, fill_mode, interpolation, out, seed


def make_transforms(rng, kind, n, h, w, out):
    if kind == "rotation":
        return warp.rotation_transforms(rng.uniform(-4, 4, n), h, w)
    if kind == "zoom":
        return warp.zoom_transforms(
            rng.uniform(0.2, 3, n), rng.uniform(0.2, 3, n), h, w
        )
    if kind == "translation":
        return warp.translation_transforms(
            rng.uniform(-2 * h, 2 * h, n), rng.uniform(-2 * w, 2 * w, n)
        )
    if kind == "shrink":  # another output size: a scale about the corner
        return np.tile(
            [[w / out[1], 0.0, 0.3, 0.0, h / out[0], -0.2, 0.0, 0.0]], (n, 1)
        )
    return np.concatenate([rng.normal(size=(n, 6)) * 2, np.zeros((n, 2))], axis=1)


@SETTINGS
@given(warp_cases())
def test_warp_gradient_matches_numerical(case):
    n, h, w, c, kind, fill_mode, interpolation, out, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c))
    t = make_transforms(rng, kind, n, h, w, out)
    y, cache = warp.warp_forward(x, t, out, interpolation, fill_mode, fill_value=0.7)
    assert y.dtype == x.dtype and y.shape == (n, *(out or (h, w)), c)
    r = rng.standard_normal(y.shape)
    assert_grad(
        warp.warp_backward(r, cache),
        lambda: float(
            np.sum(warp.warp_forward(x, t, out, interpolation, fill_mode, 0.7)[0] * r)
        ),
        x,
        str(case),
    )


@pytest.mark.parametrize("fill_mode", warp.FILL_MODES)
@pytest.mark.parametrize("interpolation", warp.INTERPOLATIONS)
def test_warp_matches_keras_affine_transform(fill_mode, interpolation):
    with np.load(FIXTURES / "warp_cases.npz", allow_pickle=False) as data:
        x, transforms, expected = (
            data["x"],
            data["transforms"],
            data[f"{fill_mode}_{interpolation}"],
        )
    y, _ = warp.warp_forward(
        x, transforms, None, interpolation, fill_mode, fill_value=0.5
    )
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-5)


def test_fill_modes_by_hand():
    row = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32").reshape(1, 1, 4, 1)
    shift = warp.translation_transforms(
        [0.0], [3.0]
    )  # content moves 3 right: reads x - 3
    expect = {
        "reflect": [3, 2, 1, 1],
        "wrap": [2, 3, 4, 1],
        "nearest": [1, 1, 1, 1],
        "constant": [9, 9, 9, 1],
    }
    for mode, values in expect.items():
        y, _ = warp.warp_forward(row, shift, None, "nearest", mode, fill_value=9.0)
        np.testing.assert_array_equal(y.reshape(-1), values, err_msg=mode)
    half = warp.translation_transforms(
        [0.0], [-0.5]
    )  # reads x + 0.5: the mean of two neighbours
    y, _ = warp.warp_forward(row, half, None, "bilinear", "constant", fill_value=0.0)
    np.testing.assert_allclose(
        y.reshape(-1), [1.5, 2.5, 3.5, 2.0]
    )  # the last half-reads the fill value 0
    y, _ = warp.warp_forward(row, half, None, "bilinear", "reflect")
    np.testing.assert_allclose(y.reshape(-1), [1.5, 2.5, 3.5, 4.0])


def test_rotation_by_a_quarter_turn_is_rot90_counter_clockwise():
    x = np.arange(2 * 5 * 5 * 2, dtype="float32").reshape(2, 5, 5, 2)
    y, _ = warp.warp_forward(
        x, warp.rotation_transforms([np.pi / 2] * 2, 5, 5), None, "nearest", "constant"
    )
    np.testing.assert_array_equal(y, np.rot90(x, 1, axes=(1, 2)))


@st.composite
def image_cases(draw):
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 4)),
        draw(st.integers(1, 4)),
        draw(st.integers(1, 2)),
    )
    return shape, draw(st.integers(0, 2**32 - 1))


@SETTINGS
@given(image_cases())
def test_contrast_brightness_flip_crop_gradients_match_numerical(case):
    shape, seed = case
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.8, shape)
    r = rng.standard_normal(shape)
    factors = rng.uniform(0.5, 1.5, shape[0])
    wide = (-10.0, 10.0)  # no clipping: the derivative is smooth here
    y, cache = aug.contrast_forward(x, factors, wide)
    assert_grad(
        aug.contrast_backward(r, cache),
        lambda: float(np.sum(aug.contrast_forward(x, factors, wide)[0] * r)),
        x,
        "contrast",
    )
    deltas = rng.uniform(-0.5, 0.5, shape[0])
    y, kept = aug.brightness_forward(x, deltas, (0.0, 1.0))
    lo_hi_free = (
        np.abs(x + deltas.reshape(-1, 1, 1, 1) - 0.5) < 0.49
    )  # away from the clip's kinks
    dx = aug.brightness_backward(r, kept)
    np.testing.assert_array_equal(dx[lo_hi_free], r[lo_hi_free])
    np.testing.assert_array_equal(dx[(x + deltas.reshape(-1, 1, 1, 1)) >= 1.0], 0.0)
    flips = rng.random(shape[0]) < 0.5
    for axes in ((1,), (2,), (1, 2)):
        assert_grad(
            aug.flip_forward(r, flips, axes),
            lambda axes=axes: float(np.sum(aug.flip_forward(x, flips, axes) * r)),
            x,
            f"flip {axes}",
        )
    top, left = rng.integers(0, shape[1]), rng.integers(0, shape[2])
    y, cache = aug.crop_forward(x, top, left, 2, 2)
    rc = rng.standard_normal(y.shape)
    assert_grad(
        aug.crop_backward(rc, cache),
        lambda: float(np.sum(aug.crop_forward(x, top, left, 2, 2)[0] * rc)),
        x,
        "crop",
    )


def test_contrast_by_hand():
    x = np.array([0.0, 2.0, 4.0, 6.0], dtype="float32").reshape(1, 2, 2, 1)  # mean 3
    y, _ = aug.contrast_forward(x, [2.0], (0, 255))
    np.testing.assert_allclose(
        y.reshape(-1), [0.0, 1.0, 5.0, 9.0]
    )  # (x - 3)*2 + 3, clipped at 0
