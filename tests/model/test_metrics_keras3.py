"""Issue 16: Keras 3's stateful metrics against scikit-learn (random data, batched and unbatched) and
against hand computations of Keras's formulas; metrics by string as Keras resolves them."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError

sk = pytest.importorskip("sklearn.metrics")
M = keras.metrics


def binary_data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1).astype(np.float32)
    return y, p, rng.uniform(0.1, 2.0, n)


def batched(metric, y, p, w=None, size=37):
    metric.reset_state()
    for s in range(0, len(y), size):
        metric.update_state(
            y[s : s + size], p[s : s + size], None if w is None else w[s : s + size]
        )
    return metric.result()


def both(metric, y, p, w=None):
    """The result of one update and of several batches, which must agree."""
    metric.reset_state()
    metric.update_state(y, p, w)
    whole = metric.result()
    parts = batched(metric, y, p, w)
    np.testing.assert_allclose(parts, whole, rtol=1e-6, atol=1e-9)
    return whole


@pytest.mark.parametrize("weighted", [False, True])
def test_precision_and_recall_match_sklearn(weighted):
    y, p, w = binary_data()
    w = w if weighted else None
    pred = (p > 0.5).astype(int)
    assert both(M.Precision(), y, p, w) == pytest.approx(
        sk.precision_score(y, pred, sample_weight=w), rel=1e-6
    )
    assert both(M.Recall(), y, p, w) == pytest.approx(
        sk.recall_score(y, pred, sample_weight=w), rel=1e-6
    )
    # Several thresholds give one value each.
    values = both(M.Precision(thresholds=[0.3, 0.7]), y, p, w)
    expected = [
        sk.precision_score(y, (p > t).astype(int), sample_weight=w) for t in (0.3, 0.7)
    ]
    np.testing.assert_allclose(values, expected, rtol=1e-6)


def test_precision_recall_top_k_and_class_id_by_hand():
    rng = np.random.default_rng(3)
    y = (rng.uniform(size=(50, 4)) > 0.6).astype(np.float32)
    p = rng.uniform(size=(50, 4)).astype(np.float32)
    # top_k=1: only each row's largest prediction is positive (threshold -inf).
    top = np.zeros_like(p, dtype=bool)
    top[np.arange(50), p.argmax(1)] = True
    tp = np.sum(top & (y > 0))
    assert both(M.Precision(top_k=1), y, p) == pytest.approx(tp / 50)
    assert both(M.Recall(top_k=1), y, p) == pytest.approx(tp / np.sum(y > 0))
    # class_id=2: that column alone, thresholded at 0.5.
    col_pred, col_true = p[:, 2] > 0.5, y[:, 2] > 0
    assert both(M.Recall(class_id=2), y, p) == pytest.approx(
        np.sum(col_pred & col_true) / np.sum(col_true)
    )
    assert M.Precision().result() == 0.0  # nothing seen: 0, not NaN (divide_no_nan)


def brute_force_counts(y, p, thresholds, w=None):
    w = np.ones(len(y)) if w is None else w
    above = p[None, :] > np.asarray(thresholds, np.float32)[:, None]
    pos = y[None, :] > 0
    tp = (w * (above & pos)).sum(1)
    fp = (w * (above & ~pos)).sum(1)
    fn = (w * (~above & pos)).sum(1)
    tn = (w * (~above & ~pos)).sum(1)
    return tp, fp, tn, fn


def keras_auc_by_hand(y, p, curve, method, num_thresholds=200, w=None):
    """Keras's AUC.result written again from its source, over brute-force counts."""
    t = (
        [0 - 1e-7]
        + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        + [1 + 1e-7]
    )
    tp, fp, tn, fn = brute_force_counts(y, p, t, w)
    div = lambda a, b: np.where(b == 0, 0.0, a / np.where(b == 0, 1, b))  # noqa: E731
    if curve == "PR" and method == "interpolation":
        dtp, pp = tp[:-1] - tp[1:], tp + fp
        dp = pp[:-1] - pp[1:]
        slope = div(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * pp[1:]
        ratio = np.where(
            (pp[:-1] > 0) & (pp[1:] > 0), div(pp[:-1], np.maximum(pp[1:], 0)), 1.0
        )
        return float(
            np.sum(
                div(
                    slope * (dtp + intercept * np.log(ratio)),
                    np.maximum(tp[1:] + fn[1:], 0),
                )
            )
        )
    recall = div(tp, tp + fn)
    x, yy = (div(fp, fp + tn), recall) if curve == "ROC" else (recall, div(tp, tp + fp))
    h = {
        "interpolation": (yy[:-1] + yy[1:]) / 2,
        "minoring": np.minimum(yy[:-1], yy[1:]),
        "majoring": np.maximum(yy[:-1], yy[1:]),
    }[method]
    return float(np.sum((x[:-1] - x[1:]) * h))


@pytest.mark.parametrize(
    "curve, method",
    [
        ("ROC", "interpolation"),
        ("ROC", "minoring"),
        ("PR", "interpolation"),
        ("PR", "majoring"),
    ],
)
def test_auc_is_keras_formula(curve, method):
    y, p, w = binary_data(seed=5)
    assert both(M.AUC(curve=curve, summation_method=method), y, p, w) == pytest.approx(
        keras_auc_by_hand(y, p, curve, method, w=w), rel=1e-6
    )


def test_auc_roc_matches_sklearn():
    y, p, w = binary_data(seed=7)
    # With a threshold between every two distinct scores the ROC curve is exact: the trapezoid is sklearn's.
    s = np.unique(p)
    exact = M.AUC(thresholds=list((s[:-1] + s[1:]) / 2))
    assert both(exact, y, p, w) == pytest.approx(
        sk.roc_auc_score(y, p, sample_weight=w), abs=1e-6
    )
    # Keras's default 200 thresholds approximate it.
    assert both(M.AUC(), y, p) == pytest.approx(sk.roc_auc_score(y, p), abs=0.01)
    logits = np.log(p + 1e-3) - np.log(1 - p + 1e-3)
    assert both(M.AUC(from_logits=True), y, logits) == pytest.approx(
        sk.roc_auc_score(y, p), abs=0.01
    )


def categorical_data(n=200, k=7, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    scores = rng.normal(size=(n, k)).astype(np.float32)
    scores[np.arange(n), y] += 1.0
    return y, np.eye(k, dtype=np.float32)[y], scores


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_matches_sklearn(k):
    y, one_hot, scores = categorical_data()
    expected = sk.top_k_accuracy_score(y, scores, k=k, labels=range(7))
    assert both(M.TopKCategoricalAccuracy(k=k), one_hot, scores) == pytest.approx(
        expected
    )
    assert both(M.SparseTopKCategoricalAccuracy(k=k), y, scores) == pytest.approx(
        expected
    )
    assert both(
        M.SparseTopKCategoricalAccuracy(k=k), y[:, None].astype(np.float32), scores
    ) == pytest.approx(expected)


@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_matches_sklearn(average):
    y, one_hot, scores = categorical_data(seed=2)
    got = both(M.F1Score(average=average), one_hot, scores)
    np.testing.assert_allclose(
        got, sk.f1_score(y, scores.argmax(1), average=average), rtol=1e-5, atol=1e-6
    )
    # With a threshold, every class above it counts (multi-label).
    probs = 1 / (1 + np.exp(-scores))
    multi = sk.f1_score(
        one_hot, (probs > 0.7).astype(int), average=average, zero_division=0
    )
    np.testing.assert_allclose(
        both(M.F1Score(average=average, threshold=0.7), one_hot, probs),
        multi,
        rtol=1e-5,
        atol=1e-6,
    )


def test_mean_iou_matches_sklearn_jaccard():
    y, one_hot, scores = categorical_data(seed=4)
    pred = scores.argmax(1)
    expected = sk.jaccard_score(y, pred, average="macro")
    assert both(M.MeanIoU(num_classes=7), y, pred) == pytest.approx(expected, rel=1e-6)
    assert both(
        M.MeanIoU(num_classes=7, sparse_y_pred=False), y, scores
    ) == pytest.approx(expected, rel=1e-6)
    # A class that never occurs (neither label nor prediction) is left out of the mean, as Keras does.
    assert both(M.MeanIoU(num_classes=9), y, pred) == pytest.approx(expected, rel=1e-6)


def test_mean_is_a_weighted_mean():
    rng = np.random.default_rng(0)
    v, w = rng.normal(size=40), rng.uniform(size=40)
    m = M.Mean()
    for s in range(0, 40, 7):
        m.update_state(v[s : s + 7], sample_weight=w[s : s + 7])
    assert m.result() == pytest.approx(np.average(v, weights=w))
    m.reset_state()
    m.update_state(
        np.ones((4, 3)) * np.arange(4)[:, None]
    )  # each sample's values averaged first
    assert m.result() == pytest.approx(1.5)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("precision", "Precision"),
        ("recall", "Recall"),
        ("auc", "AUC"),
        ("top_k_categorical_accuracy", "TopKCategoricalAccuracy"),
        ("sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy"),
        ("f1_score", "F1Score"),
        ("mae", "MeanAbsoluteError"),
        ("mse", "MeanSquaredError"),
        ("mape", "MeanAbsolutePercentageError"),
        ("msle", "MeanSquaredLogarithmicError"),
        ("AUC", "AUC"),
        ("binary_crossentropy", "BinaryCrossentropy"),
        ("kl_divergence", "KLDivergence"),
        ("root_mean_squared_error", "RootMeanSquaredError"),
    ],
)
def test_metrics_by_string_as_keras_resolves_them(name, cls):
    metric = M.get(name)
    assert type(metric).__name__ == cls and metric.name == name


def test_metric_strings_keras_refuses_are_refused():
    with pytest.raises(CnnlabError, match="Unknown metric"):
        M.get("Precision2")
    with pytest.raises(CnnlabError, match="needs arguments"):
        M.get("mean_io_u")  # MeanIoU needs num_classes, in Keras too


def test_compiled_string_metrics_train_and_drive_early_stopping():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 1)).astype(np.float32)
    y = (x[:, 2:4, 2:4, 0].sum((1, 2)) > 0).astype(np.float32)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="binary_crossentropy",
        metrics=["precision", "recall", "auc", "mae"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_auc", patience=1
    )  # auto mode: AUC goes up
    h = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        verbose=0,
        validation_data=(x, y),
        callbacks=[stop],
    )
    assert {"precision", "recall", "auc", "mae", "val_auc"} <= set(h.history)
    assert stop.direction() == "max"
    out = model.predict(x, verbose=0)[:, 0]
    assert h.history["val_auc"][-1] == pytest.approx(
        keras_auc_by_hand(y, out, "ROC", "interpolation"), rel=1e-5
    )
    assert h.history["val_precision"][-1] == pytest.approx(
        sk.precision_score(y, out > 0.5), rel=1e-5
    )
