"""Lesson 4, dying ReLU: dead units per layer after training with a too-large
learning rate, ReLU against Leaky ReLU with the seed's slope 0.01."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import (
    Lesson,
    Result,
    markdown_table,
    mnist,
    new_figure,
    pct,
    save_figure,
    seeded,
)

#: Leaky ReLU's slope in seed 002 ("0.01x"); Keras's layer default is 0.3.
SEED_SLOPE = 0.01


@dataclass
class DyingReluResult(Result):
    learning_rates: dict  # "normal" / "large" -> Adam learning rate
    epochs: int
    dead: dict  # "ReLU, lr=..." -> dead fraction per hidden layer
    sparsity: dict  # same keys -> fraction of activations <= 0 per hidden layer
    accuracy: dict  # same keys -> test accuracy
    relu_dead_normal: float  # mean over layers
    relu_dead_large: float
    leaky_dead_large: (
        float  # "dead" for Leaky ReLU: never positive (it still passes a gradient)
    )
    recovery_epochs: int
    relu_first_layer_dead: int  # first-layer units dead after the large rate
    relu_dead_weights_changed: (
        float  # of those, the fraction whose weights moved during recovery
    )
    relu_revived: float  # ... and that are alive again
    leaky_first_layer_silent: int
    leaky_silent_weights_changed: float
    leaky_revived: float


def build(kind, depth, width):
    from .. import keras

    layers = [keras.Input((784,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width))
        layers.append(
            keras.layers.ReLU()
            if kind == "ReLU"
            else keras.layers.LeakyReLU(negative_slope=SEED_SLOPE)
        )
    return keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])


def pre_activations(model, x):
    """Each hidden Dense layer's output (what the ReLU / Leaky ReLU receives) on ``x``."""
    outputs, _ = model.layer_outputs(x)
    return outputs[0:-1:2]


def dead_units(z):
    """Units whose input is <= 0 on every sample: a ReLU there outputs 0 and passes
    no gradient, so nothing the data does can move its weights again."""
    return (z <= 0).all(axis=0)


def compile_adam(model, learning_rate):
    from .. import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )


def measure(
    seed=0,
    epochs=2,
    recovery_epochs=2,
    depth=3,
    width=64,
    normal_lr=0.001,
    large_lr=0.05,
    n_train=2000,
):
    (x, y), (xt, yt) = mnist(flat=True)
    x, y = x[:n_train], y[:n_train]
    rates = {"normal": normal_lr, "large": large_lr}
    dead, sparsity, accuracy, models = {}, {}, {}, {}
    for kind in ("ReLU", "Leaky ReLU"):
        for which, lr in rates.items():
            key = f"{kind}, lr={lr:g}"
            with seeded(seed):
                model = build(kind, depth, width)
                compile_adam(model, lr)
                model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
            zs = pre_activations(model, x)
            dead[key] = [float(dead_units(z).mean()) for z in zs]
            sparsity[key] = [float((z <= 0).mean()) for z in zs]
            accuracy[key] = float(model.evaluate(xt, yt, verbose=0)[1])
            models[(kind, which)] = model
    # Recovery: continue the large-rate networks at the normal rate with a fresh optimizer.
    recovery = {}
    for kind in ("ReLU", "Leaky ReLU"):
        model = models[(kind, "large")]
        first = model.layers[0]
        was_dead = dead_units(pre_activations(model, x)[0])
        before = first.get_weights()
        with seeded(seed + 1):
            compile_adam(model, normal_lr)
            model.fit(x, y, batch_size=32, epochs=recovery_epochs, verbose=0)
        after = first.get_weights()
        moved = np.any(after[0] != before[0], axis=0) | (after[1] != before[1])
        alive = ~dead_units(pre_activations(model, x)[0])
        n = int(was_dead.sum())
        recovery[kind] = (
            n,
            float(moved[was_dead].mean()) if n else 0.0,
            float(alive[was_dead].mean()) if n else 0.0,
        )
    key = lambda kind, which: f"{kind}, lr={rates[which]:g}"  # noqa: E731
    return DyingReluResult(
        learning_rates=rates,
        epochs=epochs,
        dead=dead,
        sparsity=sparsity,
        accuracy=accuracy,
        relu_dead_normal=float(np.mean(dead[key("ReLU", "normal")])),
        relu_dead_large=float(np.mean(dead[key("ReLU", "large")])),
        leaky_dead_large=float(np.mean(dead[key("Leaky ReLU", "large")])),
        recovery_epochs=recovery_epochs,
        relu_first_layer_dead=recovery["ReLU"][0],
        relu_dead_weights_changed=recovery["ReLU"][1],
        relu_revived=recovery["ReLU"][2],
        leaky_first_layer_silent=recovery["Leaky ReLU"][0],
        leaky_silent_weights_changed=recovery["Leaky ReLU"][1],
        leaky_revived=recovery["Leaky ReLU"][2],
    )


def plot(r: DyingReluResult, path):
    fig = new_figure(11, 4.2)
    axes = fig.subplots(1, 2)
    keys = list(r.dead)
    colors = ["#9ecae1", "#08519c", "#fdae6b", "#a63603"]
    layers = np.arange(1, len(r.dead[keys[0]]) + 1)
    width = 0.8 / len(keys)
    for ax, values, title in (
        (axes[0], r.dead, "dead units (input <= 0 on every training image)"),
        (axes[1], r.sparsity, "activation sparsity (share of inputs <= 0)"),
    ):
        for i, key in enumerate(keys):
            ax.bar(
                layers + (i - (len(keys) - 1) / 2) * width,
                values[key],
                width,
                color=colors[i % 4],
                label=f"{key} (test acc {pct(r.accuracy[key], 0)})",
            )
        ax.set_xticks(layers, [f"hidden layer {i}" for i in layers])
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("fraction of units")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(keys), fontsize=8)
    fig.suptitle(
        f"Adam, {r.epochs} epochs on the MNIST sample; Leaky ReLU slope {SEED_SLOPE}",
        fontsize=11,
    )
    return save_figure(fig, path)


def _rows(r, lang):
    head = (
        ["설정", "층별 죽은 뉴런 비율", "층별 희소성", "테스트 정확도"]
        if lang == "ko"
        else ["setting", "dead units per layer", "sparsity per layer", "test accuracy"]
    )
    return markdown_table(
        head,
        [
            [
                key,
                ", ".join(pct(v, 0) for v in r.dead[key]),
                ", ".join(pct(v, 0) for v in r.sparsity[key]),
                pct(r.accuracy[key]),
            ]
            for key in r.dead
        ],
    )


def _key(r, kind, which):
    return f"{kind}, lr={r.learning_rates[which]:g}"


def text(r: DyingReluResult, lang):
    normal, large = r.learning_rates["normal"], r.learning_rates["large"]
    if lang == "ko":
        return f"""\
seed 002는 ReLU를 너무 많이 거치면 "많은 뉴런들이 0으로 변하는" Dying ReLU(죽은 ReLU) 문제가 생길 수 있고,
음수 쪽에 0.01x 정도의 작은 기울기를 남기는 Leaky ReLU가 이를 막는다고 설명합니다. 여기서는 뉴런을 죽이는 가장 흔한
원인인 **너무 큰 학습률**로 실험합니다. 은닉층 3개(각 64개 뉴런)짜리 네트워크를 Adam으로 {r.epochs} 에포크 학습시키되,
학습률을 {normal:g}(Keras 기본값)과 {large:g}(50배)로 나누고, 활성화 함수는 ReLU와 Leaky ReLU(기울기 {SEED_SLOPE})로 나누었습니다.

학습 데이터 전체에서 입력이 한 번도 0보다 크지 않은 뉴런을 "죽은 뉴런"으로 셉니다. ReLU에서 이런 뉴런은 어떤 이미지에도
0만 내보내고 기울기도 0이라서, 데이터로는 다시 살릴 방법이 없습니다. 입력 이미지가 변하지 않는 첫 층에서는 말 그대로
영원히 죽은 것이고, 더 깊은 층의 뉴런은 앞 층이 바뀌면 드물게 다시 살아나기도 합니다.

{_rows(r, lang)}

학습률이 {normal:g}일 때 ReLU 네트워크의 죽은 뉴런은 층 평균 {pct(r.relu_dead_normal)}이지만, {large:g}에서는
{pct(r.relu_dead_large)}로 늘어납니다. 한 번의 큰 업데이트가 편향과 가중치를 음수 쪽으로 크게 밀어내면, 그 뉴런은 다시는
양수 입력을 받지 못합니다. 같은 큰 학습률에서 Leaky ReLU는 {pct(r.leaky_dead_large)}입니다.

진짜 차이는 그다음에 드러납니다. 큰 학습률로 망가진 두 네트워크를 정상 학습률로 {r.recovery_epochs} 에포크 더 학습시켰습니다.
ReLU 첫 층에서 죽어 있던 뉴런 {r.relu_first_layer_dead}개 가운데 가중치가 조금이라도 바뀐 비율은 {pct(r.relu_dead_weights_changed)}이고,
다시 살아난 비율도 {pct(r.relu_revived)}입니다.{" 기울기가 정확히 0이니 가중치가 한 비트도 움직이지 않습니다." if r.relu_dead_weights_changed == 0 else ""}
Leaky ReLU에서 모든 입력에 대해 음수였던 뉴런 {r.leaky_first_layer_silent}개는 0.01배의 기울기를 받아
{pct(r.leaky_silent_weights_changed)}의 가중치가 움직였고, {pct(r.leaky_revived)}가 다시 양수 출력을 내게 되었습니다.
Leaky ReLU의 뉴런은 "잠들" 수는 있어도 죽지는 않는 셈입니다.

표의 희소성(입력이 0 이하인 비율)은 seed가 말하는 ReLU의 희소 표현입니다. 학습률이 {normal:g}일 때처럼
{pct(min(r.sparsity[_key(r, "ReLU", "normal")]), 0)}–{pct(max(r.sparsity[_key(r, "ReLU", "normal")]), 0)} 정도는 정상이지만,
학습률이 너무 크면 최대 {pct(max(r.sparsity[_key(r, "ReLU", "large")]), 0)}까지 올라가 네트워크 대부분이 꺼져 버립니다.
"""
    return f"""\
Seed 002 warns that passing through many ReLUs can "turn many neurons to 0", the dying ReLU problem, and that Leaky
ReLU, which keeps a small slope (0.01x) on the negative side, prevents it. We provoke it the most common way, with
**a learning rate that is too large**: a network with 3 hidden layers of 64 neurons trained with Adam for {r.epochs}
epochs, at the learning rates {normal:g} (Keras's default) and {large:g} (50 times larger), with ReLU and with Leaky
ReLU (slope {SEED_SLOPE}).

A unit is counted as dead when its input is never above 0 on the whole training set. A ReLU unit like that outputs 0
for every image and its gradient is 0, so nothing in the data can bring it back. In the first layer, whose inputs
(the images) never change, that is for good; a unit deeper down may occasionally come back when the layers below it
change.

{_rows(r, lang)}

At the learning rate {normal:g}, {pct(r.relu_dead_normal)} of the ReLU units are dead (mean over layers); at {large:g},
{pct(r.relu_dead_large)}. One large update that pushes a unit's bias and weights far to the negative side leaves it
with no positive input ever again. Leaky ReLU at the same large rate: {pct(r.leaky_dead_large)}.

The real difference shows next. We kept training both damaged networks for {r.recovery_epochs} more epochs at the
normal rate. Of the {r.relu_first_layer_dead} dead units in ReLU's first layer, {pct(r.relu_dead_weights_changed)} had
any weight change at all and {pct(r.relu_revived)} came back{": with a gradient of exactly 0, not one bit moves" if r.relu_dead_weights_changed == 0 else ""}. Leaky
ReLU's {r.leaky_first_layer_silent} units that were negative on every input still received 0.01 times the gradient:
{pct(r.leaky_silent_weights_changed)} of them moved and {pct(r.leaky_revived)} produce positive outputs again.
Leaky ReLU's units can fall asleep, but they do not die.

The sparsity columns (share of inputs at or below 0) are the sparse representation the seed credits ReLU with.
{pct(min(r.sparsity[_key(r, "ReLU", "normal")]), 0)}–{pct(max(r.sparsity[_key(r, "ReLU", "normal")]), 0)}, as at the
rate {normal:g}, is normal; with a learning rate that is too large it reaches
{pct(max(r.sparsity[_key(r, "ReLU", "large")]), 0)} and most of the network switches off.
"""


LESSON = Lesson(
    name="dying-relu",
    title={
        "ko": "죽은 ReLU: 너무 큰 학습률과 Leaky ReLU",
        "en": "Dying ReLU: a too-large learning rate and Leaky ReLU",
    },
    summary={
        "ko": "큰 학습률 뒤 층별 죽은 뉴런 비율, ReLU vs Leaky ReLU(기울기 0.01), 죽은 뉴런은 다시 움직이지 않음",
        "en": "dead units per layer after a too-large learning rate, ReLU vs Leaky ReLU (slope 0.01); dead "
        "units never move again",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
