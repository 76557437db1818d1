"""The explain pictures as PNG files: a filter grid, a feature-map grid, and the
Grad-CAM heatmap laid over the input.

Each grid is one image (tiles with gaps, from :mod:`.grids`), so a layer with 64
channels is one ``imshow``, not 64 sub-plots. matplotlib comes through
:func:`cnnlab.plots.new_figure` (Agg canvas, no pyplot); without it an
ImportError says ``pip install 'cnnlab[plots]'``. Labels are in English (the HTML
report carries both languages); Hangul in a label would be drawn with the Korean
font that ships with cnnlab (:mod:`cnnlab.fonts`).
"""

from __future__ import annotations

import numpy as np

from ..plots import new_figure

BACKGROUND = "#f4f4f4"  # between feature maps
FILTER_GAP = "#8c8c8c"  # between filters (white means a weight of 0 there)


def _grid_figure(grid, what, width_in=7.0):
    h, w = grid.shape
    aspect = h / max(w, 1)
    fig_w = width_in
    fig_h = min(max(fig_w * aspect + 0.9, 2.2), 14.0)
    return new_figure((fig_w, fig_h), what, layout="constrained")


def plot_filters(result, path, title=None):
    """Draw :func:`cnnlab.explain.filters` output: blue negative, red positive
    weights, each filter on its own scale (0 is white). Returns ``path``."""
    grid, ncols = result.grid()
    fig = _grid_figure(
        grid, "plot_filters", width_in=6.0 if result.channels == "mean" else 7.0
    )
    ax = fig.add_subplot(1, 1, 1)
    cmap = _cmap("RdBu_r", FILTER_GAP)
    image = ax.imshow(
        np.ma.masked_invalid(grid), cmap=cmap, vmin=-1, vmax=1, interpolation="nearest"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    n, *k = result.images.shape[:1] + result.kernel.shape[:-2]
    c_in = result.kernel.shape[-2]
    how = (
        (
            "averaged over its %d input channels" % c_in
            if c_in > 1
            else "1 input channel"
        )
        if result.channels == "mean"
        else f"a row per filter, a column per input channel ({c_in})"
    )
    ax.set_title(
        title or f"{result.layer}: {n} filters of {'x'.join(map(str, k))}, {how}",
        fontsize=10,
    )
    fig.colorbar(
        image, ax=ax, shrink=0.7, label="weight / largest |weight| of the filter"
    )
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.1)
    return path


def rgb_filter_grid(kernel, gap=1):
    """A first layer's 2-D filters ``(kh, kw, 3, F)`` as colour pictures: each filter on its own
    scale, ``0.5 + 0.5 * w / max|w|`` per channel (grey = 0, a strong red weight looks red),
    laid out in a grid with white gaps. Returns ``(grid (H, W, 3) in [0, 1], ncols)``."""
    from .grids import grid_columns

    per_filter = np.moveaxis(
        np.asarray(kernel, dtype=np.float64), -1, 0
    )  # (F, kh, kw, 3)
    peak = np.abs(per_filter).reshape(len(per_filter), -1).max(axis=1)
    pictures = (
        0.5 + 0.5 * per_filter / np.where(peak > 0, peak, 1.0)[:, None, None, None]
    )
    n, kh, kw = pictures.shape[:3]
    ncols = grid_columns(n, (kh, kw))
    nrows = -(-n // ncols)
    grid = np.ones((nrows * kh + (nrows - 1) * gap, ncols * kw + (ncols - 1) * gap, 3))
    for i, pic in enumerate(pictures):
        r, c = divmod(i, ncols)
        grid[
            r * (kh + gap) : r * (kh + gap) + kh, c * (kw + gap) : c * (kw + gap) + kw
        ] = pic
    return grid, ncols


def plot_filters_rgb(result, path, title=None):
    """A colour first layer's filters drawn in colour (:func:`rgb_filter_grid`): what each filter
    looks for in red, green and blue at once. Returns ``path``."""
    grid, _ = rgb_filter_grid(result.kernel)
    fig = _grid_figure(grid[..., 0], "plot_filters_rgb", width_in=6.0)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    n = result.kernel.shape[-1]
    k = "x".join(map(str, result.kernel.shape[:-2]))
    ax.set_title(
        title
        or f"{result.layer}: {n} filters of {k}x3 in colour (grey = 0; each on its own scale)",
        fontsize=10,
    )
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.1)
    return path


def plot_feature_maps(result, path, title=None):
    """Draw :func:`cnnlab.explain.feature_maps` output: every channel, each scaled to its
    own range (bright = strong response). Returns ``path``."""
    grid, _ = result.grid()
    fig = _grid_figure(grid, "plot_feature_maps")
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=_cmap("viridis"),
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    ax.set_xticks([])
    ax.set_yticks([])
    c, *spatial = result.maps.shape
    ax.set_title(
        title
        or f"{result.layer}: {c} feature maps of {'x'.join(map(str, spatial))} "
        f"(each on its own scale)",
        fontsize=10,
    )
    fig.savefig(path, dpi=100, bbox_inches="tight", pad_inches=0.1)
    return path


def input_picture(x, spatial_shape=None):
    """One input sample as something ``imshow`` shows.

    ``x`` is one sample ``(*spatial, C)`` (or with a batch axis of one, or without
    the channel axis when ``spatial_shape`` says so). Returns a 1-D signal (channel
    mean), a 2-D greyscale picture, an ``(H, W, 3)`` colour picture, or, for a
    volume, its middle depth slice."""
    a = np.asarray(x, dtype=np.float64)
    if spatial_shape is not None:
        a = a.reshape(tuple(spatial_shape) + (-1,))
    elif a.ndim >= 3 and a.shape[0] == 1:
        a = a[0]
    while a.ndim > 3:  # a volume: its middle depth slice
        a = a[a.shape[0] // 2]
    if a.ndim == 3 and a.shape[-1] != 3:
        a = a.mean(axis=-1)
    elif a.ndim == 2 and spatial_shape is not None and len(spatial_shape) == 1:
        a = a.mean(axis=-1)  # a 1-D signal with channels
    return a


def _heat_picture(heatmap):
    h = np.asarray(heatmap, dtype=np.float64)
    while h.ndim > 2:
        h = h[h.shape[0] // 2]
    return h


def plot_grad_cam(x, result, path, title=None, class_names=None):
    """Three panels: the input, the Grad-CAM heatmap, and the heatmap over the input
    (red = most evidence for the class). Returns ``path``."""
    picture = input_picture(x, np.shape(result.heatmap))
    heat = _heat_picture(result.heatmap)
    label = (
        class_names[result.class_index]
        if class_names is not None
        else result.class_index
    )
    p = (
        float(np.ravel(result.probabilities)[result.class_index])
        if np.size(result.probabilities) > 1
        else None
    )
    head = title or (
        f"Grad-CAM{' (counterfactual)' if result.counterfactual else ''} for class {label}"
        + (f" (p = {p:.1%})" if p is not None else "")
        + f", layer {result.layer}"
    )
    fig = new_figure((9.0, 3.4), "plot_grad_cam", layout="constrained")
    jet = _cmap("jet")
    if picture.ndim == 1:
        ax = fig.add_subplot(1, 1, 1)
        steps = np.arange(len(picture))
        lo, hi = float(picture.min()), float(picture.max())
        ax.imshow(
            heat.reshape(1, -1),
            cmap=jet,
            vmin=0,
            vmax=1,
            aspect="auto",
            alpha=0.5,
            extent=(-0.5, len(picture) - 0.5, lo, hi if hi > lo else lo + 1),
        )
        ax.plot(steps, picture, color="black")
        ax.set_xlabel("step")
        ax.set_title(head, fontsize=10)
        fig.savefig(path, dpi=100)
        return path
    gray = "gray" if picture.ndim == 2 else None
    shown = picture if picture.ndim == 2 else _unit(picture)
    panels = [
        ("input", lambda ax: ax.imshow(shown, cmap=gray, interpolation="nearest")),
        (
            "heatmap",
            lambda ax: ax.imshow(
                heat, cmap=jet, vmin=0, vmax=1, interpolation="bilinear"
            ),
        ),
        (
            "overlay",
            lambda ax: (
                ax.imshow(shown, cmap=gray, interpolation="nearest"),
                ax.imshow(
                    heat, cmap=jet, vmin=0, vmax=1, alpha=0.45, interpolation="bilinear"
                ),
            ),
        ),
    ]
    for i, (name, draw) in enumerate(panels):
        ax = fig.add_subplot(1, 3, i + 1)
        draw(ax)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(head, fontsize=11)
    fig.savefig(path, dpi=100)
    return path


def _unit(a):
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _cmap(name, gap=BACKGROUND):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad=gap)
