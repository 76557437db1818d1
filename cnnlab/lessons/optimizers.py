"""Lesson 9, optimizers: SGD, momentum, AdaGrad, RMSprop and Adam on the same model,
data and starting weights; AdaGrad's effective per-weight step only ever shrinks."""

from __future__ import annotations

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


def optimizers():
    """name -> a fresh optimizer. Keras's default learning rates, except AdaGrad's
    (0.001 is too slow to see anything in a few epochs; 0.01 here)."""
    from .. import keras

    return {
        "SGD": keras.optimizers.SGD(0.01),
        "SGD + momentum": keras.optimizers.SGD(0.01, momentum=0.9),
        "AdaGrad": keras.optimizers.Adagrad(0.01),
        "RMSprop": keras.optimizers.RMSprop(0.001),
        "Adam": keras.optimizers.Adam(0.001),
    }


#: pixel groups by how often they are non-zero in the training images
GROUPS = {
    "never updated (border pixels)": (0.0, 0.0),
    "rarely (< 2 % of images)": (1e-9, 0.02),
    "often (> 20 % of images)": (0.2, 1.0),
}


@dataclass
class OptimizersResult(Result):
    epochs: int
    batch_size: int
    learning_rates: dict
    final_loss: dict  # optimizer -> mean batch loss of the last epoch
    test_accuracy: dict
    adagrad_step_increases: (
        int  # (weight, update) pairs where AdaGrad's effective step grew: 0
    )
    rmsprop_step_increases: int  # the control: RMSprop's step does grow, often
    rmsprop_updates_checked: int
    weights_checked: int
    group_sizes: dict
    adagrad_step_start: (
        dict  # group -> median effective step lr/sqrt(acc + eps), first update
    )
    adagrad_step_end: dict  # ... last update
    adagrad_smallest_step_end: float  # the weight whose step shrank most
    rmsprop_share_grew: (
        float  # mean share of weights whose RMSprop step grew at an update
    )
    losses: dict = plot_only(factory=dict)
    step_curves: dict = plot_only(factory=dict)


def effective_step(optimizer):
    """``lr / sqrt(state + eps)`` of the first Dense kernel: the size of the step each weight
    takes per unit of gradient (AdaGrad's accumulator, RMSprop's moving average)."""
    state = optimizer.get_state()["slots"][0][0]
    return optimizer.learning_rate / np.sqrt(state + optimizer.epsilon)


def measure(seed=0, epochs=3, n=2000, width=64, batch_size=32):
    from .. import keras

    (x, y), (xt, yt) = mnist(flat=True)
    x, y = x[:n], y[:n]
    share = (x > 0).mean(axis=0)
    groups = {g: (share >= lo) & (share <= hi) for g, (lo, hi) in GROUPS.items()}
    with seeded(seed):
        start = keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(width, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        ).get_weights()
    losses, final, accuracy, rates, increases, curves, checked = (
        {},
        {},
        {},
        {},
        {},
        {},
        {},
    )
    for name, opt in optimizers().items():
        with seeded(seed):
            model = keras.Sequential(
                [
                    keras.Input((784,)),
                    keras.layers.Dense(width, activation="relu"),
                    keras.layers.Dense(10, activation="softmax"),
                ]
            )
            model.set_weights(start)
            model.compile(
                optimizer=opt,
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            recorder = batch_loss_recorder(batch_size, len(x))
            callbacks = [recorder]
            if name in ("AdaGrad", "RMSprop"):
                track = {"previous": None, "grew": 0, "updates": 0, "curve": []}

                def watch(batch, logs, opt=opt, track=track):
                    step = effective_step(opt)
                    grew = 0
                    if track["previous"] is not None:
                        grew = int((step > track["previous"]).sum())
                        track["grew"] += grew
                        track["updates"] += 1
                    track["previous"] = step
                    point = {
                        g: float(np.median(step[mask])) for g, mask in groups.items()
                    }
                    point["smallest"] = float(step.min())
                    point["share grew"] = grew / step.size
                    track["curve"].append(point)

                callbacks.append(
                    keras.callbacks.LambdaCallback(on_train_batch_end=watch)
                )
            model.fit(
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=0,
                callbacks=callbacks,
            )
        steps_per_epoch = -(-len(x) // batch_size)
        losses[name] = recorder.losses
        final[name] = float(np.mean(recorder.losses[-steps_per_epoch:]))
        accuracy[name] = float(model.evaluate(xt, yt, verbose=0)[1])
        rates[name] = opt.learning_rate
        if name in ("AdaGrad", "RMSprop"):
            increases[name], checked[name], curves[name] = (
                track["grew"],
                track["updates"],
                track["curve"],
            )
    ada = curves["AdaGrad"]
    return OptimizersResult(
        epochs=epochs,
        batch_size=batch_size,
        learning_rates=rates,
        final_loss=final,
        test_accuracy=accuracy,
        adagrad_step_increases=increases["AdaGrad"],
        rmsprop_step_increases=increases["RMSprop"],
        rmsprop_updates_checked=checked["RMSprop"],
        weights_checked=784 * width,
        group_sizes={g: int(m.sum()) * width for g, m in groups.items()},
        adagrad_step_start={g: ada[0][g] for g in groups},
        adagrad_step_end={g: ada[-1][g] for g in groups},
        adagrad_smallest_step_end=ada[-1]["smallest"],
        rmsprop_share_grew=float(
            np.mean([c["share grew"] for c in curves["RMSprop"][1:]])
        ),
        losses=losses,
        step_curves=curves,
    )


def plot(r: OptimizersResult, path):
    fig = new_figure(14, 4.4)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1, 1]})
    ax = axes[0]
    for name, values in r.losses.items():
        ax.plot(
            range(1, len(values) + 1),
            smooth(values, 15),
            label=f"{name} (lr {r.learning_rates[name]:g})",
        )
    ax.set_xlabel("update")
    ax.set_ylabel("training loss (per batch, smoothed)")
    ax.set_title(
        f"same model, data and starting weights, {r.epochs} epochs", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    curve = r.step_curves["AdaGrad"]
    start = curve[0][next(iter(GROUPS))]  # never-updated weights keep the starting step
    for g, color in zip(GROUPS, ("tab:gray", "tab:orange", "tab:blue")):
        ax.plot(
            range(1, len(curve) + 1),
            [c[g] / start for c in curve],
            color=color,
            label=f"median, {g}",
        )
    ax.plot(
        range(1, len(curve) + 1),
        [c["smallest"] / start for c in curve],
        color="k",
        ls="--",
        label="the weight that shrank most",
    )
    ax.axhline(1.0, color="tab:red", lw=0.8)
    ax.set_xlabel("update")
    ax.set_ylabel("effective step / starting step")
    ax.set_title("AdaGrad, first layer: lr / sqrt(acc + eps)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[2]
    for name, color in (("AdaGrad", "tab:green"), ("RMSprop", "tab:red")):
        shares = [c["share grew"] for c in r.step_curves[name][1:]]
        ax.plot(range(2, len(shares) + 2), shares, color=color, label=name)
    ax.set_ylim(-0.02, 1)
    ax.set_xlabel("update")
    ax.set_ylabel("share of first-layer weights whose step grew")
    ax.set_title(
        f"grew: AdaGrad {r.adagrad_step_increases} times, RMSprop {r.rmsprop_step_increases:,}",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _rows(r, lang):
    head = (
        ["최적화 알고리즘", "학습률", "마지막 에포크 손실", "테스트 정확도"]
        if lang == "ko"
        else ["optimizer", "learning rate", "last epoch's loss", "test accuracy"]
    )
    return markdown_table(
        head,
        [
            [
                name,
                f"{r.learning_rates[name]:g}",
                fmt(r.final_loss[name]),
                pct(r.test_accuracy[name]),
            ]
            for name in r.final_loss
        ],
    )


def _change(start, end):
    """``"0.031623 → 0.029551 (−6.55 %)"``."""
    change = (end - start) / start
    sign = "−" if change < 0 else "+"
    return f"{start:.6f} → {end:.6f} ({sign}{abs(change) * 100:.2f} %)"


def text(r: OptimizersResult, lang):
    never, rare, often = GROUPS
    s0, s1 = r.adagrad_step_start, r.adagrad_step_end
    if lang == "ko":
        return f"""\
seed 002와 003이 소개하는 최적화 알고리즘 다섯 가지(SGD, SGD + Momentum, AdaGrad, RMSprop, Adam)를 같은 모델
(완전연결층 784 → 64 → 10), 같은 데이터(MNIST 2,000장), 같은 초기 가중치, 같은 배치 순서로 {r.epochs} 에포크씩 학습시켰습니다.
학습률은 Keras의 기본값을 썼고, AdaGrad만 기본값 0.001이 너무 느려서 0.01로 올렸습니다.

{_rows(r, lang)}

기본 SGD는 가장 느리게 내려가고, 이전 업데이트 방향을 이어 가는 Momentum을 더하면 같은 학습률로도 훨씬 빨리 내려갑니다.
RMSprop과 Adam은 가중치마다 최근 기울기의 크기로 학습률을 나누어 주기 때문에 학습률을 크게 고민하지 않아도 잘 내려가며,
seed가 "가장 많이 사용된다"고 한 Adam이 Keras의 기본 선택인 이유이기도 합니다.

**AdaGrad에 대한 seed의 설명 바로잡기.** seed 002는 AdaGrad가 "드물게 업데이트되는 가중치는 학습률을 증가시킨다"고 합니다.
AdaGrad는 가중치마다 기울기 제곱을 계속 더해 가고(acc ← acc + g², 처음 값 0.1), 실제로 가는 걸음은 학습률 × g / √(acc + ε)입니다.
그래서 기울기 1만큼에 대한 실질적인 학습률 lr / √(acc + ε)은 acc가 줄어들 수 없으니 **줄어들기만 합니다**.
학습하는 동안 첫 층의 가중치 {r.weights_checked:,}개를 매 업데이트마다 `optimizer.get_state()`로 읽어 확인해 보니,
실질 학습률이 조금이라도 커진 경우는 **{r.adagrad_step_increases}번**이었습니다.
드물게 업데이트되는 가중치가 다른 점은 "덜 줄어든다"는 것뿐입니다(중앙값, 처음 → 마지막):

- 모든 이미지에서 늘 0인 가장자리 픽셀의 가중치({r.group_sizes[never]:,}개): {_change(s0[never], s1[never])} (기울기가 늘 0이라 그대로)
- 이미지의 2 % 미만에서만 켜지는 픽셀의 가중치: {_change(s0[rare], s1[rare])}
- 20 % 넘게 켜지는 픽셀의 가중치: {_change(s0[often], s1[often])}

가장 많이 줄어든 가중치는 {fmt(r.adagrad_smallest_step_end)}까지 내려갔습니다. Keras는 누적값을 0.1에서 시작하고 미니배치의
평균 기울기는 작은 편이라, 이렇게 짧은 학습에서는 줄어드는 폭이 크지 않습니다. 그래도 방향은 언제나 "감소"뿐입니다.
결국 드문 가중치는 상대적으로 큰 학습률을 유지하지만, 그 값은 처음보다 커지지 않습니다. 대조 실험으로 RMSprop은
기울기 제곱의 이동 평균을 쓰기 때문에 오래된 기울기를 잊고, 같은 첫 층에서 실질 학습률이 커진 경우가
{r.rmsprop_step_increases:,}번({r.rmsprop_updates_checked}번의 업데이트 동안, 업데이트마다 평균 {pct(r.rmsprop_share_grew, 0)})이었습니다. seed가 말한 "AdaGrad의 단점을 보완"이
바로 이것입니다. AdaGrad는 학습률이 계속 줄어 결국 멈추고, RMSprop은 다시 키울 수 있습니다.
"""
    return f"""\
The five optimizers seeds 002 and 003 name (SGD, SGD + momentum, AdaGrad, RMSprop, Adam) trained the same model
(fully connected 784 → 64 → 10) on the same data (2,000 MNIST images) from the same starting weights with the same
batch order, for {r.epochs} epochs each. The learning rates are Keras's defaults, except AdaGrad's: its default 0.001
is too slow to show anything here, so it gets 0.01.

{_rows(r, lang)}

Plain SGD falls slowest; momentum, which keeps going in the direction of the previous updates, falls much faster at
the same learning rate. RMSprop and Adam divide each weight's learning rate by the size of its recent gradients and
work well without much tuning, which is why Adam, "the most used" as the seed says, is Keras's usual choice.

**Correcting the seed on AdaGrad.** Seed 002 says AdaGrad "increases the learning rate of rarely updated weights".
AdaGrad adds up each weight's squared gradients (acc ← acc + g², starting at 0.1) and steps by lr × g / √(acc + ε).
The effective learning rate per unit of gradient, lr / √(acc + ε), can therefore **only shrink**: acc never decreases.
Reading the state with `optimizer.get_state()` after every update for the first layer's {r.weights_checked:,}
weights, the effective rate grew **{r.adagrad_step_increases} times**. What sets rarely updated weights apart is that
theirs shrinks less (medians, first → last update):

- weights of border pixels that are 0 in every image ({r.group_sizes[never]:,}): {_change(s0[never], s1[never])}
  (their gradient is always 0, so it stays put)
- weights of pixels lit in under 2 % of the images: {_change(s0[rare], s1[rare])}
- weights of pixels lit in over 20 %: {_change(s0[often], s1[often])}

The weight whose rate shrank most is down to {fmt(r.adagrad_smallest_step_end)}. Keras starts the accumulator at
0.1 and mini-batch gradients are small, so in a run this short the rates shrink little; but they only ever shrink.
Rare weights keep a relatively larger rate, never a larger one than they started with. The control: RMSprop keeps a
moving average of squared gradients, so it forgets old ones, and its effective rate grew
{r.rmsprop_step_increases:,} times on the same layer over {r.rmsprop_updates_checked} updates
({pct(r.rmsprop_share_grew, 0)} of the weights at an average update). That is the "fix for
AdaGrad's weakness" the seed mentions: AdaGrad's rate keeps shrinking until learning stalls; RMSprop's can recover.
"""


LESSON = Lesson(
    name="optimizers",
    title={
        "ko": "최적화 알고리즘: SGD, Momentum, AdaGrad, RMSprop, Adam",
        "en": "Optimizers: SGD, momentum, AdaGrad, RMSprop, Adam",
    },
    summary={
        "ko": "같은 모델·데이터·초기값에서 다섯 알고리즘의 손실 곡선; AdaGrad의 실질 학습률은 줄어들기만 함",
        "en": "loss curves of five optimizers from the same start; AdaGrad's effective step only shrinks",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002, 003",
)
