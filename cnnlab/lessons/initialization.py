"""Lesson 10, initialization: all-zeros, Gaussian, Glorot and He on the same network;
the symmetry that zeros never break, and the loss curves."""

from __future__ import annotations

import math
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


def _rows(r):
    """The rows of the table (its header is in the templates)."""
    return [
        [
            name,
            fmt(r.final_loss[name]),
            pct(r.test_accuracy[name]),
            f"{r.distinct_units[name]} / {r.width}",
        ]
        for name in r.final_loss
    ]


def text(r: InitializationResult, lang):
    return prose.render("initialization", lang, r=r, rows=_rows(r))


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
