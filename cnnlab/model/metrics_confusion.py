"""Metrics built on counts of true/false positives and negatives, as Keras 3 counts them
(keras/src/metrics/confusion_metrics.py, metrics_utils.py, f_score_metrics.py, iou_metrics.py).

* ``Precision`` = TP / (TP + FP) and ``Recall`` = TP / (TP + FN), 0 when the denominator is 0.
  A prediction is positive when it is *greater than* the threshold (0.5), a label when it is
  nonzero; every element counts (all outputs of all samples). ``top_k``: only each row's k
  largest predictions can be positive (then the default threshold is -inf); ``class_id``:
  only that column counts. Several ``thresholds`` give one value each.
* ``AUC``: the counts at ``num_thresholds`` thresholds (0 - 1e-7, i/(n-1) for i = 1..n-2,
  1 + 1e-7), then the ROC curve (recall against the false-positive rate) or the PR curve
  (precision against recall) summed by the trapezoid rule (``interpolation``; for PR, Davis &
  Goadrich's interpolation), or by the ``minoring``/``majoring`` Riemann sums.
* ``FBetaScore`` / ``F1Score``: per class (the last axis), predictions at or above each row's
  maximum (no ``threshold``) or above ``threshold``; ``average`` None (one per class),
  ``"micro"`` (counts pooled), ``"macro"`` (mean), ``"weighted"`` (by true counts).
* ``MeanIoU``: a confusion matrix over ``num_classes`` class ids; per class
  TP / (TP + FP + FN), averaged over the classes that occur.
"""

from __future__ import annotations

import numpy as np

from ..errors import CnnlabError
from .losses import match_rank
from .metrics import Metric, weights_per_sample

EPSILON = 1e-7


def _divide_no_nan(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def _result(values, thresholds):
    return float(values[0]) if len(thresholds) == 1 else values.astype(np.float32)


def threshold_counts(
    y_true, y_pred, thresholds, sample_weight=None, top_k=None, class_id=None
):
    """``(tp, fp, tn, fn)`` per threshold: ``pred > threshold`` against ``label != 0``, element-wise, weighted."""
    y_pred = np.asarray(y_pred, dtype=np.float32)
    y_true = match_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise CnnlabError(
            f"Confusion metrics need labels shaped like the predictions. "
            f"Received: y_true shape={y_true.shape}, y_pred shape={y_pred.shape}"
        )
    weights = None
    if sample_weight is not None:
        weights = np.broadcast_to(
            weights_per_sample(sample_weight, y_pred.ndim), y_pred.shape
        )
    if top_k is not None:
        # Only each row's k largest predictions keep their value; the others can never be positive.
        order = np.argsort(-y_pred, axis=-1, kind="stable")
        keep = np.zeros(y_pred.shape, dtype=bool)
        np.put_along_axis(keep, order[..., :top_k], True, -1)
        y_pred = np.where(keep, y_pred, -np.inf)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise CnnlabError(
                f"When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                f"num_classes), found shape: {y_pred.shape}"
            )
        y_true, y_pred = y_true[..., class_id], y_pred[..., class_id]
        weights = None if weights is None else weights[..., class_id]
    pred = y_pred.reshape(-1)
    positive = y_true.reshape(-1) != 0
    w = (
        np.ones(pred.shape, np.float64)
        if weights is None
        else np.asarray(weights, np.float64).reshape(-1)
    )
    # Sort once; the weight of predictions above each threshold is a suffix sum.
    order = np.argsort(pred, kind="stable")
    pred, positive, w = pred[order], positive[order], w[order]
    pos_suffix = np.concatenate([np.cumsum((w * positive)[::-1])[::-1], [0.0]])
    neg_suffix = np.concatenate([np.cumsum((w * ~positive)[::-1])[::-1], [0.0]])
    above = np.searchsorted(
        pred, np.asarray(thresholds, dtype=np.float32), side="right"
    )
    tp, fp = pos_suffix[above], neg_suffix[above]
    return tp, fp, neg_suffix[0] - fp, pos_suffix[0] - tp


class _ThresholdMetric(Metric):
    _direction = "up"

    def __init__(
        self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None
    ):
        self.init_thresholds, self.top_k, self.class_id = thresholds, top_k, class_id
        default = 0.5 if top_k is None else -np.inf
        values = (
            [default]
            if thresholds is None
            else (
                list(thresholds)
                if isinstance(thresholds, (list, tuple))
                else [thresholds]
            )
        )
        for t in values:
            if not (t == -np.inf or 0 <= t <= 1):
                raise ValueError(f"Threshold values must be in [0, 1]. Received: {t}")
        self.thresholds = values
        super().__init__(name, dtype)

    def reset_state(self):
        n = len(self.thresholds)
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        tp, fp, _, fn = threshold_counts(
            y_true, y_pred, self.thresholds, sample_weight, self.top_k, self.class_id
        )
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += fn

    def get_config(self):
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ThresholdMetric):
    name = "precision"

    def result(self):
        return _result(
            _divide_no_nan(
                self.true_positives, self.true_positives + self.false_positives
            ),
            self.thresholds,
        )


class Recall(_ThresholdMetric):
    name = "recall"

    def result(self):
        return _result(
            _divide_no_nan(
                self.true_positives, self.true_positives + self.false_negatives
            ),
            self.thresholds,
        )


class AUC(Metric):
    name = "auc"
    _direction = "up"

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        if str(curve).upper() not in ("ROC", "PR", "PRGAIN"):
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        if str(summation_method).lower() not in (
            "interpolation",
            "minoring",
            "majoring",
        ):
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                f'["interpolation", "majoring", "minoring"]'
            )
        if multi_label or num_labels is not None or label_weights is not None:
            raise CnnlabError(
                f"AUC: multi_label, num_labels and label_weights are not supported in cnnlab; every "
                f"output element counts as one binary prediction (Keras's default). Received: "
                f"multi_label={multi_label}, num_labels={num_labels}, label_weights={label_weights}"
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(thresholds)
        else:
            if num_thresholds <= 1:
                raise ValueError(
                    f"Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            inner = [
                (i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)
            ]
        self.num_thresholds = len(inner) + 2
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.curve, self.summation_method = (
            str(curve).upper(),
            str(summation_method).lower(),
        )
        self.multi_label, self.num_labels, self.label_weights = False, None, None
        self._from_logits = from_logits
        super().__init__(name, dtype)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def reset_state(self):
        n = self.num_thresholds
        self.true_positives, self.false_positives = np.zeros(n), np.zeros(n)
        self.true_negatives, self.false_negatives = np.zeros(n), np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float32)
        if self._from_logits:
            y_pred = 1 / (1 + np.exp(-y_pred))
        tp, fp, tn, fn = threshold_counts(
            y_true, y_pred, self._thresholds, sample_weight
        )
        self.true_positives += tp
        self.false_positives += fp
        self.true_negatives += tn
        self.false_negatives += fn

    def _interpolate_pr_auc(self):
        """Davis & Goadrich (2006): precision interpolated between thresholds as TP changes linearly with P."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = np.where(
            (p[:-1] > 0) & (p[1:] > 0),
            _divide_no_nan(p[:-1], np.maximum(p[1:], 0)),
            1.0,
        )
        increments = _divide_no_nan(
            slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
        )
        return float(np.sum(increments))

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            precision_gain = np.where(
                tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp)
            )
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(np.sum((x[:-1] - x[1:]) * heights))

    def get_config(self):
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": False,
            "num_labels": None,
            "label_weights": None,
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


class FBetaScore(Metric):
    name = "fbeta_score"
    _direction = "up"

    def __init__(self, average=None, beta=1.0, threshold=None, name=None, dtype=None):
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"Invalid `average` argument value. Expected one of: {{None, 'micro', 'macro', "
                f"'weighted'}}. Received: average={average}"
            )
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(
                f"Invalid `beta` argument value. It should be a Python float > 0. Received: beta={beta}"
            )
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"Invalid `threshold` argument value. It should be a Python float with "
                f"0 < threshold <= 1. Received: threshold={threshold}"
            )
        self.average, self.beta, self.threshold = average, beta, threshold
        super().__init__(name, dtype)

    def reset_state(self):
        self.true_positives = self.false_positives = self.false_negatives = (
            self.intermediate_weights
        ) = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=np.float32)
        y_true = np.asarray(y_true, dtype=np.float32)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise CnnlabError(
                f"FBetaScore expects 2D inputs with shape (batch_size, output_dim) (one-hot labels). "
                f"Received input shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}."
            )
        if self.threshold is None:
            pred = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (
                np.abs(y_pred) > 1e-9
            )
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(np.float64)
        truth = y_true.astype(np.float64)
        w = (
            np.ones((len(truth), 1))
            if sample_weight is None
            else np.asarray(sample_weight, np.float64).reshape(-1, 1)
        )
        axis = None if self.average == "micro" else 0
        counts = [
            np.sum(v * w, axis=axis)
            for v in (pred * truth, pred * (1 - truth), (1 - pred) * truth, truth)
        ]
        if self.true_positives is None:
            (
                self.true_positives,
                self.false_positives,
                self.false_negatives,
                self.intermediate_weights,
            ) = counts
        else:
            self.true_positives = self.true_positives + counts[0]
            self.false_positives = self.false_positives + counts[1]
            self.false_negatives = self.false_negatives + counts[2]
            self.intermediate_weights = self.intermediate_weights + counts[3]

    def result(self):
        if self.true_positives is None:
            return 0.0
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta**2
        score = precision * recall / (b2 * precision + recall + EPSILON) * (1 + b2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (
                np.sum(self.intermediate_weights) + EPSILON
            )
            return float(np.sum(score * weights))
        if self.average is not None:
            return float(np.mean(score))
        return np.asarray(score, dtype=np.float32)

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "average": self.average,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    name = "f1_score"

    def __init__(self, average=None, threshold=None, name=None, dtype=None):
        super().__init__(
            average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype
        )

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config


class MeanIoU(Metric):
    name = "mean_io_u"
    _direction = "up"

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        self.num_classes, self.ignore_class = int(num_classes), ignore_class
        self.sparse_y_true, self.sparse_y_pred, self.axis = (
            sparse_y_true,
            sparse_y_pred,
            axis,
        )
        super().__init__(name, dtype)

    def reset_state(self):
        self.total_cm = np.zeros((self.num_classes, self.num_classes), dtype=np.float64)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        t, p = y_true.reshape(-1).astype(np.int64), y_pred.reshape(-1).astype(np.int64)
        if t.shape != p.shape:
            raise CnnlabError(
                f"MeanIoU: {t.size} labels for {p.size} predictions (class ids; pass "
                f"sparse_y_pred=False for probabilities). Received: y_true shape="
                f"{np.shape(y_true)}, y_pred shape={np.shape(y_pred)}"
            )
        w = (
            np.ones(t.shape)
            if sample_weight is None
            else np.broadcast_to(
                np.asarray(sample_weight, np.float64).reshape(-1), t.shape
            )
        )
        valid = (t >= 0) & (t < self.num_classes) & (p >= 0) & (p < self.num_classes)
        if self.ignore_class is not None:
            valid &= t != self.ignore_class
        np.add.at(self.total_cm, (t[valid], p[valid]), w[valid])

    def result(self):
        cm = self.total_cm
        tp = np.diag(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - tp
        present = np.count_nonzero(denominator)
        return (
            float(np.sum(_divide_no_nan(tp, denominator)) / present) if present else 0.0
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }
