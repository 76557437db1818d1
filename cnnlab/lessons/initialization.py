"""Lesson 10, initialization: all-zeros, Gaussian, Glorot and He on the same network;
the symmetry that zeros never break, and the loss curves."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import (
    Lesson,
    Result,
    batch_loss_recorder,
    fmt,
    markdown_table,
    mnist,
    new_figure,
    pct,
    plot_only,
    save_figure,
    seeded,
    smooth,
)


def initializers():
    from .. import keras

    ini = keras.initializers
    return {
        "zeros": ini.Zeros(),
        "Gaussian σ=0.05": ini.RandomNormal(stddev=0.05),
        "Gaussian σ=1": ini.RandomNormal(stddev=1.0),
        "Glorot (Xavier)": ini.GlorotUniform(),
        "He": ini.HeNormal(),
    }


@dataclass
class InitializationResult(Result):
    epochs: int
    width: int
    final_loss: dict  # init -> mean batch loss of the last epoch
    test_accuracy: dict
    distinct_units: dict  # init -> distinct hidden units (incoming weights and bias) in layer 1, after training
    zeros_weight_norm: (
        float  # ReLU + zeros: the hidden weights after training (all still 0)
    )
    chance_loss: float  # ln 10: the loss of a network that predicts every class equally
    sigmoid_zeros_weight_norm: float  # sigmoid + zeros: the hidden weights did move ...
    sigmoid_zeros_distinct_units: (
        list  # ... but every hidden layer still has one distinct unit
    )
    sigmoid_zeros_spread: (
        float  # largest difference between two units' incoming weights
    )
    losses: dict = plot_only(factory=dict)
    first_layers: dict = plot_only(factory=dict)


def build(initializer, activation, width):
    from .. import keras

    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(
                width, activation=activation, kernel_initializer=initializer
            ),
            keras.layers.Dense(
                width, activation=activation, kernel_initializer=initializer
            ),
            keras.layers.Dense(
                10, activation="softmax", kernel_initializer=initializer
            ),
        ]
    )


def distinct_units(layer):
    """How many different hidden units a Dense layer has (its kernel's columns with the bias)."""
    kernel, bias = layer.get_weights()
    return int(len(np.unique(np.c_[kernel.T, bias], axis=0)))


def train(initializer, activation, x, y, epochs, width, seed, batch_size=32):
    from .. import keras

    with seeded(seed):
        model = build(initializer, activation, width)
        model.compile(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        recorder = batch_loss_recorder(batch_size, len(x))
        model.fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[recorder]
        )
    return model, recorder.losses


def measure(seed=0, epochs=3, n=2000, width=64):
    (x, y), (xt, yt) = mnist(flat=True)
    x, y = x[:n], y[:n]
    steps = math.ceil(len(x) / 32)
    final, accuracy, distinct, losses, firsts = {}, {}, {}, {}, {}
    models = {}
    for name, init in initializers().items():
        model, curve = train(init, "relu", x, y, epochs, width, seed)
        losses[name] = curve
        final[name] = float(np.mean(curve[-steps:]))
        accuracy[name] = float(model.evaluate(xt, yt, verbose=0)[1])
        distinct[name] = distinct_units(model.layers[0])
        models[name] = model
    sig, _ = train(initializers()["zeros"], "sigmoid", x, y, epochs, width, seed)
    w_sig = sig.layers[0].get_weights()[0]
    firsts["sigmoid + zeros"] = w_sig
    firsts["ReLU + He"] = models["He"].layers[0].get_weights()[0]
    return InitializationResult(
        epochs=epochs,
        width=width,
        final_loss=final,
        test_accuracy=accuracy,
        distinct_units=distinct,
        zeros_weight_norm=float(
            np.linalg.norm(models["zeros"].layers[0].get_weights()[0])
        ),
        chance_loss=math.log(10),
        sigmoid_zeros_weight_norm=float(np.linalg.norm(w_sig)),
        sigmoid_zeros_distinct_units=[
            distinct_units(layer) for layer in sig.layers[:2]
        ],
        sigmoid_zeros_spread=float(np.abs(w_sig - w_sig[:, :1]).max()),
        losses=losses,
        first_layers=firsts,
    )


def plot(r: InitializationResult, path):
    fig = new_figure(13, 4.6)
    sub = fig.subfigures(1, 2, width_ratios=[1.1, 1])
    ax = sub[0].subplots()
    for name, values in r.losses.items():
        style = {"lw": 3, "ls": "--"} if name == "zeros" else {}
        ax.plot(
            range(1, len(values) + 1),
            smooth(values, 10),
            label=f"{name} (test acc {pct(r.test_accuracy[name], 0)})",
            **style,
        )
    ax.axhline(r.chance_loss, color="k", lw=0.8, ls=":", label="ln 10 (guessing)")
    ax.set_ylim(0, max(4.0, r.chance_loss * 1.4))
    ax.set_xlabel("update")
    ax.set_ylabel("training loss (per batch, smoothed)")
    ax.set_title(
        f"784-{r.width}-{r.width}-10 ReLU network, SGD + momentum, {r.epochs} epochs",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    grid = sub[1].subplots(2, 6)
    for row, (name, kernel) in enumerate(r.first_layers.items()):
        vmax = float(np.abs(kernel[:, :6]).max()) or 1.0
        for col in range(6):
            a = grid[row, col]
            a.imshow(
                kernel[:, col].reshape(28, 28), cmap="RdBu_r", vmin=-vmax, vmax=vmax
            )
            a.set_xticks([])
            a.set_yticks([])
            if col == 0:
                a.set_ylabel(name, fontsize=9)
            a.set_title(f"unit {col + 1}", fontsize=8)
    sub[1].suptitle(
        "incoming weights of the first 6 hidden units after training\n"
        "(top: all identical, symmetry never broken)",
        fontsize=10,
    )
    return save_figure(fig, path, dpi=75)


def _rows(r, lang):
    head = (
        [
            "초기화",
            "마지막 에포크 손실",
            "테스트 정확도",
            "첫 은닉층의 서로 다른 뉴런 수",
        ]
        if lang == "ko"
        else [
            "initialization",
            "last epoch's loss",
            "test accuracy",
            "distinct units in the first hidden layer",
        ]
    )
    return markdown_table(
        head,
        [
            [
                name,
                fmt(r.final_loss[name]),
                pct(r.test_accuracy[name]),
                f"{r.distinct_units[name]} / {r.width}",
            ]
            for name in r.final_loss
        ],
    )


def text(r: InitializationResult, lang):
    if lang == "ko":
        return f"""\
seed 002는 가중치 초기화를 "모델의 학습 성능을 좌우하는 중요한 요소"라 하고, 가우시안, 균등 분포, Xavier(Glorot), He 초기화를
소개합니다. 같은 네트워크(784 → {r.width} → {r.width} → 10, ReLU)를 가중치 초기화만 바꾸어 같은 데이터, 같은 배치 순서로
{r.epochs} 에포크씩 학습시켰습니다(SGD + Momentum, 학습률 0.05). 편향은 모두 Keras 기본값대로 0에서 시작합니다.

{_rows(r, lang)}

**모두 0으로 초기화하면 대칭이 깨지지 않습니다.** 은닉층의 뉴런들이 모두 같은 값에서 출발하면 순전파에서 모두 같은 값을
내고, 역전파에서도 모두 같은 기울기를 받습니다. 그러니 업데이트 뒤에도 여전히 서로 같고, 이것이 영원히 반복됩니다.
ReLU 네트워크에서는 더 나쁩니다. 모든 입력이 0이라 ReLU의 기울기도 0이어서 은닉층 가중치는 학습이 끝나도 크기가
{fmt(r.zeros_weight_norm)}, 즉 한 번도 움직이지 않았고, 손실은 모든 숫자를 똑같은 확률로 찍는 수준인 ln 10 ≈ {fmt(r.chance_loss)}에
머뭅니다. "ReLU라서 그런 것 아니냐"는 의문을 풀기 위해 시그모이드로도 해 보았습니다. 시그모이드(0) = 0.5라서 기울기가 흐르고
가중치도 움직이지만(크기 {fmt(r.sigmoid_zeros_weight_norm)}), 학습이 끝난 뒤 세어 보면 두 은닉층에서 서로 다른 뉴런은
각각 {r.sigmoid_zeros_distinct_units[0]}개, {r.sigmoid_zeros_distinct_units[1]}개뿐이고, 어느 두 뉴런을 골라도 가중치 차이는
{fmt(r.sigmoid_zeros_spread)}입니다. {r.width}개의 뉴런이 있어도 실제로는 뉴런 하나짜리 층과 같습니다. 오른쪽 그림의 윗줄이 그 모습입니다.

**무작위 초기화는 대칭을 깨지만, 크기가 중요합니다.** 표준편차 0.05의 가우시안은 학습은 되지만 초반이 느리고,
표준편차 1의 가우시안은 너무 커서 첫 업데이트에서 손실이 폭발한 뒤 ReLU가 대부분 죽어 버립니다. 입력·출력 뉴런 수에 맞추어
분산을 정하는 Glorot 초기화와, ReLU에 맞추어 분산을 두 배로 잡는 He 초기화가 가장 빨리 내려갑니다.
이 네트워크는 은닉층이 두 개뿐이라 Glorot과 He의 차이는 작지만, 층이 깊어질수록 He의 장점이 커집니다
(`cnnlab lesson vanishing-gradients` 참고).
"""
    return f"""\
Seed 002 calls weight initialization "an important factor that decides how well the model learns" and lists
Gaussian, uniform, Xavier (Glorot) and He initialization. The same network (784 → {r.width} → {r.width} → 10, ReLU)
was trained with only the kernel initialization changed, on the same data in the same batch order, for {r.epochs}
epochs (SGD + momentum, learning rate 0.05). Biases start at 0, Keras's default.

{_rows(r, lang)}

**All zeros: the symmetry never breaks.** Hidden units that start identical compute identical outputs in the forward
pass and receive identical gradients in the backward pass, so after the update they are still identical, forever.
With ReLU it is worse: every input to a ReLU is 0, so is its gradient, and after training the hidden weights have
norm {fmt(r.zeros_weight_norm)}: they never moved, and the loss stays at ln 10 ≈ {fmt(r.chance_loss)}, the loss of
guessing every digit with equal probability. In case that looks like ReLU's fault, we tried sigmoid too: sigmoid(0) =
0.5, so gradients flow and the weights do move (norm {fmt(r.sigmoid_zeros_weight_norm)}), yet after training the
two hidden layers hold {r.sigmoid_zeros_distinct_units[0]} and {r.sigmoid_zeros_distinct_units[1]} distinct units, and
the largest difference between any two units' weights is {fmt(r.sigmoid_zeros_spread)}. {r.width} units that behave as
one; the top row of the figure shows them.

**Random initialization breaks the symmetry, and its scale matters.** A Gaussian with standard deviation 0.05 learns
but starts slowly; one with standard deviation 1 is far too large: the loss explodes at the first updates and most
ReLUs die. Glorot, which sets the variance from the numbers of inputs and outputs, and He, which doubles it for ReLU,
fall fastest. With only two hidden layers Glorot and He are close; the deeper the network, the more He's advantage
grows (see `cnnlab lesson vanishing-gradients`).
"""


LESSON = Lesson(
    name="initialization",
    title={
        "ko": "가중치 초기화: 0, 가우시안, Glorot, He",
        "en": "Initialization: zeros, Gaussian, Glorot, He",
    },
    summary={
        "ko": "0으로 초기화하면 은닉 뉴런이 끝까지 모두 같음(대칭이 깨지지 않음), 초기화별 손실 곡선",
        "en": "with zeros every hidden unit stays identical (symmetry never breaks); loss curves per "
        "initialization",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
