"""Lesson 6, pooling invariance: a one-pixel move inside a pooling window leaves max
pooling's output exactly unchanged; how much of a trained model's prediction survives
1-3 pixel shifts, with and without pooling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from . import prose
from .base import (
    Lesson,
    Result,
    annotate_grid,
    mnist,
    new_figure,
    plot_only,
    save_figure,
    seeded,
    shift_images,
)

DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def stroke_map():
    """An 8x8 map with bright cells at even columns: moving it one column right keeps every
    cell inside its 2x2 pooling window."""
    m = np.zeros((8, 8), np.float32)
    for (r, c), v in zip(
        ((0, 0), (1, 2), (2, 4), (3, 2), (4, 4), (5, 0), (6, 2), (7, 4)),
        (9, 8, 7, 6, 5, 4, 3, 2),
    ):
        m[r, c] = v
    return m


def max_pool(x):
    """2x2 max pooling (stride 2) of images ``(N, H, W, C)``, cnnlab's op."""
    return ops.max_pool_forward(np.asarray(x, np.float32), (2, 2))[0]


@dataclass
class PoolingResult(Result):
    inside_window_unchanged: (
        bool  # a 1-px move inside the windows: max-pool output identical
    )
    across_window_changed_cells: (
        int  # control: a move across window edges changes this many pooled cells
    )
    digits_cells_unchanged: float  # real digits: share of 2x2 max-pool outputs on the strokes unchanged by a 1-px move
    epochs: int
    shifts: list
    accuracy: dict  # model -> test accuracy
    params: dict  # model -> parameters
    agreement: dict  # model -> share of predictions unchanged, per shift (4 directions)
    feature_similarity: (
        dict  # model -> cosine similarity of the features before Dense, per shift
    )
    maps: object = plot_only()


def build(pool):
    from .. import keras

    layers = [keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu")]
    if pool:
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Conv2D(16, 3, activation="relu"))
    if pool:
        layers.append(keras.layers.MaxPooling2D(2))
    model = keras.Sequential(
        layers + [keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def cosine(a, b):
    return float(
        np.mean(
            np.sum(a * b, 1)
            / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        )
    )


def measure(seed=0, epochs=3, shifts=(1, 2, 3), n_train=2000, n_test=500):
    (x, y), (xt, yt) = mnist()
    x, y, xt, yt = x[:n_train], y[:n_train], xt[:n_test], yt[:n_test]
    m = stroke_map()
    inside, across = (
        shift_images(m[None, :, :, None], 0, k)[0, :, :, 0] for k in (1, 2)
    )
    pooled = [max_pool(a[None, :, :, None])[0, :, :, 0] for a in (m, inside, across)]
    before, after = max_pool(xt), max_pool(shift_images(xt, 0, 1))
    ink = (before > 0) | (after > 0)
    digits_same = float(np.mean(before[ink] == after[ink]))
    names = {True: "with max pooling", False: "without pooling"}
    accuracy, params, agreement, similarity = {}, {}, {}, {}
    for pool, name in names.items():
        with seeded(seed):
            model = build(pool)
            model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
        outputs, _ = model.layer_outputs(xt)
        p0, f0 = outputs[-1].argmax(1), outputs[-2]
        accuracy[name] = float((p0 == yt).mean())
        params[name] = model.count_params()
        agreement[name], similarity[name] = [], []
        for k in shifts:
            kept, alike = [], []
            for dy, dx in DIRECTIONS:
                outputs, _ = model.layer_outputs(shift_images(xt, k * dy, k * dx))
                kept.append((outputs[-1].argmax(1) == p0).mean())
                alike.append(cosine(f0, outputs[-2]))
            agreement[name].append(float(np.mean(kept)))
            similarity[name].append(float(np.mean(alike)))
    return PoolingResult(
        inside_window_unchanged=bool(np.array_equal(pooled[0], pooled[1])),
        across_window_changed_cells=int((pooled[0] != pooled[2]).sum()),
        digits_cells_unchanged=digits_same,
        epochs=epochs,
        shifts=list(shifts),
        accuracy=accuracy,
        params=params,
        agreement=agreement,
        feature_similarity=similarity,
        maps={"input": m, "inside": inside, "across": across, "pooled": pooled},
    )


def plot(r: PoolingResult, path):
    fig = new_figure(15, 3.8)
    axes = fig.subplots(1, 6, gridspec_kw={"width_ratios": [2, 2, 1, 2, 1, 3.2]})
    mp = r.maps
    annotate_grid(
        axes[0],
        mp["input"],
        "{:.0f}",
        cmap="Greys",
        vmin=0,
        vmax=9,
        title="input 8x8",
        fontsize=7,
        hide_zero=True,
    )
    annotate_grid(
        axes[1],
        mp["inside"],
        "{:.0f}",
        cmap="Greys",
        vmin=0,
        vmax=9,
        title="moved 1 px right\n(stays inside its window)",
        fontsize=7,
        hide_zero=True,
    )
    annotate_grid(
        axes[2],
        mp["pooled"][1],
        "{:.0f}",
        cmap="Greens",
        vmin=0,
        vmax=9,
        title="max-pool of both:\nidentical"
        if r.inside_window_unchanged
        else "max-pool",
        fontsize=7,
        hide_zero=True,
    )
    annotate_grid(
        axes[3],
        mp["across"],
        "{:.0f}",
        cmap="Greys",
        vmin=0,
        vmax=9,
        title="moved 2 px\n(crosses window edges)",
        fontsize=7,
        hide_zero=True,
    )
    annotate_grid(
        axes[4],
        mp["pooled"][2],
        "{:.0f}",
        cmap="Reds",
        vmin=0,
        vmax=9,
        title=f"max-pool:\n{r.across_window_changed_cells} cells changed",
        fontsize=7,
        hide_zero=True,
    )
    for ax in (axes[0], axes[1], axes[3]):
        for i in range(1, 4):
            ax.axhline(2 * i - 0.5, color="tab:blue", lw=0.8)
            ax.axvline(2 * i - 0.5, color="tab:blue", lw=0.8)
    ax = axes[5]
    styles = {"with max pooling": "tab:green", "without pooling": "tab:red"}
    for name, color in styles.items():
        ax.plot(
            r.shifts,
            r.agreement[name],
            marker="o",
            color=color,
            label=f"{name}: predictions kept",
        )
        ax.plot(
            r.shifts,
            r.feature_similarity[name],
            marker="s",
            ls="--",
            color=color,
            label=f"{name}: feature similarity",
        )
    ax.set_xticks(r.shifts)
    ax.set_xlabel("shift (pixels, 4 directions)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("trained models on shifted test digits", fontsize=9)
    return save_figure(fig, path)


def text(r: PoolingResult, lang):
    wp, np_ = "with max pooling", "without pooling"
    shifts = [
        {
            "shift": k,
            "kept": (r.agreement[wp][i], r.agreement[np_][i]),
            "similarity": (r.feature_similarity[wp][i], r.feature_similarity[np_][i]),
        }
        for i, k in enumerate(r.shifts)
    ]
    return prose.render("pooling-invariance", lang, r=r, wp=wp, np_=np_, shifts=shifts)


LESSON = Lesson(
    name="pooling-invariance",
    title={"ko": "풀링과 이동 불변성", "en": "Pooling and invariance to small shifts"},
    summary={
        "ko": "풀링 창 안의 1픽셀 이동은 최대 풀링 출력을 바꾸지 않음(정확히); 학습된 모델의 1~3픽셀 이동 내성",
        "en": "a 1-px move inside the pooling window leaves max pooling unchanged (exactly); trained models "
        "under 1-3 px shifts",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="000, 001, 002",
)
