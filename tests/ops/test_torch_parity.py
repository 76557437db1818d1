"""Forward and backward against PyTorch autograd, in float32.

cnnlab is ``channels_last`` (x ``(N, *S, C)``, kernel ``(*k, C_in, C_out)``);
PyTorch is ``channels_first`` (x ``(N, C, *S)``, weight ``(C_out, C_in, *k)``).
Each test transposes the data, runs both, transposes back and compares the
outputs and the gradients of ``sum(y * R)`` for a random ``R``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from cnnlab.ops import activations as act  # noqa: E402
from cnnlab.ops import (
    avg_pool_backward,
    avg_pool_forward,
    binary_crossentropy,  # noqa: E402
    categorical_crossentropy,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
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

torch.set_default_dtype(torch.float32)

# torch's note that even 'same' kernels make it copy a padded input is about its speed, not ours
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


# --------------------------------------------------------------------------- helpers


def to_torch(x):
    """(N, *S, C) -> (N, C, *S), as a leaf tensor that records its gradient."""
    return torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)


def from_torch(t):
    """(N, C, *S) -> (N, *S, C)."""
    return np.moveaxis(t.detach().numpy(), 1, -1)


def kernel_to_torch(w):
    """(*k, C_in, C_out) -> (C_out, C_in, *k)."""
    nd = w.ndim - 2
    return torch.tensor(w.transpose(nd + 1, nd, *range(nd)).copy(), requires_grad=True)


def kernel_from_torch(t):
    """(C_out, C_in, *k) -> (*k, C_in, C_out)."""
    a = t.detach().numpy()
    nd = a.ndim - 2
    return a.transpose(*range(2, nd + 2), 1, 0)


def assert_close(ours, theirs, what=""):
    """float32 agreement: 1e-5, relative to the size of the values (about 1 here)."""
    ours = np.asarray(ours)
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
    assert ours.dtype == np.float32, (what, ours.dtype)
    scale = max(1.0, float(np.max(np.abs(theirs))) if theirs.size else 1.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * scale, err_msg=what)


def randn(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TORCH_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TORCH_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
SPATIAL = {1: (11,), 2: (9, 8), 3: (6, 5, 7)}


def check_conv(
    nd,
    kernel,
    strides,
    dilation,
    ours_padding,
    torch_padding,
    pre_pad=None,
    seed=0,
    bias=True,
    c_in=3,
):
    rng = np.random.default_rng(seed)
    x = randn(rng, (2, *SPATIAL[nd], c_in))
    w = randn(rng, (*kernel, c_in, 4)) * np.float32(0.5)
    b = randn(rng, (4,)) if bias else None

    y, cache = conv_forward(
        x, w, b, strides=strides, padding=ours_padding, dilation_rate=dilation
    )
    assert y.dtype == np.float32
    dy = randn(rng, y.shape)
    dx, dw, db = conv_backward(dy, cache)

    xt, wt = to_torch(x), kernel_to_torch(w)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    inp = F.pad(xt, pre_pad) if pre_pad is not None else xt
    yt = TORCH_CONV[nd](
        inp, wt, bt, stride=strides, padding=torch_padding, dilation=dilation
    )
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))

    assert_close(y, from_torch(yt), "conv y")
    assert_close(dx, from_torch(xt.grad), "conv dx")
    assert_close(dw, kernel_from_torch(wt.grad), "conv dkernel")
    if bias:
        assert_close(db, bt.grad.numpy(), "conv dbias")
    else:
        assert db is None


# --------------------------------------------------------------------------- convolution

CONV_CASES = [
    # nd, kernel, strides, dilation, ours padding, torch padding
    (1, (3,), 1, 1, "valid", 0),
    (1, (4,), 2, 1, 1, 1),
    (1, (3,), 2, 2, ((2, 2),), 2),
    (1, (2,), 1, 1, "same", "same"),
    (1, (3,), 1, 2, "same", "same"),
    (2, (3, 3), 1, 1, "valid", 0),
    (2, (3, 2), (2, 1), (1, 2), (1, 0), (1, 0)),
    (2, (5, 5), 2, 2, 2, 2),
    (2, (3, 3), 3, 1, "valid", 0),
    (2, (2, 2), 1, 1, "same", "same"),
    (2, (3, 3), 1, 2, "same", "same"),
    (2, (1, 1), 1, 1, "valid", 0),
    (3, (3, 3, 3), 1, 1, "valid", 0),
    (3, (2, 2, 2), 2, 1, 1, 1),
    (3, (3, 2, 3), (1, 2, 1), (2, 1, 1), (2, 1, 0), (2, 1, 0)),
    (3, (2, 3, 2), 1, 1, "same", "same"),
]


@pytest.mark.parametrize(
    "nd,kernel,strides,dilation,ours,theirs",
    CONV_CASES,
    ids=[f"{c[0]}d-k{c[1]}-s{c[2]}-d{c[3]}-p{c[4]}" for c in CONV_CASES],
)
def test_conv_matches_torch(nd, kernel, strides, dilation, ours, theirs):
    check_conv(
        nd, kernel, strides, dilation, ours, theirs, seed=len(kernel) * 10 + sum(kernel)
    )


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_without_bias_matches_torch(nd):
    check_conv(nd, (2,) * nd, 1, 1, "valid", 0, bias=False, seed=nd)


@pytest.mark.parametrize(
    "nd,kernel,strides,dilation,ours,theirs",
    [
        (1, (5,), 2, 1, 2, 2),
        (2, (3, 3), 1, 1, "valid", 0),
        (2, (5, 5), 2, 1, 1, 1),
        (2, (3, 3), 1, 2, "same", "same"),
        (3, (3, 3, 2), (2, 1, 1), 1, "valid", 0),
    ],
)
def test_conv_single_input_channel_matches_torch(
    nd, kernel, strides, dilation, ours, theirs
):
    """One input channel (greyscale images, the first layer) may take its own im2col path."""
    check_conv(nd, kernel, strides, dilation, ours, theirs, seed=3, c_in=1)


def tf_same_pads(size, k, s, d):
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize(
    "nd,kernel,strides,dilation",
    [
        (1, (2,), 2, 1),
        (1, (3,), 3, 1),
        (2, (2, 2), 2, 1),
        (2, (4, 3), (2, 3), 1),
        (2, (3, 3), 2, 2),
        (3, (2, 3, 2), 2, 1),
    ],
)
def test_conv_same_with_stride_matches_torch_with_tf_asymmetric_pads(
    nd, kernel, strides, dilation
):
    """torch refuses padding='same' with stride > 1; pad by TensorFlow's rule with F.pad instead."""
    s = (strides,) * nd if isinstance(strides, int) else strides
    d = (dilation,) * nd if isinstance(dilation, int) else dilation
    pads = [
        tf_same_pads(i, k, st, dd) for i, k, st, dd in zip(SPATIAL[nd], kernel, s, d)
    ]
    assert any(b != a for b, a in pads), "case should exercise asymmetric padding"
    pre_pad = tuple(
        v for b, a in reversed(pads) for v in (b, a)
    )  # F.pad: last axis first
    check_conv(nd, kernel, strides, dilation, "same", 0, pre_pad=pre_pad, seed=7)


# --------------------------------------------------------------------------- pooling

POOL_CASES = [
    # nd, pool, strides (None = pool)
    (1, (2,), None),
    (1, (3,), 2),  # overlapping
    (1, (3,), 1),
    (2, (2, 2), None),
    (2, (3, 3), 2),  # overlapping (AlexNet-style)
    (2, (3, 2), (1, 2)),
    (2, (2, 2), 1),
    (3, (2, 2, 2), None),
    (3, (3, 2, 2), (2, 1, 2)),
    (3, (2, 2, 3), 1),
]


def _torch_stride(pool, strides):
    return pool if strides is None else strides


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    "nd,pool,strides", POOL_CASES, ids=[f"{c[0]}d-p{c[1]}-s{c[2]}" for c in POOL_CASES]
)
def test_pool_matches_torch(kind, nd, pool, strides):
    rng = np.random.default_rng(sum(pool) + nd)
    x = randn(rng, (2, *SPATIAL[nd], 3))
    fwd, bwd = (
        (max_pool_forward, max_pool_backward)
        if kind == "max"
        else (avg_pool_forward, avg_pool_backward)
    )
    y, cache = fwd(x, pool, strides, "valid")
    dy = randn(rng, y.shape)
    dx = bwd(dy, cache)

    xt = to_torch(x)
    op = TORCH_MAX[nd] if kind == "max" else TORCH_AVG[nd]
    yt = op(xt, pool, _torch_stride(pool, strides))
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), f"{kind} y")
    assert_close(dx, from_torch(xt.grad), f"{kind} dx")


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pool_same_odd_window_stride_1_matches_torch_padding(kind, nd):
    """Odd window, stride 1: 'same' pads symmetrically (k // 2), which torch can express:
    max pools ignore the padding, average pools with count_include_pad=False divide by real cells."""
    rng = np.random.default_rng(nd)
    x = randn(rng, (2, *SPATIAL[nd], 2)) - np.float32(
        3.0
    )  # all negative: zero padding would win a max
    pool = (3,) * nd
    fwd, bwd = (
        (max_pool_forward, max_pool_backward)
        if kind == "max"
        else (avg_pool_forward, avg_pool_backward)
    )
    y, cache = fwd(x, pool, 1, "same")
    assert y.shape == x.shape
    dy = randn(rng, y.shape)
    dx = bwd(dy, cache)

    xt = to_torch(x)
    if kind == "max":
        yt = TORCH_MAX[nd](xt, 3, 1, padding=1)
    else:
        yt = TORCH_AVG[nd](xt, 3, 1, padding=1, count_include_pad=False)
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), f"{kind} same y")
    assert_close(dx, from_torch(xt.grad), f"{kind} same dx")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_global_pools_match_torch(nd):
    rng = np.random.default_rng(nd)
    x = randn(rng, (3, *SPATIAL[nd], 4))
    dy = randn(rng, (3, 4))
    dims = tuple(range(2, nd + 2))

    y, cache = global_avg_pool_forward(x)
    dx = global_avg_pool_backward(dy, cache)
    xt = to_torch(x)
    yt = xt.mean(dim=dims)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), "global avg y")
    assert_close(dx, from_torch(xt.grad), "global avg dx")

    y, cache = global_max_pool_forward(x)
    dx = global_max_pool_backward(dy, cache)
    xt = to_torch(x)
    yt = xt.amax(dim=dims)  # no ties in random data, so amax's gradient is unambiguous
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), "global max y")
    assert_close(dx, from_torch(xt.grad), "global max dx")


# --------------------------------------------------------------------------- max-pool ties


def tied_image(rng):
    """Small integers (many ties), a saturated patch of 1.0s and an all-equal region."""
    x = rng.integers(0, 3, (2, 8, 8, 3)).astype(np.float32)
    x[:, 2:6, 2:6, :] = 1.0
    x[:, 0:4, 0:2, 0] = 0.5
    x[1, :, :, 2] = 1.0  # one channel entirely tied
    return x


@pytest.mark.parametrize(
    "pool,strides",
    [((2, 2), (2, 2)), ((3, 3), (2, 2)), ((3, 3), (1, 1)), ((2, 3), (1, 2))],
)
def test_max_pool_ties_send_gradient_to_first_max_like_torch(pool, strides):
    rng = np.random.default_rng(0)
    x = tied_image(rng)
    y, cache = max_pool_forward(x, pool, strides, "valid")
    dy = rng.uniform(0.5, 1.5, y.shape).astype(np.float32)
    dx = max_pool_backward(dy, cache)

    xt = to_torch(x)
    yt = F.max_pool2d(xt, pool, strides)
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    np.testing.assert_array_equal(y, from_torch(yt))
    assert_close(dx, from_torch(xt.grad), "tied max dx")
    # exactly one winner per window: the total gradient is conserved
    assert float(dx.sum()) == pytest.approx(float(dy.sum()), rel=1e-5)


@pytest.mark.parametrize("nd", [1, 3])
def test_max_pool_ties_1d_3d_like_torch(nd):
    shape = {1: (2, 10, 2), 3: (1, 4, 4, 4, 2)}[nd]
    x = np.random.default_rng(nd).integers(0, 2, shape).astype(np.float32)
    y, cache = max_pool_forward(x, (2,) * nd, None, "valid")
    dy = np.random.default_rng(9).uniform(0.5, 1.5, y.shape).astype(np.float32)
    dx = max_pool_backward(dy, cache)
    xt = to_torch(x)
    TORCH_MAX[nd](xt, 2).backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(dx, from_torch(xt.grad), "tied max dx")


def test_max_pool_all_equal_windows_pick_top_left():
    x = np.ones((1, 4, 4, 1), dtype=np.float32)
    y, cache = max_pool_forward(x, (2, 2), None, "valid")
    dx = max_pool_backward(np.ones_like(y), cache)
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[::2, ::2] = 1.0
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)

    xt = to_torch(x)
    F.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(from_torch(xt.grad)[0, :, :, 0], expected)


def test_global_max_pool_ties_pick_first_in_row_major_order():
    x = np.zeros((1, 3, 3, 2), dtype=np.float32)
    x[0, 1, 2, 0] = x[0, 2, 0, 0] = 5.0  # tie: (1, 2) comes first row-major
    x[0, :, :, 1] = 1.0  # all tied: (0, 0)
    y, cache = global_max_pool_forward(x)
    dx = global_max_pool_backward(np.array([[2.0, 3.0]], dtype=np.float32), cache)
    np.testing.assert_array_equal(y, [[5.0, 1.0]])
    expected = np.zeros_like(x)
    expected[0, 1, 2, 0] = 2.0
    expected[0, 0, 0, 1] = 3.0
    np.testing.assert_array_equal(dx, expected)

    xt = to_torch(x)
    F.adaptive_max_pool2d(xt, 1).flatten(1).backward(torch.tensor([[2.0, 3.0]]))
    np.testing.assert_array_equal(from_torch(xt.grad), expected)


# --------------------------------------------------------------------------- dense


def test_dense_matches_torch_linear():
    rng = np.random.default_rng(3)
    x, w, b = randn(rng, (5, 7)), randn(rng, (7, 4)), randn(rng, (4,))
    y, cache = dense_forward(x, w, b)
    dy = randn(rng, y.shape)
    dx, dw, db = dense_backward(dy, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w.T.copy(), b))
    yt = F.linear(xt, wt, bt)
    yt.backward(torch.tensor(dy))
    assert_close(y, yt.detach().numpy(), "dense y")
    assert_close(dx, xt.grad.numpy(), "dense dx")
    assert_close(dw, wt.grad.numpy().T, "dense dkernel")
    assert_close(db, bt.grad.numpy(), "dense dbias")


# --------------------------------------------------------------------------- activations

ACTIVATION_CASES = [
    ("relu", {}, lambda t: F.relu(t)),
    (
        "leaky_relu",
        {},
        lambda t: F.leaky_relu(t, 0.2),
    ),  # keras.activations default slope
    ("leaky_relu", {"negative_slope": 0.01}, lambda t: F.leaky_relu(t, 0.01)),
    ("leaky_relu", {"negative_slope": 0.3}, lambda t: F.leaky_relu(t, 0.3)),
    ("sigmoid", {}, torch.sigmoid),
    ("tanh", {}, torch.tanh),
    ("softmax", {}, lambda t: F.softmax(t, dim=-1)),
    ("softmax", {"axis": 1}, lambda t: F.softmax(t, dim=1)),
    ("elu", {}, F.elu),
    ("elu", {"alpha": 0.5}, lambda t: F.elu(t, 0.5)),
    ("softplus", {}, F.softplus),
    ("silu", {}, F.silu),
    ("linear", {}, lambda t: t * 1.0),
    # Keras's full relu(x, negative_slope, max_value, threshold)
    ("relu_general", {}, F.relu),
    ("relu_general", {"max_value": 6.0}, F.relu6),
    ("relu_general", {"threshold": 0.5}, lambda t: F.threshold(t, 0.5, 0.0)),
    ("relu_general", {"negative_slope": 0.1}, lambda t: F.leaky_relu(t, 0.1)),
    # issue 14's activations
    ("gelu", {}, F.gelu),
    ("gelu", {"approximate": True}, lambda t: F.gelu(t, approximate="tanh")),
    ("selu", {}, F.selu),
    ("relu6", {}, F.relu6),
    ("hard_sigmoid", {}, F.hardsigmoid),
    ("hard_silu", {}, F.hardswish),
    ("softsign", {}, F.softsign),
    ("mish", {}, F.mish),
    ("log_softmax", {}, lambda t: F.log_softmax(t, dim=-1)),
]


@pytest.mark.parametrize(
    "name,kw,ref",
    ACTIVATION_CASES,
    ids=[f"{c[0]}{c[1] or ''}" for c in ACTIVATION_CASES],
)
def test_activation_matches_torch(name, kw, ref):
    if name not in act.ACTIVATIONS:
        pytest.skip(f"{name} not registered")
    rng = np.random.default_rng(len(name))
    x = randn(rng, (4, 5, 6)) * np.float32(3.0)
    x[0, 0, :3] = [-30.0, 30.0, -12.0]  # saturated tails must stay finite and exact
    fwd, bwd = act.ACTIVATIONS[name]
    y = fwd(x, **kw)
    dy = randn(rng, x.shape)
    dx = bwd(dy, x, y, **kw)

    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(dy))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert_close(y, yt.detach().numpy(), f"{name} y")
    assert_close(dx, xt.grad.numpy(), f"{name} dx")


# --------------------------------------------------------------------------- losses


def test_sparse_crossentropy_from_logits_matches_torch_cross_entropy():
    rng = np.random.default_rng(0)
    logits = randn(rng, (6, 5)) * np.float32(2.0)
    labels = rng.integers(0, 5, 6)
    loss, grad = sparse_categorical_crossentropy(labels, logits, from_logits=True)
    zt = torch.tensor(logits, requires_grad=True)
    lt = F.cross_entropy(zt, torch.tensor(labels))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, zt.grad.numpy(), "sparse CE grad")


def test_categorical_crossentropy_from_logits_soft_labels_matches_torch():
    rng = np.random.default_rng(1)
    logits = randn(rng, (6, 4)) * np.float32(2.0)
    target = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    loss, grad = categorical_crossentropy(target, logits, from_logits=True)
    zt = torch.tensor(logits, requires_grad=True)
    lt = F.cross_entropy(zt, torch.tensor(target))  # torch accepts class probabilities
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, zt.grad.numpy(), "CE grad")


def test_categorical_crossentropy_on_probabilities_matches_torch():
    """Loss: torch's nll of log p. Gradient: torch autograd through Keras's renormalisation p / sum(p)."""
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 1.0, (5, 4)).astype(np.float32)
    labels = rng.integers(0, 4, 5)
    one_hot = np.eye(4, dtype=np.float32)[labels]
    loss, grad = categorical_crossentropy(one_hot, p)

    pt = torch.tensor(p, requires_grad=True)
    q = pt / pt.sum(-1, keepdim=True)
    lt = F.nll_loss(torch.log(q), torch.tensor(labels))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, pt.grad.numpy(), "CE-on-probabilities grad")


@pytest.mark.parametrize("shape", [(8, 1), (4, 3)])
def test_binary_crossentropy_with_logits_matches_torch(shape):
    rng = np.random.default_rng(3)
    z = randn(rng, shape) * np.float32(3.0)
    z.flat[0] = 40.0  # stable for large logits
    y = (rng.uniform(size=shape) < 0.5).astype(np.float32)
    loss, grad = binary_crossentropy(y, z, from_logits=True)
    zt = torch.tensor(z, requires_grad=True)
    lt = F.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, zt.grad.numpy(), "BCE-logits grad")


@pytest.mark.parametrize("shape", [(8, 1), (4, 3)])
def test_binary_crossentropy_on_probabilities_matches_torch(shape):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.02, 0.98, shape).astype(np.float32)
    y = rng.uniform(size=shape).astype(np.float32)  # soft labels too
    loss, grad = binary_crossentropy(y, p)
    pt = torch.tensor(p, requires_grad=True)
    lt = F.binary_cross_entropy(pt, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, pt.grad.numpy(), "BCE grad")


@pytest.mark.parametrize(
    "ours,theirs",
    [(mean_squared_error, F.mse_loss), (mean_absolute_error, F.l1_loss)],
    ids=["mse", "mae"],
)
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_regression_losses_match_torch(ours, theirs, shape):
    rng = np.random.default_rng(5)
    y, p = randn(rng, shape), randn(rng, shape)
    loss, grad = ours(y, p)
    pt = torch.tensor(p, requires_grad=True)
    lt = theirs(pt, torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    assert_close(grad, pt.grad.numpy(), "regression loss grad")
