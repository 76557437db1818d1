"""Transposed, grouped and depthwise convolution against PyTorch autograd, float32, within 1e-5.

PyTorch's ``conv_transpose*d`` weight is ``(C_in, filters, *k)`` (Keras: ``(*k, filters, C_in)``);
its grouped and depthwise convolutions are ``conv*d(..., groups=g)`` with weight
``(C_out, C_in/g, *k)``. PyTorch has no ``same`` transposed padding: those cases are
checked by hand and against Keras (tests/ops/test_conv_variants.py, the Keras fixtures).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from test_torch_parity import (
    TORCH_CONV,
    assert_close,
    from_torch,
    kernel_from_torch,  # noqa: E402
    kernel_to_torch,
    randn,
    to_torch,
)

from cnnlab.ops.conv import conv_backward, conv_forward, depthwise_kernel_as_grouped  # noqa: E402
from cnnlab.ops.conv_transpose import conv_transpose_backward, conv_transpose_forward  # noqa: E402

TORCH_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
SPATIAL = {1: (7,), 2: (5, 4), 3: (4, 3, 3)}

TRANSPOSE_CASES = [
    # nd, kernel, strides, dilation, output_padding (valid padding: torch's padding=0)
    (1, 3, 1, 1, 0),
    (1, 3, 2, 1, 1),
    (1, 4, 3, 1, 2),
    (1, 3, 1, 2, 0),
    (1, 1, 2, 1, 0),
    (2, 3, 2, 1, 1),
    (2, (2, 3), (1, 2), 1, (0, 1)),
    (2, 3, 1, 2, 0),
    (2, (3, 1), (3, 2), 1, (2, 0)),
    (3, 2, 2, 1, 1),
    (3, (3, 2, 2), 1, (2, 1, 1), 0),
    (3, 3, (1, 2, 3), 1, (0, 1, 2)),
]


@pytest.mark.parametrize("nd,kernel,strides,dilation,op", TRANSPOSE_CASES)
def test_conv_transpose_matches_torch(nd, kernel, strides, dilation, op):
    rng = np.random.default_rng(nd * 7 + len(str(kernel)))
    k = (kernel,) * nd if isinstance(kernel, int) else kernel
    x = randn(rng, (2, *SPATIAL[nd], 3))
    w = randn(rng, (*k, 4, 3)) * np.float32(0.5)
    b = randn(rng, (4,))
    y, cache = conv_transpose_forward(x, w, b, strides, "valid", op, dilation)
    assert y.dtype == np.float32
    dy = randn(rng, y.shape)
    dx, dw, db = conv_transpose_backward(dy, cache)

    xt = to_torch(x)
    wt = torch.tensor(
        np.moveaxis(np.moveaxis(w, -1, 0), -1, 1).copy(), requires_grad=True
    )  # (C_in, F, *k)
    bt = torch.tensor(b, requires_grad=True)
    yt = TORCH_TRANSPOSE[nd](
        xt, wt, bt, stride=strides, output_padding=op, dilation=dilation
    )
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "conv_transpose y")
    assert_close(dx, from_torch(xt.grad), "conv_transpose dx")
    assert_close(
        dw,
        np.moveaxis(np.moveaxis(wt.grad.numpy(), 0, -1), 0, -2),
        "conv_transpose dkernel",
    )
    assert_close(db, bt.grad.numpy(), "conv_transpose dbias")


GROUPED_CASES = [
    # nd, kernel, strides, dilation, padding (ours = torch's), c_in, c_out, groups
    (1, 3, 1, 1, 1, 6, 4, 2),
    (1, 2, 2, 1, 0, 6, 9, 3),
    (2, 3, 1, 2, 2, 4, 8, 4),
    (2, (3, 2), (2, 1), 1, 0, 6, 6, 3),
    (3, 2, 1, 1, 0, 4, 6, 2),
    (3, 3, 2, 1, 1, 3, 3, 3),
]


@pytest.mark.parametrize(
    "nd,kernel,strides,dilation,padding,c_in,c_out,groups", GROUPED_CASES
)
def test_grouped_conv_matches_torch(
    nd, kernel, strides, dilation, padding, c_in, c_out, groups
):
    rng = np.random.default_rng(nd + c_in + groups)
    k = (kernel,) * nd if isinstance(kernel, int) else kernel
    x = randn(rng, (2, *SPATIAL[nd], c_in))
    w = randn(rng, (*k, c_in // groups, c_out))
    b = randn(rng, (c_out,))
    y, cache = conv_forward(x, w, b, strides, padding, dilation, groups=groups)
    dy = randn(rng, y.shape)
    dx, dw, db = conv_backward(dy, cache)

    xt, wt, bt = to_torch(x), kernel_to_torch(w), torch.tensor(b, requires_grad=True)
    yt = TORCH_CONV[nd](
        xt, wt, bt, stride=strides, padding=padding, dilation=dilation, groups=groups
    )
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "grouped y")
    assert_close(dx, from_torch(xt.grad), "grouped dx")
    assert_close(dw, kernel_from_torch(wt.grad), "grouped dkernel")
    assert_close(db, bt.grad.numpy(), "grouped dbias")


@pytest.mark.parametrize(
    "nd,dm,strides", [(1, 1, 1), (1, 3, 2), (2, 2, 1), (2, 1, 2), (3, 2, 1)]
)
def test_depthwise_conv_matches_torch(nd, dm, strides):
    """Keras's depthwise kernel (*k, C, dm) is torch's groups=C weight (C*dm, 1, *k), channel c*dm + m."""
    rng = np.random.default_rng(nd * 10 + dm)
    c = 3
    x = randn(rng, (2, *SPATIAL[nd], c))
    w = randn(rng, (*(3,) * nd, c, dm))
    b = randn(rng, (c * dm,))
    y, cache = conv_forward(
        x, depthwise_kernel_as_grouped(w), b, strides, "valid", groups=c
    )
    dy = randn(rng, y.shape)
    dx, dw, db = conv_backward(dy, cache)

    xt = to_torch(x)
    wt = kernel_to_torch(w.reshape(*w.shape[:-2], 1, c * dm))
    bt = torch.tensor(b, requires_grad=True)
    yt = TORCH_CONV[nd](xt, wt, bt, stride=strides, groups=c)
    yt.backward(torch.tensor(np.moveaxis(dy, -1, 1).copy()))
    assert_close(y, from_torch(yt), "depthwise y")
    assert_close(dx, from_torch(xt.grad), "depthwise dx")
    assert_close(
        dw.reshape(w.shape),
        kernel_from_torch(wt.grad).reshape(w.shape),
        "depthwise dkernel",
    )
    assert_close(db, bt.grad.numpy(), "depthwise dbias")
