"""BatchNormalization's op: the backward against float64 central differences on
hypothesis-drawn shapes (inputs of rank 2 to 5, any feature axis, both modes), the
forward and backward against PyTorch in float32, and Keras's conventions pinned by
hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_gradients import SETTINGS, assert_grad

from cnnlab.errors import ShapeError
from cnnlab.ops import batch_norm_backward, batch_norm_forward, moving_average


@st.composite
def bn_cases(draw):
    rank = draw(st.integers(2, 5))  # dense (N, C), then 1, 2 and 3 spatial axes
    shape = [draw(st.integers(2, 3))] + [
        draw(st.integers(1, 3)) for _ in range(rank - 1)
    ]
    axis = draw(st.integers(1, rank - 1))
    if draw(st.booleans()):
        axis -= rank  # negative axes count from the end
    training = draw(st.booleans())
    center, scale = draw(st.booleans()), draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return tuple(shape), axis, training, center, scale, seed


@SETTINGS
@given(bn_cases())
def test_batch_norm_gradients_match_numerical(case):
    shape, axis, training, center, scale, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 0.5
    c = shape[axis]
    gamma = rng.standard_normal(c) if scale else None
    beta = rng.standard_normal(c) if center else None
    mean, var = rng.standard_normal(c), rng.random(c) + 0.5
    y, cache = batch_norm_forward(x, gamma, beta, mean, var, axis, 1e-3, training)
    r = rng.standard_normal(y.shape)
    dx, dgamma, dbeta = batch_norm_backward(r, cache)

    def loss():
        return float(
            np.sum(
                batch_norm_forward(x, gamma, beta, mean, var, axis, 1e-3, training)[0]
                * r
            )
        )

    assert_grad(dx, loss, x, f"dx {case}")
    if scale:
        assert_grad(dgamma, loss, gamma, "dgamma")
    if center:
        assert_grad(dbeta, loss, beta, "dbeta")
    assert batch_norm_backward(r, cache, need_dx=False)[0] is None


def test_forward_by_hand_training_and_inference():
    # one feature, batch [1, 2, 3, 6]: mean 3, variance (4 + 1 + 0 + 9)/4 = 3.5 (divides by n, not n - 1)
    x = np.array([[1.0], [2.0], [3.0], [6.0]], dtype=np.float32)
    gamma, beta = np.array([2.0], np.float32), np.array([0.5], np.float32)
    mm, mv = np.array([1.0], np.float32), np.array([4.0], np.float32)
    y, cache = batch_norm_forward(x, gamma, beta, mm, mv, -1, 1e-3, training=True)
    expected = 2.0 * (x - 3.0) / np.sqrt(3.5 + 1e-3) + 0.5
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert cache.batch_mean[0] == pytest.approx(3.0) and cache.batch_var[
        0
    ] == pytest.approx(3.5)
    # Keras: moving = moving * 0.99 + batch * 0.01 (PyTorch's momentum=0.01 is the same update)
    assert moving_average(mm, cache.batch_mean, 0.99)[0] == pytest.approx(
        1.0 * 0.99 + 3.0 * 0.01
    )
    assert moving_average(mv, cache.batch_var, 0.99)[0] == pytest.approx(
        4.0 * 0.99 + 3.5 * 0.01
    )
    y_inf, _ = batch_norm_forward(x, gamma, beta, mm, mv, -1, 1e-3, training=False)
    np.testing.assert_allclose(
        y_inf, 2.0 * (x - 1.0) / np.sqrt(4.0 + 1e-3) + 0.5, rtol=1e-6
    )
    assert y.dtype == y_inf.dtype == np.float32


def test_shape_errors_name_the_argument():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ShapeError, match="gamma must have shape \\(4,\\)"):
        batch_norm_forward(x, np.ones(3, np.float32), None, np.zeros(4), np.ones(4))
    with pytest.raises(ShapeError, match="axis 0 is the batch axis"):
        batch_norm_forward(x, None, None, np.zeros(2), np.ones(2), axis=0)
    with pytest.raises(ShapeError, match="out of bounds"):
        batch_norm_forward(x, None, None, np.zeros(4), np.ones(4), axis=3)


# --------------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 5), (4, 9, 3), (3, 6, 5, 4), (2, 4, 3, 5, 3)])
def test_batch_norm_matches_torch(shape, training):
    """PyTorch's ``momentum`` weighs the *new* batch (Keras's 0.99 is PyTorch's 0.01), and its
    running variance is the unbiased one (divides by m - 1) while Keras's moving variance uses
    the biased batch variance (m): the test converts both before comparing."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape) + training)
    x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
    c = shape[-1]
    gamma = (rng.random(c) + 0.5).astype(np.float32)
    beta = rng.standard_normal(c).astype(np.float32)
    mm = rng.standard_normal(c).astype(np.float32)
    mv = (rng.random(c) + 0.5).astype(np.float32)
    momentum, eps = 0.99, 1e-3
    y, cache = batch_norm_forward(x, gamma, beta, mm, mv, -1, eps, training)
    r = rng.standard_normal(shape).astype(np.float32)
    dx, dgamma, dbeta = batch_norm_backward(r, cache)

    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    run_mean, run_var = torch.tensor(mm), torch.tensor(mv)
    yt = torch.nn.functional.batch_norm(
        xt, run_mean, run_var, gt, bt, training=training, momentum=1 - momentum, eps=eps
    )
    (yt * torch.tensor(np.moveaxis(r, -1, 1).copy())).sum().backward()

    def close(ours, theirs, what):
        scale = max(1.0, float(np.max(np.abs(theirs))))
        assert ours.dtype == np.float32
        np.testing.assert_allclose(
            ours, theirs, rtol=1e-5, atol=1e-5 * scale, err_msg=what
        )

    close(y, np.moveaxis(yt.detach().numpy(), 1, -1), "y")
    close(dx, np.moveaxis(xt.grad.numpy(), 1, -1), "dx")
    close(dgamma, gt.grad.numpy(), "dgamma")
    close(dbeta, bt.grad.numpy(), "dbeta")
    if training:
        m = x.size // c
        close(
            moving_average(mm, cache.batch_mean, momentum),
            run_mean.numpy(),
            "moving mean",
        )
        # torch's running variance took the unbiased batch variance: undo that factor m/(m-1)
        torch_batch_var = (
            (run_var.numpy() - mv * momentum) / (1 - momentum) * (m - 1) / m
        )
        close(
            cache.batch_var,
            torch_batch_var.astype(np.float32),
            "batch variance (divides by m)",
        )
        close(
            moving_average(mv, cache.batch_var, momentum),
            (mv * momentum + torch_batch_var * (1 - momentum)).astype(np.float32),
            "moving variance",
        )
