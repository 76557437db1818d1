"""Lesson 11, filters before and after training: the first conv layer's filters at
initialization and after training, side by side, and their feature maps on one digit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    if lang == "ko":
        return f"""\
seed 001과 002는 필터가 "처음에는 아무런 의미도 없는 무작위 값"에서 시작해, 역전파와 경사하강법으로 학습되면서 첫 층의 필터는
엣지나 선 같은 저수준 특징을 감지하게 된다고 설명합니다. seed 002의 네트워크(5×5 필터 {r.filters}개 → 풀링 → 5×5 필터 20개
→ 풀링 → 완전연결층 100 → 10)를 MNIST 2,000장으로 {r.epochs} 에포크 학습시키고, 첫 합성곱 층의 필터를 학습 전과 후로
나란히 놓았습니다. 각 필터 아래 줄은 같은 숫자 {r.digit_label} 하나에 그 필터를 적용해 얻은 특징 맵(ReLU 뒤)입니다.

- 테스트 정확도는 {pct(r.accuracy_before)}(찍기 수준)에서 {pct(r.accuracy_after)}로 올랐습니다.
- 필터 값은 처음 크기의 {pct(r.relative_change, 0)}만큼 바뀌었습니다. 누가 설계한 것이 아니라 데이터가 만든 변화입니다.
- **필터에 모양이 생겼습니다.** 필터 안에서 이웃한 가중치끼리의 상관계수가 학습 전 {fmt(r.smoothness_before, 2)}(서로 무관한
  잡음)에서 학습 후 {fmt(r.smoothness_after, 2)}까지 올랐습니다. 이웃한 값이 함께 움직인다는 것은 필터가 픽셀 하나하나가 아니라
  덩어리진 무늬를 보게 되었다는 뜻입니다. 그림에서도 학습 후의 필터는 양수와 음수가 각각 한쪽으로 모인 경우가 많고,
  이런 필터는 한쪽이 어둡고 반대쪽이 밝은 곳, 곧 특정 방향의 경계(엣지)에 반응합니다.

특징 맵도 달라졌습니다. 무작위 필터도 특징 맵을 만들기는 하지만, 이웃 픽셀의 차이를 아무렇게나 섞어 재기 때문에 획의 가장자리
곳곳에 가늘고 끊어진 얼룩처럼 반응합니다. 학습 후에는 어떤 필터는 획 전체를 굵게 따라가고, 어떤 필터는 획의 한쪽 가장자리나
특정 방향의 획에만 반응하는 식으로 역할이 나뉩니다. 특징 맵에서 0보다 큰 칸의 비율은 {pct(r.active_before)}에서
{pct(r.active_after)}가 되었습니다. 짧은 학습이라 학습 전 무늬의 흔적도 아직 남아 있습니다. 필터는 처음 값에서 출발해 조금씩
고쳐지는 것이지 새로 그려지는 것이 아니기 때문입니다.

seed의 말대로 필터 하나하나의 역할을 사람이 완벽하게 해석하기는 어렵지만("제한적"), 필터와 특징 맵을 그려 보면 네트워크가
무엇을 보고 있는지 꽤 많이 알 수 있습니다. 더 깊이 들여다보려면 `cnnlab explain`을 쓰세요.
"""
    return f"""\
Seeds 001 and 002 say filters start as "random values with no meaning at all" and, learned by backpropagation and
gradient descent, end up detecting low-level features such as edges and lines in the first layer. We trained seed
002's network (10 filters of 5×5 → pooling → 20 filters of 5×5 → pooling → Dense 100 → 10) for {r.epochs} epochs on
2,000 MNIST images and put the first convolution layer's filters side by side, before and after. Below each row of
filters are the feature maps (after ReLU) they produce on one digit, a {r.digit_label}.

- Test accuracy went from {pct(r.accuracy_before)} (guessing) to {pct(r.accuracy_after)}.
- The filters changed by {pct(r.relative_change, 0)} of their initial size. Nobody designed that change; the data did.
- **The filters took shape.** The correlation between neighbouring weights inside a filter rose from
  {fmt(r.smoothness_before, 2)} (unrelated noise) to {fmt(r.smoothness_after, 2)}. Neighbours that move together mean the
  filter now looks at blobs of pattern rather than single pixels. In the figure many trained filters have their
  positive weights gathered on one side and their negative weights on the other; such a filter responds where one
  side is dark and the other bright, an edge in a particular direction.

The feature maps changed too. A random filter does make a feature map, but it measures a haphazard mix of neighbouring
pixels' differences, so it responds in thin, broken specks along the strokes. After training the filters divide the
work: some follow whole strokes thickly, others respond only to one side of a stroke or to strokes in one direction.
The share of feature-map cells above 0 went from {pct(r.active_before)} to {pct(r.active_after)}. After a short
training the random start still shows: a filter is corrected step by step from its initial values, not drawn anew.

As the seed says, no one can interpret every filter completely ("limited"), but drawing filters and feature maps
shows a good deal of what the network looks at; `cnnlab explain` goes further.
"""


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
