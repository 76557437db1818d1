"""Lesson 7, overfitting and dropout: the seed-004 CNN trained on a small sample with
and without dropout; training and validation curves, and the gap between them."""

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
    per_class,
    save_figure,
    seeded,
)


@dataclass
class OverfittingResult(Result):
    n_train: int
    n_val: int
    epochs: int
    rate: float
    curves: dict  # model -> {"train_loss", "val_loss", "train_accuracy", "val_accuracy"} per epoch
    gap: dict  # model -> validation loss - training loss, mean of the last 3 epochs
    accuracy_gap: dict  # model -> training accuracy - validation accuracy, same epochs
    best_epoch: dict  # model -> epoch (1-based) with the lowest validation loss
    final_val_accuracy: dict


def build(rate):
    """Seed 004's CNN; with ``rate``, Dropout after Flatten and after Dense(128)."""
    from .. import keras

    layers = [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(64, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
    ]
    if rate:
        layers.append(keras.layers.Dropout(rate))
    layers.append(keras.layers.Dense(128, activation="relu"))
    if rate:
        layers.append(keras.layers.Dropout(rate))
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def train_curves(model, x, y, xv, yv, epochs):
    """Train; after every epoch score the training set in inference mode (dropout off,
    as for the validation set), so that both curves measure the same network."""
    from ..model.callbacks import Callback

    curves = {
        "train_loss": [],
        "train_accuracy": [],
        "val_loss": [],
        "val_accuracy": [],
    }

    class Score(Callback):
        def on_epoch_end(self, epoch, logs=None):
            loss, acc = self.model.evaluate(x, y, batch_size=256, verbose=0)
            curves["train_loss"].append(float(loss))
            curves["train_accuracy"].append(float(acc))
            curves["val_loss"].append(float(logs["val_loss"]))
            curves["val_accuracy"].append(float(logs["val_accuracy"]))

    model.fit(
        x,
        y,
        batch_size=32,
        epochs=epochs,
        validation_data=(xv, yv),
        validation_batch_size=256,
        callbacks=[Score()],
        verbose=0,
    )
    return curves


def measure(seed=0, n_train=200, n_val=500, epochs=20, rate=0.5):
    (x, y), (xt, yt) = mnist()
    idx = per_class(y, n_train, seed)
    x, y = x[idx], y[idx]
    xv, yv = xt[:n_val], yt[:n_val]
    curves = {}
    for name, r in (("no dropout", 0.0), (f"dropout {rate:g}", rate)):
        with seeded(seed):
            curves[name] = train_curves(build(r), x, y, xv, yv, epochs)
    last = slice(-min(3, epochs), None)
    gap = {
        k: float(np.mean(c["val_loss"][last]) - np.mean(c["train_loss"][last]))
        for k, c in curves.items()
    }
    acc_gap = {
        k: float(np.mean(c["train_accuracy"][last]) - np.mean(c["val_accuracy"][last]))
        for k, c in curves.items()
    }
    return OverfittingResult(
        n_train=len(x),
        n_val=len(xv),
        epochs=epochs,
        rate=rate,
        curves=curves,
        gap=gap,
        accuracy_gap=acc_gap,
        best_epoch={k: int(np.argmin(c["val_loss"])) + 1 for k, c in curves.items()},
        final_val_accuracy={k: c["val_accuracy"][-1] for k, c in curves.items()},
    )


def plot(r: OverfittingResult, path):
    fig = new_figure(11, 4.2)
    axes = fig.subplots(1, 2)
    colors = {0: "tab:red", 1: "tab:blue"}
    for i, (name, c) in enumerate(r.curves.items()):
        epochs = range(1, len(c["train_loss"]) + 1)
        for ax, key in ((axes[0], "loss"), (axes[1], "accuracy")):
            ax.plot(
                epochs,
                c[f"train_{key}"],
                color=colors[i],
                ls="--",
                label=f"{name}: training",
            )
            ax.plot(
                epochs,
                c[f"val_{key}"],
                color=colors[i],
                marker="o",
                ms=3,
                label=f"{name}: validation",
            )
    axes[0].set_title(
        f"loss (gap at the end: {', '.join(f'{k} {fmt(v, 2)}' for k, v in r.gap.items())})",
        fontsize=9,
    )
    axes[1].set_title("accuracy", fontsize=10)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(
        f"seed-004 CNN on {r.n_train} training images, validated on {r.n_val}",
        fontsize=11,
    )
    return save_figure(fig, path)


def _val_story(r, name, lang):
    """How the validation loss went: lowest before the end and no better since, or still falling."""
    c, best = r.curves[name], r.best_epoch[name]
    low, end = fmt(min(c["val_loss"])), fmt(c["val_loss"][-1])
    if lang == "ko":
        if best < r.epochs:
            return (
                f"검증 손실은 {best}번째 에포크에서 가장 낮았고({low}) 그 뒤로는 더 내려가지 않은 채 "
                f"{end}에서 끝납니다."
            )
        return f"검증 손실은 {end}까지 내려가는 데 그칩니다."
    if best < r.epochs:
        return (
            f"the validation loss is lowest at epoch {best} ({low}), does not improve after that and ends "
            f"at {end}."
        )
    return f"the validation loss only gets down to {end}."


def text(r: OverfittingResult, lang):
    nd, dr = list(r.curves)
    c0, c1 = r.curves[nd], r.curves[dr]
    if lang == "ko":
        return f"""\
seed 002는 과적합(Overfitting)을 "훈련 데이터에서는 성능이 좋지만, 새로운 데이터에서는 성능이 나쁜" 상태로 설명하고,
학습 중 일부 뉴런을 랜덤하게 0으로 만드는 Dropout이 이를 막는다고 합니다. seed 004의 CNN을 MNIST 이미지 {r.n_train}장
(숫자마다 {r.n_train // 10}장)이라는 아주 작은 데이터로 {r.epochs} 에포크 학습시키고, 처음 보는 {r.n_val}장으로 검증했습니다.
한 번은 그대로, 한 번은 Flatten 뒤와 Dense(128) 뒤에 Dropout({r.rate:g})을 넣어서 학습시켰습니다.
훈련 손실도 검증과 똑같이 추론 모드(Dropout 꺼짐)로 매 에포크 다시 계산해서, 두 곡선이 같은 네트워크를 재도록 했습니다.

**Dropout 없이**: 훈련 손실은 {fmt(c0["train_loss"][-1])}까지 내려가고 훈련 정확도는 {pct(c0["train_accuracy"][-1])}이지만,
{_val_story(r, nd, lang)} 마지막 세 에포크의 검증 손실과 훈련 손실의 차이는 **{fmt(r.gap[nd])}**입니다.
네트워크가 숫자의 일반적인 모양보다 이 {r.n_train}장 하나하나를 외우는 쪽으로 가고 있다는 신호이며, 이것이 과적합입니다.

**Dropout({r.rate:g})을 넣으면**: 같은 에포크 동안 훈련 손실은 {fmt(c1["train_loss"][-1])}에 그쳐 덜 내려가지만, 검증 손실은
{fmt(c1["val_loss"][-1])}이고 차이는 **{fmt(r.gap[dr])}**로 줄어듭니다. 검증 정확도는 {pct(r.final_val_accuracy[nd])}에서
{pct(r.final_val_accuracy[dr])}입니다. 매 단계마다 뉴런의 절반이 무작위로 빠지니 특정 뉴런 몇 개에 기대어 외우기가 어려워지고,
그만큼 여러 뉴런에 나누어 일반적인 특징을 배우게 됩니다. 추론할 때는 Dropout이 꺼지고 모든 뉴런이 쓰입니다
(학습 중 살아남은 뉴런의 출력을 1/(1 − {r.rate:g})배 해 두었기 때문에 크기가 맞습니다).

훈련 데이터가 적을수록 과적합은 빨리 옵니다. 검증 손실이 다시 오르기 시작하는 에포크가 학습을 멈출 때라는
seed의 말("너무 많은 에포크는 과적합 위험")도 곡선에서 그대로 보입니다. Keras의 `EarlyStopping` 콜백이 이 일을 자동으로 해 줍니다.
"""
    return f"""\
Seed 002 describes overfitting as "good performance on the training data, poor performance on new data" and says
dropout, which sets random neurons to 0 during training, prevents it. We trained seed 004's CNN for {r.epochs} epochs
on a very small sample, {r.n_train} MNIST images ({r.n_train // 10} per digit), and validated it on {r.n_val} images it
never saw: once as it is, once with Dropout({r.rate:g}) after Flatten and after Dense(128). The training loss is
recomputed after every epoch in inference mode (dropout off), like the validation loss, so both curves measure the
same network.

**Without dropout** the training loss falls to {fmt(c0["train_loss"][-1])} and the training accuracy reaches
{pct(c0["train_accuracy"][-1])}, while {_val_story(r, nd, lang)} Over the last three
epochs the validation loss exceeds the training loss by **{fmt(r.gap[nd])}**: the network is memorizing these
{r.n_train} images rather than learning what digits look like. That is overfitting.

**With Dropout({r.rate:g})** the training loss falls less in the same epochs ({fmt(c1["train_loss"][-1])}), but the
validation loss ends at {fmt(c1["val_loss"][-1])} and the gap shrinks to **{fmt(r.gap[dr])}**; validation accuracy goes
from {pct(r.final_val_accuracy[nd])} to {pct(r.final_val_accuracy[dr])}. With half the neurons dropped at random at
every step, the network cannot lean on a few of them to memorize, and spreads general features over many. At
inference dropout is off and every neuron takes part (the survivors were scaled by 1/(1 − {r.rate:g}) during
training, so the sizes match).

The smaller the training set, the sooner overfitting comes. The seed's warning that too many epochs risk
overfitting is visible in the curves: the epoch where the validation loss stops improving is the time to stop, which
Keras's `EarlyStopping` callback does automatically.
"""


LESSON = Lesson(
    name="overfitting",
    title={"ko": "과적합과 Dropout", "en": "Overfitting and dropout"},
    summary={
        "ko": "작은 데이터로 학습한 seed 004 CNN의 훈련/검증 곡선, Dropout 유무에 따른 손실 차이",
        "en": "training and validation curves of the seed-004 CNN on a small sample, the gap with and "
        "without dropout",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
