"""Lesson 4, dying ReLU: dead units per layer after training with a too-large
learning rate, ReLU against Leaky ReLU with the seed's slope 0.01."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prose
from .base import (
    Lesson,
    Result,
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


def _rows(r):
    """The rows of the table (its header is in the templates)."""
    return [
        [
            key,
            ", ".join(pct(v, 0) for v in r.dead[key]),
            ", ".join(pct(v, 0) for v in r.sparsity[key]),
            pct(r.accuracy[key]),
        ]
        for key in r.dead
    ]


def _key(r, kind, which):
    return f"{kind}, lr={r.learning_rates[which]:g}"


def text(r: DyingReluResult, lang):
    relu_normal = r.sparsity[_key(r, "ReLU", "normal")]
    return prose.render(
        "dying-relu",
        lang,
        r=r,
        SEED_SLOPE=SEED_SLOPE,
        normal=r.learning_rates["normal"],
        large=r.learning_rates["large"],
        rows=_rows(r),
        sparsity_normal=(min(relu_normal), max(relu_normal)),
        sparsity_large=max(r.sparsity[_key(r, "ReLU", "large")]),
    )


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
