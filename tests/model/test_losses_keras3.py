"""Issue 16 (losses) and issue 12 item 10 (function forms): every loss against PyTorch or a hand computation
of Keras's formula, its gradient against float64 central differences, its reductions, and its shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError, ShapeError

torch = pytest.importorskip("torch")
F = torch.nn.functional
L = keras.losses
EPS = 1e-7


def rng_data(shape, seed=0, low=0.05, high=0.95):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape)


def probs(shape, seed=0):
    p = rng_data(shape, seed, 0.1, 1.0)
    return p / p.sum(-1, keepdims=True)


def one_hot(n, k, seed=0):
    return np.eye(k)[np.random.default_rng(seed).integers(0, k, n)]


T = lambda a: torch.tensor(np.asarray(a, dtype=np.float64))  # noqa: E731


# --------------------------------------------------------------------------- values: torch or by hand


def test_categorical_crossentropy_with_label_smoothing_matches_torch():
    y, z = one_hot(16, 5), np.random.default_rng(1).normal(size=(16, 5))
    ours = L.categorical_crossentropy(y, z, from_logits=True, label_smoothing=0.2)
    ref = F.cross_entropy(
        T(z), T(y).argmax(1), label_smoothing=0.2, reduction="none"
    ).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    p = probs((16, 5), 2)
    ours = L.categorical_crossentropy(y, p, label_smoothing=0.2)
    smoothed = y * 0.8 + 0.2 / 5
    np.testing.assert_allclose(ours, -(smoothed * np.log(p)).sum(-1), rtol=1e-6)


def test_sparse_categorical_crossentropy_labels_any_form():
    p, labels = probs((8, 4), 3), np.random.default_rng(0).integers(0, 4, 8)
    expected = -np.log(p[np.arange(8), labels])
    for form in (
        labels,
        labels[:, None],
        labels.astype(np.float32),
        labels[:, None].astype(np.float64),
    ):
        np.testing.assert_allclose(
            L.sparse_categorical_crossentropy(form, p), expected, rtol=1e-6
        )
    # Keras's axis rule: (N, H, W) labels against (N, H, W, K).
    p4 = probs((2, 3, 3, 4), 4)
    lab4 = np.random.default_rng(1).integers(0, 4, (2, 3, 3))
    out = L.sparse_categorical_crossentropy(lab4, p4)
    assert out.shape == (2, 3, 3)
    np.testing.assert_allclose(
        out, -np.log(np.take_along_axis(p4, lab4[..., None], -1)[..., 0]), rtol=1e-6
    )
    with pytest.raises(ShapeError, match="out of range"):
        L.sparse_categorical_crossentropy(labels + 4, p)


def test_binary_crossentropy_matches_torch_with_clipping_and_smoothing():
    y, p = (rng_data((10, 3), 5) > 0.5).astype(float), rng_data((10, 3), 6)
    ref = F.binary_cross_entropy(T(p), T(y), reduction="none").mean(-1).numpy()
    np.testing.assert_allclose(L.binary_crossentropy(y, p), ref, rtol=1e-6)
    z = np.random.default_rng(2).normal(size=(10, 3)) * 3
    ref = (
        F.binary_cross_entropy_with_logits(T(z), T(y * 0.9 + 0.05), reduction="none")
        .mean(-1)
        .numpy()
    )
    np.testing.assert_allclose(
        L.binary_crossentropy(y, z, from_logits=True, label_smoothing=0.1),
        ref,
        rtol=1e-6,
    )
    # p = 0 and 1 are clipped to [1e-7, 1 - 1e-7], as Keras does.
    edge = L.binary_crossentropy(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(edge, [-np.log(1e-7)], rtol=1e-4)


def test_function_forms_reduce_only_the_last_axis():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 1, (4, 2, 3)), rng.uniform(0.1, 1, (4, 2, 3))
    for name, formula in [
        ("mse", lambda t, p: ((t - p) ** 2).mean(-1)),
        ("mae", lambda t, p: np.abs(t - p).mean(-1)),
        ("mape", lambda t, p: 100 * (np.abs(t - p) / np.abs(t)).mean(-1)),
        ("msle", lambda t, p: ((np.log1p(p) - np.log1p(t)) ** 2).mean(-1)),
    ]:
        out = getattr(L, name)(a, b)
        assert out.shape == (4, 2), name
        np.testing.assert_allclose(out, formula(a, b), rtol=1e-5, err_msg=name)
    assert L.mean_squared_error(np.zeros(5), np.ones((5, 1))).shape == (
        5,
    )  # (N,) labels against (N, 1)


def test_regression_losses_match_torch_or_hand():
    rng = np.random.default_rng(7)
    t, p = rng.normal(size=(6, 4)) * 2, rng.normal(size=(6, 4)) * 2
    np.testing.assert_allclose(
        L.huber(t, p, delta=1.5),
        F.huber_loss(T(p), T(t), delta=1.5, reduction="none").mean(-1).numpy(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        L.log_cosh(t, p), np.log(np.cosh(p - t)).mean(-1), rtol=1e-6
    )
    big = L.log_cosh(np.zeros((1, 1)), np.array([[200.0]]))  # no overflow: 200 - log 2
    np.testing.assert_allclose(big, [200 - math.log(2)], rtol=1e-6)
    tp, pp = probs((6, 4), 8), probs((6, 4), 9)
    np.testing.assert_allclose(
        L.kl_divergence(tp, pp),
        F.kl_div(T(np.log(pp)), T(tp), reduction="none").sum(-1).numpy(),
        rtol=1e-6,
    )
    counts, rates = (
        rng.integers(0, 5, (6, 4)).astype(float),
        rng.uniform(0.5, 3, (6, 4)),
    )
    np.testing.assert_allclose(
        L.poisson(counts, rates),
        F.poisson_nll_loss(
            T(rates), T(counts), log_input=False, eps=1e-7, reduction="none"
        )
        .mean(-1)
        .numpy(),
        rtol=1e-6,
    )


def test_hinge_losses_by_hand():
    y01 = (rng_data((8, 3), 1) > 0.5).astype(float)
    s = np.random.default_rng(3).normal(size=(8, 3))
    pm = 2 * y01 - 1  # 0/1 labels become -1/1
    np.testing.assert_allclose(
        L.hinge(y01, s), np.maximum(1 - pm * s, 0).mean(-1), rtol=1e-6
    )
    np.testing.assert_allclose(
        L.hinge(pm, s), np.maximum(1 - pm * s, 0).mean(-1), rtol=1e-6
    )
    np.testing.assert_allclose(
        L.squared_hinge(y01, s), (np.maximum(1 - pm * s, 0) ** 2).mean(-1), rtol=1e-6
    )
    y = one_hot(8, 3, 4)
    pos, neg = (y * s).sum(-1), ((1 - y) * s).max(-1)
    np.testing.assert_allclose(
        L.categorical_hinge(y, s), np.maximum(neg - pos + 1, 0), rtol=1e-6
    )
    # torch's multi-margin loss is the mean over wrong classes, not the max: a different rule.
    torch_mm = F.multi_margin_loss(
        T(s), T(y).argmax(1).long(), reduction="none"
    ).numpy()
    assert not np.allclose(L.categorical_hinge(y, s), torch_mm)


def test_focal_losses_by_hand():
    y, p = one_hot(10, 4, 5), probs((10, 4), 6)
    ys = y * 0.9 + 0.1 / 4
    expected = (0.25 * (1 - p) ** 2.0 * -ys * np.log(p)).sum(-1)
    np.testing.assert_allclose(
        L.categorical_focal_crossentropy(y, p, label_smoothing=0.1), expected, rtol=1e-6
    )
    yb, pb = (rng_data((10, 2), 7) > 0.5).astype(float), rng_data((10, 2), 8)
    bce = -(yb * np.log(pb) + (1 - yb) * np.log(1 - pb))
    p_t = yb * pb + (1 - yb) * (1 - pb)
    w = yb * 0.3 + (1 - yb) * 0.7
    expected = (w * (1 - p_t) ** 3.0 * bce).mean(-1)
    np.testing.assert_allclose(
        L.binary_focal_crossentropy(
            yb, pb, apply_class_balancing=True, alpha=0.3, gamma=3.0
        ),
        expected,
        rtol=1e-6,
    )
    # gamma = 0 without balancing is the binary cross-entropy itself.
    np.testing.assert_allclose(
        L.binary_focal_crossentropy(yb, pb, gamma=0.0),
        L.binary_crossentropy(yb, pb),
        rtol=1e-6,
    )


# --------------------------------------------------------------------------- gradients

LOSSES = [
    ("CategoricalCrossentropy", dict(label_smoothing=0.1), "onehot", "probs"),
    (
        "CategoricalCrossentropy",
        dict(from_logits=True, label_smoothing=0.1),
        "onehot",
        "logits",
    ),
    ("SparseCategoricalCrossentropy", {}, "sparse", "probs"),
    ("BinaryCrossentropy", dict(label_smoothing=0.2), "binary", "unit"),
    ("BinaryCrossentropy", dict(from_logits=True), "binary", "logits"),
    (
        "CategoricalFocalCrossentropy",
        dict(gamma=2.0, label_smoothing=0.1),
        "onehot",
        "probs",
    ),
    ("CategoricalFocalCrossentropy", dict(from_logits=True), "onehot", "logits"),
    (
        "BinaryFocalCrossentropy",
        dict(apply_class_balancing=True, gamma=2.5),
        "binary",
        "unit",
    ),
    ("BinaryFocalCrossentropy", dict(from_logits=True), "binary", "logits"),
    ("MeanSquaredError", {}, "real", "logits"),
    ("MeanAbsoluteError", {}, "real", "logits"),
    ("MeanAbsolutePercentageError", {}, "real", "logits"),
    ("MeanSquaredLogarithmicError", {}, "positive", "unit"),
    ("Huber", dict(delta=0.7), "real", "logits"),
    ("LogCosh", {}, "real", "logits"),
    ("KLDivergence", {}, "probs", "probs"),
    ("Poisson", {}, "counts", "unit"),
    ("Hinge", {}, "binary", "logits"),
    ("SquaredHinge", {}, "binary", "logits"),
    ("CategoricalHinge", {}, "onehot", "logits"),
]


def make(kind, shape, seed):
    rng = np.random.default_rng(seed)
    n, k = shape
    return {
        "onehot": lambda: one_hot(n, k, seed),
        "sparse": lambda: rng.integers(0, k, n),
        "binary": lambda: (rng.uniform(size=shape) > 0.5).astype(float),
        "real": lambda: rng.normal(size=shape),
        "positive": lambda: rng.uniform(0.1, 2, shape),
        "counts": lambda: rng.integers(0, 4, shape).astype(float),
        "probs": lambda: probs(shape, seed + 11),
        "unit": lambda: rng.uniform(0.05, 0.95, shape),
        "logits": lambda: rng.normal(size=shape) * 1.5,
    }[kind]()


@pytest.mark.parametrize("shape", [(5, 3), (2, 6)])
@pytest.mark.parametrize("cls, kwargs, label_kind, pred_kind", LOSSES)
@pytest.mark.parametrize(
    "reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"]
)
def test_gradient_matches_central_differences(
    cls, kwargs, label_kind, pred_kind, shape, reduction
):
    loss = getattr(L, cls)(reduction=reduction, **kwargs)
    y, p = make(label_kind, shape, 1), make(pred_kind, shape, 2)
    if cls in ("MeanAbsoluteError", "MeanAbsolutePercentageError", "Hinge"):
        p = p + 0.05 * np.sign(p - y + 1e-3)  # away from the kinks
    w = np.random.default_rng(3).uniform(0.5, 2, shape[0])
    value, grad = loss.value_and_grad(y, p, sample_weight=w)
    assert grad.shape == p.shape and grad.dtype == np.float64
    h, numeric = 1e-6, np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (
            loss.value_and_grad(y, up, sample_weight=w)[0]
            - loss.value_and_grad(y, down, sample_weight=w)[0]
        ) / (2 * h)
    scale = np.max(np.abs(numeric)) + 1e-12
    assert np.max(np.abs(grad - numeric)) / scale < 1e-6, (
        cls,
        np.max(np.abs(grad - numeric)) / scale,
    )
    assert value == pytest.approx(float(loss(y, p, sample_weight=w)), rel=1e-6)


def test_gradients_match_torch_autograd_in_float32():
    rng = np.random.default_rng(0)
    t, p = (
        rng.normal(size=(8, 5)).astype(np.float32),
        rng.normal(size=(8, 5)).astype(np.float32),
    )
    for loss, ref in [
        (L.Huber(delta=0.5), lambda a, b: F.huber_loss(b, a, delta=0.5)),
        (
            L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
            lambda a, b: F.cross_entropy(b, a.argmax(1), label_smoothing=0.1),
        ),
    ]:
        target = (
            np.eye(5, dtype=np.float32)[rng.integers(0, 5, 8)]
            if isinstance(loss, L.CategoricalCrossentropy)
            else t
        )
        value, grad = loss.value_and_grad(target, p)
        pt = torch.tensor(p, requires_grad=True)
        out = ref(torch.tensor(target), pt)
        out.backward()
        assert grad.dtype == np.float32
        assert value == pytest.approx(out.item(), rel=1e-5)
        np.testing.assert_allclose(grad, pt.grad.numpy(), atol=1e-5)


# --------------------------------------------------------------------------- reductions


def test_reductions_as_keras():
    y, p = (
        np.array([[1.0], [2.0], [3.0], [4.0]]),
        np.array([[1.5], [2.0], [2.0], [6.0]]),
    )
    per = np.array([0.25, 0.0, 1.0, 4.0])
    w = np.array([1.0, 2.0, 0.5, 0.0])
    assert L.MeanSquaredError()(y, p) == pytest.approx(per.mean())
    assert L.MeanSquaredError()(y, p, sample_weight=w) == pytest.approx(
        (per * w).sum() / 4
    )  # not / sum(w)
    assert L.MeanSquaredError(reduction="mean")(y, p, sample_weight=w) == pytest.approx(
        (per * w).sum() / 4
    )
    assert L.MeanSquaredError(reduction="sum")(y, p, sample_weight=w) == pytest.approx(
        (per * w).sum()
    )
    assert L.MeanSquaredError(reduction="mean_with_sample_weight")(
        y, p, sample_weight=w
    ) == pytest.approx((per * w).sum() / w.sum())
    np.testing.assert_allclose(L.MeanSquaredError(reduction=None)(y, p), per)
    np.testing.assert_allclose(
        L.MeanSquaredError(reduction="none")(y, p, sample_weight=w), per * w
    )
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")
    with pytest.raises(CnnlabError, match="one loss per sample"):
        L.MeanSquaredError(reduction=None).value_and_grad(y, p)


def test_defaults_and_names_as_keras():
    assert L.Huber().name == "huber_loss" and L.Huber().delta == 1.0
    assert L.CategoricalFocalCrossentropy().get_config() == {
        "name": "categorical_focal_crossentropy",
        "reduction": "sum_over_batch_size",
        "alpha": 0.25,
        "gamma": 2.0,
        "from_logits": False,
        "label_smoothing": 0.0,
    }
    assert L.BinaryFocalCrossentropy().apply_class_balancing is False
    for name, cls in [
        ("huber", "Huber"),
        ("log_cosh", "LogCosh"),
        ("kl_divergence", "KLDivergence"),
        ("poisson", "Poisson"),
        ("hinge", "Hinge"),
        ("squared_hinge", "SquaredHinge"),
        ("categorical_hinge", "CategoricalHinge"),
        ("mape", "MeanAbsolutePercentageError"),
        ("binary_focal_crossentropy", "BinaryFocalCrossentropy"),
        ("KLDivergence", "KLDivergence"),
    ]:
        assert type(L.get(name)).__name__ == cls
    assert type(L.get(L.mse)).__name__ == "MeanSquaredError"
    with pytest.raises(CnnlabError, match="axis=-1"):
        L.CategoricalCrossentropy(axis=1)


def test_new_losses_train_and_round_trip_through_a_keras_file(tmp_path):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=L.CategoricalFocalCrossentropy(gamma=1.5),
        metrics=["accuracy"],
    )
    h = model.fit(x, np.eye(3)[y], batch_size=8, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert (
        isinstance(loaded.loss, L.CategoricalFocalCrossentropy)
        and loaded.loss.gamma == 1.5
    )
    model.compile(optimizer="adam", loss=L.Huber(delta=2.0, reduction="sum"))
    model.save(tmp_path / "h.keras")
    loaded = keras.models.load_model(tmp_path / "h.keras")
    assert loaded.loss.delta == 2.0 and loaded.loss.reduction == "sum"
