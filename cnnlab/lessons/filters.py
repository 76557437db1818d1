"""Lesson 11, filters before and after training: the first conv layer's filters at
initialization and after training, side by side, and their feature maps on one digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prose
from .base import (
    Lesson,
    Result,
    fmt,
    mnist,
    new_figure,
    pct,
    plot_only,
    save_figure,
    seeded,
)


@dataclass
class FiltersResult(Result):
    epochs: int
    filters: int
    kernel: int
    accuracy_before: float
    accuracy_after: float
    relative_change: float  # |K_after - K_before| / |K_before|
    smoothness_before: (
        float  # mean correlation of neighbouring weights inside a filter (0: noise)
    )
    smoothness_after: float
    smoothness_per_filter: list  # after training
    digit_label: int
    active_before: float  # share of the digit's feature-map cells above 0, first layer
    active_after: float
    kernels: dict = plot_only(factory=dict)
    maps: dict = plot_only(factory=dict)
    digit: object = plot_only()


def build():
    """Seed 002's network: Conv 10@5x5 -> MaxPool 2 -> Conv 20@5x5 -> MaxPool 2 -> Dense 100 -> Dense 10."""
    from .. import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(10, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(20, 5, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(100, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def smoothness(kernel):
    """Per filter: the correlation between horizontally and vertically neighbouring weights.
    Random filters score about 0; a filter shaped like a stroke or an edge scores well above."""
    out = []
    for f in range(kernel.shape[-1]):
        k = kernel[:, :, 0, f] - kernel[:, :, 0, f].mean()
        a = np.concatenate([k[:, :-1].ravel(), k[:-1, :].ravel()])
        b = np.concatenate([k[:, 1:].ravel(), k[1:, :].ravel()])
        out.append(float(np.corrcoef(a, b)[0, 1]))
    return out


def feature_maps(model, digit):
    """The first conv layer's output (after ReLU) on one digit: ``(24, 24, filters)``."""
    outputs, _ = model.layer_outputs(digit[None])
    return outputs[0][0]


def measure(seed=0, epochs=6, n=2000, digit_label=3):
    (x, y), (xt, yt) = mnist()
    x, y = x[:n], y[:n]
    digit = xt[int(np.flatnonzero(yt == digit_label)[0])]
    with seeded(seed):
        model = build()
        before = model.layers[0].get_weights()[0]
        maps_before = feature_maps(model, digit)
        acc_before = float(model.evaluate(xt, yt, verbose=0)[1])
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    after = model.layers[0].get_weights()[0]
    maps_after = feature_maps(model, digit)
    per_filter = smoothness(after)
    return FiltersResult(
        epochs=epochs,
        filters=after.shape[-1],
        kernel=after.shape[0],
        accuracy_before=acc_before,
        accuracy_after=float(model.evaluate(xt, yt, verbose=0)[1]),
        relative_change=float(np.linalg.norm(after - before) / np.linalg.norm(before)),
        smoothness_before=float(np.mean(smoothness(before))),
        smoothness_after=float(np.mean(per_filter)),
        smoothness_per_filter=per_filter,
        digit_label=digit_label,
        active_before=float((maps_before > 0).mean()),
        active_after=float((maps_after > 0).mean()),
        kernels={"before": before, "after": after},
        maps={"before": maps_before, "after": maps_after},
        digit=digit,
    )


def plot(r: FiltersResult, path):
    fig = new_figure(14, 6.2)
    left, right = fig.subfigures(1, 2, width_ratios=[1, 6.5])
    ax = left.subplots()
    ax.imshow(r.digit[:, :, 0], cmap="gray")
    ax.set_title(f"test digit ({r.digit_label})", fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    grid = right.subplots(4, r.filters)
    rows = (
        ("before", "kernels", "filters at init"),
        ("before", "maps", "feature maps"),
        ("after", "kernels", f"after {r.epochs} epochs"),
        ("after", "maps", "feature maps"),
    )
    for row, (when, what, label) in enumerate(rows):
        data = r.kernels[when] if what == "kernels" else r.maps[when]
        for f in range(r.filters):
            a = grid[row, f]
            if what == "kernels":
                k = data[:, :, 0, f]
                vmax = float(np.abs(k).max()) or 1.0
                a.imshow(k, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            else:
                a.imshow(data[:, :, f], cmap="magma", vmin=0)
            a.set_xticks([])
            a.set_yticks([])
            if f == 0:
                a.set_ylabel(label, fontsize=9)
            if row == 0:
                a.set_title(f"filter {f + 1}", fontsize=8)
    right.suptitle(
        f"first conv layer (10 filters 5x5, seed 002's network): test accuracy "
        f"{pct(r.accuracy_before, 0)} -> {pct(r.accuracy_after, 0)}; neighbouring weights' correlation "
        f"{fmt(r.smoothness_before, 2)} -> {fmt(r.smoothness_after, 2)}",
        fontsize=10,
    )
    return save_figure(fig, path)


def text(r: FiltersResult, lang):
    return prose.render("filters", lang, r=r)


LESSON = Lesson(
    name="filters",
    title={"ko": "학습 전과 후의 필터", "en": "Filters before and after training"},
    summary={
        "ko": "첫 합성곱 층의 필터와 특징 맵을 학습 전·후로 나란히; 무작위 잡음이 이어진 무늬로",
        "en": "the first conv layer's filters and feature maps before and after training: from noise to "
        "connected patterns",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="001, 002",
)
