"""Lesson 7, overfitting and dropout: the seed-004 CNN trained on a small sample with
and without dropout; training and validation curves, and the gap between them."""

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


def _val_story(r, name):
    """How the validation loss went (the sentence is in the templates): its best epoch, lowest and last value."""
    c = r.curves[name]
    return {
        "best": r.best_epoch[name],
        "low": fmt(min(c["val_loss"])),
        "last": fmt(c["val_loss"][-1]),
    }


def text(r: OverfittingResult, lang):
    nd, dr = list(r.curves)
    return prose.render(
        "overfitting",
        lang,
        r=r,
        nd=nd,
        dr=dr,
        c0=r.curves[nd],
        c1=r.curves[dr],
        val=_val_story(r, nd),
    )


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
