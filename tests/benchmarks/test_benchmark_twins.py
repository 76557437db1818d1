"""The speed benchmark compares like with like: each cnnlab model and its PyTorch twin
(benchmarks/common.py) compute the same outputs from the same weights, in both of
PyTorch's memory formats, and one training step moves both the same way."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
import common  # noqa: E402


@pytest.mark.parametrize(
    "build, shape",
    [(common.build_cnnlab_model, (28, 28, 1)), (common.build_cifar_model, (32, 32, 3))],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_twin_outputs_agree(build, shape, channels_last):
    model = build(seed=3, metrics=())
    common.randomize_batchnorm(model, seed=3)
    twin = common.build_torch_twin(model, channels_last=channels_last)
    rng = np.random.default_rng(0)
    x = rng.random((16, *shape), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    expected = model.predict_on_batch(x)
    twin.eval()
    with torch.inference_mode():
        got = torch.softmax(
            twin(common.nchw(x, channels_last=channels_last)), dim=1
        ).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert common.check_twin(model, twin, x, y)["argmax_agreement"] == 1.0


def test_one_training_step_agrees_on_the_cifar_model():
    """Batch statistics, BN's momentum convention and Adam's epsilon: after one step on the
    same batch, the updated weights and moving statistics match."""
    model = common.build_cifar_model(seed=1, metrics=())
    twin = common.build_torch_twin(model)
    rng = np.random.default_rng(1)
    x = rng.random((32, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    model.train_on_batch(x, y)
    common.torch_train_step_fn(twin)(
        common.nchw(x), torch.from_numpy(y.astype(np.int64))
    )
    after = common.build_torch_twin(model)  # cnnlab's weights, in the twin's layout
    # Adam's first step is lr * m / (sqrt(v) + eps), about lr * sign(g): where a gradient is near
    # zero, float32 rounding in either library moves that weight by a different fraction of the
    # step. So: moving statistics tight, and all but 2 % of the weights within a tenth of a step
    # (a wrong sign, scale, layout or momentum moves most of them).
    for (name, p), q in zip(twin.state_dict().items(), after.state_dict().values()):
        if not p.dtype.is_floating_point:
            continue
        diff = np.abs(p.numpy() - q.numpy())
        if "running" in name:
            assert diff.max() < 1e-5, name
        else:
            assert np.mean(diff > 1e-4) < 0.02 and diff.max() < 1e-3, (
                name,
                diff.max(),
                np.mean(diff > 1e-4),
            )


def test_warm_until_stable_stops_when_two_rounds_agree(monkeypatch):
    import time

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    def rounds(durations):
        it = iter(durations)

        def fn():
            clock[0] += next(it)

        return fn

    times, stable = common.warm_until_stable(
        rounds([5.0, 2.0, 1.0, 1.01, 9.0]), tolerance=0.05, cap=5
    )
    assert stable and times == pytest.approx([5.0, 2.0, 1.0, 1.01])
    times, stable = common.warm_until_stable(
        rounds([1.0, 2.0, 4.0, 8.0]), tolerance=0.05, cap=3
    )
    assert not stable and len(times) == 3
