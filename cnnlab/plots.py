"""Training curves: loss and accuracy per epoch, train and validation.

matplotlib is imported only when a plot is drawn, and through its Agg canvas
(no pyplot, no window, no change to the global backend).
"""
from __future__ import annotations


def plot_history(history, path, title=None):
    """Write ``history`` (Keras's ``history.history`` dict) as a PNG at ``path``.

    Two panels: ``loss``/``val_loss`` and ``accuracy``/``val_accuracy`` (a
    panel is left out when its train key is missing). Returns ``path``.
    Raises ``ImportError`` when matplotlib is not installed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [k for k in ("loss", "accuracy") if history.get(k)]
    fig = Figure(figsize=(5 * max(len(panels), 1), 4), layout="constrained")
    FigureCanvasAgg(fig)
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
