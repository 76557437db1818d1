"""Lesson 9, optimizers: SGD, momentum, AdaGrad, RMSprop and Adam on the same model,
data and starting weights; AdaGrad's effective per-weight step only ever shrinks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prose
from .base import (
    Lesson,
    Result,
    batch_loss_recorder,
    fmt,
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


def _rows(r):
    """The rows of the table (its header is in the templates)."""
    return [
        [
            name,
            f"{r.learning_rates[name]:g}",
            fmt(r.final_loss[name]),
            pct(r.test_accuracy[name]),
        ]
        for name in r.final_loss
    ]


def _change(start, end):
    """``"0.031623 → 0.029551 (−6.55 %)"``."""
    change = (end - start) / start
    sign = "−" if change < 0 else "+"
    return f"{start:.6f} → {end:.6f} ({sign}{abs(change) * 100:.2f} %)"


def text(r: OptimizersResult, lang):
    never, rare, often = GROUPS
    return prose.render(
        "optimizers",
        lang,
        r=r,
        rows=_rows(r),
        change=_change,
        never=never,
        rare=rare,
        often=often,
        s0=r.adagrad_step_start,
        s1=r.adagrad_step_end,
    )


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
