"""cnnlab.ops.resize: TensorFlow's resize rule by hand, its backward against float64
central differences and PyTorch autograd (bilinear with align_corners=False and
nearest-exact use the same half-pixel rule), and the difference from Pillow."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_gradients import assert_grad  # noqa: E402  (tests/ops is on sys.path under pytest)

from cnnlab.errors import ShapeError
from cnnlab.ops.resize import resize, resize_backward, resize_images

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_bilinear_by_hand():
    # 1-D, 4 -> 2: output j samples (j + 0.5) * 2 - 0.5 = 0.5 and 2.5
    out, _ = resize(np.array([0.0, 10.0, 20.0, 40.0], np.float32), (2,))
    np.testing.assert_array_equal(out, [5.0, 30.0])
    # 2 -> 4: samples -0.25 (clamped to cell 0), 0.25, 0.75, 1.25 (clamped to cell 1)
    out, _ = resize(np.array([0.0, 8.0], np.float32), (4,))
    np.testing.assert_array_equal(out, [0.0, 2.0, 6.0, 8.0])


def test_nearest_by_hand_keeps_dtype():
    out, _ = resize(np.array([1, 2, 3, 4, 5], np.uint8), (3,), interpolation="nearest")
    # floor((j + 0.5) * 5 / 3) = floor(0.833), floor(2.5), floor(4.17) = 0, 2, 4
    np.testing.assert_array_equal(out, [1, 3, 5])
    assert out.dtype == np.uint8


def test_shrinking_is_not_pillows_resize():
    """Half-pixel bilinear without antialiasing reads two cells per output cell; Pillow
    averages over the whole shrink window, which gives other values."""
    Image = pytest.importorskip("PIL.Image")
    row = np.array([[0, 0, 0, 255, 255, 255, 0, 0]], np.uint8)
    ours = resize_images(row[:, :, None], (1, 2))[0, :, 0]
    np.testing.assert_array_equal(ours, [0.0, 127.5])  # samples 1.5 and 5.5
    pillow = np.asarray(
        Image.fromarray(row).resize((2, 1), Image.Resampling.BILINEAR), np.float32
    )[0]
    assert not np.allclose(pillow, ours)


def test_integers_are_computed_in_float32_and_float64_stays():
    assert resize(np.zeros((3, 3), np.uint8), (5, 5))[0].dtype == np.float32
    assert resize(np.zeros((3, 3), np.float64), (5, 5))[0].dtype == np.float64


def test_errors():
    with pytest.raises(
        ShapeError, match="interpolation must be one of bilinear, nearest"
    ):
        resize(np.zeros((3, 3)), (2, 2), interpolation="lanczos3")
    with pytest.raises(ShapeError, match="one positive size per resized axis"):
        resize(np.zeros((3, 3)), (2,))
    with pytest.raises(ShapeError, match="one positive size"):
        resize(np.zeros((3, 3)), (0, 2))
    with pytest.raises(ShapeError, match="height, width, channels"):
        resize_images(np.zeros((3, 3)), (2, 2))


@st.composite
def resize_cases(draw):
    nd = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    size = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    method = draw(st.sampled_from(["bilinear", "nearest"]))
    return (2, *spatial, 2), size, method, draw(st.integers(0, 2**32 - 1))


@SETTINGS
@given(resize_cases())
def test_resize_gradients_match_numerical(case):
    shape, size, method, seed = case
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    axes = tuple(range(1, len(shape) - 1))
    out, cache = resize(x, size, axes, method)
    r = rng.normal(size=out.shape)
    analytic = resize_backward(r, cache)
    assert analytic.shape == x.shape
    assert_grad(
        analytic,
        lambda: float(np.sum(resize(x, size, axes, method)[0] * r)),
        x,
        f"resize {case}",
    )


@pytest.mark.parametrize(
    "shape,size,method",
    [
        ((2, 5, 7, 3), (9, 4), "bilinear"),
        ((1, 6, 6, 2), (3, 3), "bilinear"),
        ((1, 3, 4, 1), (8, 11), "bilinear"),
        ((2, 5, 7, 3), (9, 4), "nearest"),
        ((1, 9, 6, 2), (4, 5), "nearest"),
    ],
)
def test_resize_matches_torch(shape, size, method):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype(np.float32)
    out, cache = resize(x, size, (1, 2), method)
    r = rng.normal(size=out.shape).astype(np.float32)
    t = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    mode = {"bilinear": "bilinear", "nearest": "nearest-exact"}[method]
    kw = {"align_corners": False} if method == "bilinear" else {}
    y = torch.nn.functional.interpolate(t, size=size, mode=mode, **kw)
    (y * torch.tensor(np.moveaxis(r, -1, 1).copy())).sum().backward()
    np.testing.assert_allclose(out, np.moveaxis(y.detach().numpy(), 1, -1), atol=1e-5)
    np.testing.assert_allclose(
        resize_backward(r, cache), np.moveaxis(t.grad.numpy(), 1, -1), atol=1e-5
    )
