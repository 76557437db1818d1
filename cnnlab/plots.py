"""Plots: training curves, a confusion matrix, misclassified examples.

matplotlib is imported only when a plot is drawn, and through its Agg canvas
(no pyplot, no window, no change to the global backend). Without matplotlib
every function raises an ``ImportError`` that says how to install it
(``pip install 'cnnlab[plots]'``). The explain plots (filters, feature maps,
Grad-CAM) live in :mod:`cnnlab.explain.plots` and use :func:`new_figure` too.
"""

from __future__ import annotations

import numpy as np

INSTALL_HINT = "pip install 'cnnlab[plots]'"


def require_matplotlib(what="plotting"):
    """``(Figure, FigureCanvasAgg)``, or an ImportError that says how to get matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(
            f"{what} needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from e
    return Figure, FigureCanvasAgg


def new_figure(figsize, what="plotting", **kwargs):
    """A matplotlib Figure with its own Agg canvas (no pyplot state); Hangul in its labels
    is drawn with the Korean font that ships with cnnlab (:func:`cnnlab.fonts.use_in_matplotlib`)."""
    Figure, FigureCanvasAgg = require_matplotlib(what)
    from .fonts import use_in_matplotlib

    use_in_matplotlib()
    fig = Figure(figsize=figsize, **kwargs)
    FigureCanvasAgg(fig)
    return fig


def plot_history(history, path, title=None):
    """Write ``history`` (Keras's ``history.history`` dict) as a PNG at ``path``.

    Two panels: ``loss``/``val_loss`` and ``accuracy``/``val_accuracy`` (a
    panel is left out when its train key is missing). Returns ``path``.
    Raises ``ImportError`` when matplotlib is not installed.
    """
    panels = [k for k in ("loss", "accuracy") if history.get(k)]
    fig = new_figure((5 * max(len(panels), 1), 4), "plot_history", layout="constrained")
    for i, key in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name, label in ((key, "train"), (f"val_{key}", "validation")):
            values = history.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100)
    return path


def confusion_matrix(y_true, y_pred, num_classes=None):
    """``matrix[i, j]``: how many samples of true class ``i`` were predicted as ``j``.

    ``y_true`` holds class indices (or one-hot rows); ``y_pred`` class indices or
    the model's probabilities (one row per sample; the argmax is taken)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == 2:
        y_true = y_true.argmax(axis=1)
    if y_pred.ndim == 2:
        y_pred = (
            y_pred.argmax(axis=1)
            if y_pred.shape[1] > 1
            else (y_pred[:, 0] >= 0.5).astype(int)
        )
    y_true, y_pred = y_true.astype(int).ravel(), y_pred.astype(int).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"confusion_matrix: y_true and y_pred must have the same length. "
            f"Received: {len(y_true)} and {len(y_pred)}"
        )
    n = int(num_classes or (max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1))
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def plot_confusion_matrix(matrix, path, class_names=None, title="Confusion matrix"):
    """Draw a confusion matrix (rows: true class, columns: predicted) with its counts.

    ``matrix`` may also be a pair ``(y_true, y_pred)``, passed to :func:`confusion_matrix`.
    The diagonal holds the correct predictions. Returns ``path``."""
    if isinstance(matrix, tuple) and len(matrix) == 2:
        matrix = confusion_matrix(*matrix)
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(n))]
    size = min(2.0 + 0.5 * n, 9.0)
    fig = new_figure((size + 1, size), "plot_confusion_matrix", layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="images")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = matrix.sum()
    accuracy = np.trace(matrix) / total if total else 0.0
    ax.set_title(f"{title} (accuracy {accuracy:.1%} of {total:,})" if title else "")
    threshold = matrix.max() / 2 if matrix.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f"{matrix[i, j]:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black",
                )
    fig.savefig(path, dpi=100)
    return path


def _show_image(ax, image):
    """One sample on an axis: greyscale ``(H, W)``/``(H, W, 1)``, colour ``(H, W, 3)``,
    a 1-D signal ``(steps, 1)`` as a line; other channel counts are averaged."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim >= 2 and a.shape[-1] == 1:
        a = a[..., 0]
    ax.set_xticks([])
    ax.set_yticks([])
    if a.ndim == 1:
        ax.plot(a)
        return
    if a.ndim == 3 and a.shape[-1] == 3:
        lo, hi = a.min(), a.max()
        ax.imshow(
            (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a),
            interpolation="nearest",
        )
        return
    while a.ndim > 2:  # more channels: their mean; a volume: its middle slice
        a = a.mean(axis=-1) if a.ndim == 3 else a[a.shape[0] // 2]
    ax.imshow(a, cmap="gray", interpolation="nearest")


def plot_misclassified(
    images,
    y_true,
    y_pred,
    path,
    probabilities=None,
    max_images=16,
    class_names=None,
    title="Misclassified examples",
):
    """Draw the images the model got wrong, each titled ``true -> predicted (p)``.

    ``images``: the samples, e.g. ``(N, 28, 28, 1)``; ``y_true``/``y_pred``: class
    indices (``y_pred`` may be the probabilities). Shows at most ``max_images``,
    most confident mistakes first when probabilities are given. Returns ``path``."""
    images = np.asarray(images)
    y_true = np.asarray(y_true).astype(int).ravel()
    probs = None if probabilities is None else np.asarray(probabilities)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        probs = y_pred if probs is None else probs
        y_pred = y_pred.argmax(axis=1)
    y_pred = y_pred.astype(int).ravel()
    wrong = np.flatnonzero(y_true != y_pred)
    if probs is not None and len(wrong):
        wrong = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")]
    wrong = wrong[:max_images]
    names = [str(c) for c in class_names] if class_names is not None else None
    label = (lambda k: names[k]) if names else str
    cols = min(max(len(wrong), 1), 8)
    rows = max(1, -(-len(wrong) // cols))
    fig = new_figure(
        (1.5 * cols + 0.4, 1.7 * rows + 0.6), "plot_misclassified", layout="constrained"
    )
    if not len(wrong):
        ax = fig.add_subplot(1, 1, 1)
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified examples", ha="center", va="center")
    for n, i in enumerate(wrong):
        ax = fig.add_subplot(rows, cols, n + 1)
        _show_image(ax, images[i])
        p = f" ({probs[i, y_pred[i]]:.0%})" if probs is not None else ""
        ax.set_title(f"{label(y_true[i])} -> {label(y_pred[i])}{p}", fontsize=9)
    if title:
        fig.suptitle(f"{title}: true -> predicted")
    fig.savefig(path, dpi=100)
    return path
