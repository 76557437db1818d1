"""Lesson 6, pooling invariance: a one-pixel move inside a pooling window leaves max
pooling's output exactly unchanged; how much of a trained model's prediction survives
1-3 pixel shifts, with and without pooling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from .base import (
    Lesson,
    Result,
    annotate_grid,
    mnist,
    new_figure,
    pct,
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
    rows_ko = [
        "| 이동 | 예측 유지 (풀링 있음) | 예측 유지 (풀링 없음) | 특징 유사도 (풀링 있음) | 특징 유사도 (풀링 없음) |",
        "|---|---|---|---|---|",
    ]
    rows_en = [
        "| shift | predictions kept (pooling) | predictions kept (no pooling) | feature similarity (pooling) "
        "| feature similarity (no pooling) |",
        "|---|---|---|---|---|",
    ]
    for i, k in enumerate(r.shifts):
        cells = (
            f"{pct(r.agreement[wp][i])} | {pct(r.agreement[np_][i])} | {r.feature_similarity[wp][i]:.3f} | "
            f"{r.feature_similarity[np_][i]:.3f} |"
        )
        rows_ko.append(f"| {k}픽셀 | " + cells)
        rows_en.append(f"| {k} px | " + cells)
    if lang == "ko":
        return f"""\
seed 000과 001은 풀링이 "약간의 이동에도 큰 영향을 받지 않는(invariant)" 성질을 준다고 합니다. 정확히 어떤 이동에 대해,
얼마나 그런지 확인해 봅니다.

**창 안에서의 이동은 정확히 무시됩니다.** 왼쪽 그림의 8×8 특징 맵은 밝은 칸이 모두 2×2 풀링 창의 왼쪽 열에 있습니다.
이것을 오른쪽으로 1픽셀 옮기면 밝은 칸이 같은 창 안에서만 움직이므로, 2×2 최대 풀링의 결과는
{"한 칸도 다르지 않고 완전히 같습니다" if r.inside_window_unchanged else "달라집니다"}. 반면 2픽셀을 옮기면 밝은 칸이 창의 경계를 넘어가고,
풀링 결과 16칸 중 {r.across_window_changed_cells}칸이 바뀝니다(대조 실험). 최대 풀링의 불변성은 창 크기 안의 이동에만 해당합니다.
실제 MNIST 숫자를 1픽셀 옮겨 보면 획이 창 경계에 걸친 곳이 많아서, 획이 지나가는 풀링 출력 가운데
{pct(r.digits_cells_unchanged)}만 그대로입니다.

**학습된 모델은 얼마나 버틸까.** 합성곱 층 두 개로 된 같은 모델을 풀링을 넣은 것과 뺀 것으로 나누어 {r.epochs} 에포크 학습시킨 뒤
(테스트 정확도: 풀링 있음 {pct(r.accuracy[wp])}, 없음 {pct(r.accuracy[np_])}), 테스트 숫자를 상하좌우로 1~3픽셀 옮겼을 때
예측이 바뀌지 않은 비율과, 완전연결층에 들어가는 특징 벡터가 원래와 얼마나 비슷한지(코사인 유사도)를 재었습니다.

{chr(10).join(rows_ko)}

풀링을 넣은 모델의 특징은 이동 뒤에도 훨씬 비슷하게 유지됩니다. 풀링이 두 번 들어가면 특징 맵의 한 칸이 입력의 4×4 영역을
대표하므로 작은 이동이 흡수되기 때문입니다. 다만 예측까지 놓고 보면 차이는 그보다 작고, 3픽셀쯤 옮기면 두 모델 모두
예측의 상당 부분이 바뀝니다. 풀링이 주는 것은 "작은 이동에 덜 민감한" 정도이지 완전한 불변성이 아닙니다.
큰 이동에 강한 모델이 필요하면 이동시킨 이미지로 학습시키는(데이터 증강) 방법을 함께 씁니다.
매개변수 수도 다릅니다: 풀링 있음 {r.params[wp]:,}개, 없음 {r.params[np_]:,}개. 풀링이 특징 맵을 줄여 완전연결층이 작아진 결과입니다.
"""
    return f"""\
Seeds 000 and 001 say pooling makes a network "not much affected by small movements" (invariant). We check for which
movements, and how much.

**A move inside the window is ignored exactly.** The 8×8 feature map on the left has all its bright cells in the
left column of a 2×2 pooling window. Moved one pixel to the right, every bright cell stays inside its window, so 2×2
max pooling gives {"exactly the same output, every cell" if r.inside_window_unchanged else "a different output"}.
Moved two pixels, the cells cross the window edges and {r.across_window_changed_cells} of the 16 pooled cells change
(the control). Max pooling's invariance covers moves within the window only. Real MNIST digits moved by one pixel have
many strokes across window edges: {pct(r.digits_cells_unchanged)} of the pooled cells on the strokes stay the same.

**How much does a trained model keep?** The same model with two convolution layers, once with max pooling and once
without, trained for {r.epochs} epochs (test accuracy {pct(r.accuracy[wp])} with pooling, {pct(r.accuracy[np_])}
without). We moved the test digits 1 to 3 pixels up, down, left and right and measured the share of predictions that
did not change, and how similar the feature vector entering the Dense layer stays (cosine similarity).

{chr(10).join(rows_en)}

With pooling the features stay much more alike after a move: after two poolings one cell of the feature map stands for
a 4×4 region of the input, which absorbs small moves. The predictions differ less than the features do, and at 3
pixels both models change a good part of their answers. Pooling makes a model less sensitive to small moves; it does
not make it invariant. A model that must cope with large moves is trained on moved images (data augmentation).
The parameter counts differ too: {r.params[wp]:,} with pooling, {r.params[np_]:,} without, because pooling shrinks the
feature map that the Dense layer reads.
"""


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
