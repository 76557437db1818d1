"""keras.ops forwards and the tape's backwards against PyTorch autograd, in float32 (within 1e-5).

Each case runs the same function in cnnlab (recorded on a tape, backward replayed for
``sum(y * R)``) and in PyTorch, including the cases where conventions could differ:
ties in max/min/maximum (split evenly, as both do), zeros in prod, repeated fancy
indices, clip at the boundary.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnnlab.keras import ops  # noqa: E402
from cnnlab.ops.tape import Tape, replay  # noqa: E402

rng = np.random.default_rng(0)


def f32(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape).astype(np.float32)


def ours(fn, arrays, r):
    record = Tape("parity")
    with record:
        inputs = [record.watch(a) for a in arrays]
        out = fn(*inputs)
    grads, _ = replay(record, inputs, out, r, [])
    return out.value, grads


def theirs(fn, arrays, r):
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors)
    (y * torch.tensor(r)).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in tensors]


ties = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.0, 2.0]], np.float32)
idx = np.array([0, 2, 2, 1])

CASES = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, [f32(3, 4), f32(4)]),
    "multiply": (ops.multiply, torch.mul, [f32(2, 3, 1), f32(3, 4)]),
    "divide": (ops.divide, torch.div, [f32(3, 4), f32(3, 1, low=0.5, high=2)]),
    "power": (ops.power, torch.pow, [f32(3, 4, low=0.5, high=2), f32(4)]),
    "maximum_ties": (
        ops.maximum,
        torch.maximum,
        [ties, np.full((2, 4), 2.0, np.float32)],
    ),
    "minimum": (ops.minimum, torch.minimum, [f32(3, 4), f32(3, 4)]),
    "where": (
        lambda a, b: ops.where(ties > 1.5, a, b),
        lambda a, b: torch.where(torch.tensor(ties > 1.5), a, b),
        [f32(2, 4), f32(4)],
    ),
    "clip_boundary": (
        lambda a: ops.clip(a, -1.0, 1.0),
        lambda a: torch.clamp(a, -1.0, 1.0),
        [np.array([-2.0, -1.0, 0.0, 1.0, 1.5], np.float32)],
    ),
    "matmul": (ops.matmul, torch.matmul, [f32(2, 3, 4), f32(4, 5)]),
    "matmul_vec": (ops.matmul, torch.matmul, [f32(4), f32(2, 4, 3)]),
    "tensordot": (
        lambda a, b: ops.tensordot(a, b, axes=([1, 2], [1, 0])),
        lambda a, b: torch.tensordot(a, b, dims=([1, 2], [1, 0])),
        [f32(2, 3, 4), f32(4, 3, 5)],
    ),
    "exp_log_sqrt": (
        lambda a: ops.exp(a) + ops.log(a) * ops.sqrt(a),
        lambda a: torch.exp(a) + torch.log(a) * torch.sqrt(a),
        [f32(3, 4, low=0.2, high=2)],
    ),
    "abs_tanh_sigmoid": (
        lambda a: ops.abs(a) * ops.tanh(a) + ops.sigmoid(a),
        lambda a: torch.abs(a) * torch.tanh(a) + torch.sigmoid(a),
        [f32(3, 4)],
    ),
    "relu": (ops.relu, torch.relu, [f32(3, 4)]),
    "softmax": (
        lambda a: ops.softmax(a, axis=0),
        lambda a: torch.softmax(a, dim=0),
        [f32(3, 4)],
    ),
    "log_softmax": (
        ops.log_softmax,
        lambda a: torch.log_softmax(a, dim=-1),
        [f32(3, 4)],
    ),
    "sum_mean": (
        lambda a: ops.sum(a, axis=1) + ops.mean(a, axis=1),
        lambda a: a.sum(1) + a.mean(1),
        [f32(3, 4)],
    ),
    "max_ties": (lambda a: ops.max(a, axis=1), lambda a: torch.amax(a, dim=1), [ties]),
    "min_all": (ops.min, torch.amin, [ties]),
    "prod_zeros": (
        lambda a: ops.prod(a, axis=1),
        lambda a: torch.prod(a, dim=1),
        [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5], [1.0, 2.0, -1.0]], np.float32)],
    ),
    "var_std": (
        lambda a: ops.var(a, axis=0) + ops.std(a, axis=0),
        lambda a: (
            torch.var(a, dim=0, unbiased=False) + torch.std(a, dim=0, unbiased=False)
        ),
        [f32(5, 3)],
    ),
    "logsumexp": (
        lambda a: ops.logsumexp(a, axis=-1),
        lambda a: torch.logsumexp(a, dim=-1),
        [f32(3, 4)],
    ),
    "cumsum": (
        lambda a: ops.cumsum(a, axis=1),
        lambda a: torch.cumsum(a, dim=1),
        [f32(3, 4)],
    ),
    "reshape_transpose": (
        lambda a: ops.transpose(ops.reshape(a, (4, 3)), (1, 0)),
        lambda a: a.reshape(4, 3).permute(1, 0),
        [f32(3, 4)],
    ),
    "fancy_repeats": (
        lambda a: a[idx] * 2,
        lambda a: a[torch.tensor(idx)] * 2,
        [f32(3, 4)],
    ),
    "concat_stack": (
        lambda a, b: ops.concatenate([a, ops.stack([b, b], axis=0)[0]], axis=1),
        lambda a, b: torch.cat([a, torch.stack([b, b], dim=0)[0]], dim=1),
        [f32(3, 2), f32(3, 4)],
    ),
    "tile_repeat": (
        lambda a: ops.tile(a, (2, 1)) + ops.repeat(a, 2, axis=0),
        lambda a: a.repeat(2, 1) + torch.repeat_interleave(a, 2, dim=0),
        [f32(2, 3)],
    ),
    "pad_flip": (
        lambda a: ops.flip(ops.pad(a, [(1, 0), (0, 2)], constant_values=0.5), axis=1),
        lambda a: torch.flip(
            torch.nn.functional.pad(a, (0, 2, 1, 0), value=0.5), dims=(1,)
        ),
        [f32(3, 4)],
    ),
    "max_pool": (
        lambda a: ops.max_pool(a, 2),
        lambda a: torch.nn.functional.max_pool2d(a.permute(0, 3, 1, 2), 2).permute(
            0, 2, 3, 1
        ),
        [f32(2, 4, 4, 3)],
    ),
    "average_pool": (
        lambda a: ops.average_pool(a, 2, strides=1),
        lambda a: torch.nn.functional.avg_pool2d(
            a.permute(0, 3, 1, 2), 2, stride=1
        ).permute(0, 2, 3, 1),
        [f32(2, 4, 4, 3)],
    ),
    "conv": (
        lambda a, k: ops.conv(a, k, padding="same"),
        lambda a, k: torch.nn.functional.conv2d(
            a.permute(0, 3, 1, 2), k.permute(3, 2, 0, 1), padding="same"
        ).permute(0, 2, 3, 1),
        [f32(2, 5, 5, 2), f32(3, 3, 2, 4)],
    ),
}


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_pytorch(name):
    our_fn, torch_fn, arrays = CASES[name]
    y_ours = np.asarray(our_fn(*arrays))
    r = np.random.default_rng(1).standard_normal(y_ours.shape).astype(np.float32)
    y, grads = ours(our_fn, arrays, r)
    y_t, grads_t = theirs(torch_fn, arrays, r)
    scale = max(1.0, float(np.abs(y_t).max()))
    assert np.abs(y - y_t).max() / scale < 1e-5
    for g, gt in zip(grads, grads_t):
        assert g.dtype == np.float32
        assert np.abs(g - gt).max() / max(1.0, float(np.abs(gt).max())) < 1e-5, (
            name,
            g,
            gt,
        )
