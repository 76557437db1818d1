"""Lesson 8, learning rate and batch size: a too-large rate diverges until the loss is
NaN (caught by TerminateOnNaN), a too-small one crawls; an epoch is ceil(N / batch)
updates, not one."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np

from . import prose
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

#: learning rate as a multiple of the critical rate 2 / (largest curvature)
RATE_FACTORS = {
    "too small": 0.001,
    "good": 0.5,
    "just below the limit": 0.95,
    "just above the limit": 1.05,
}


@dataclass
class LearningRateResult(Result):
    n: int
    critical_rate: float  # 2 / largest eigenvalue of the loss's Hessian
    rates: dict  # name -> learning rate
    updates: int  # full-batch updates tried per rate
    final_loss: dict  # name -> last finite loss
    start_loss: float
    diverged: dict  # name -> stopped on a NaN/inf loss
    stopped_at: (
        dict  # name -> update at which TerminateOnNaN stopped (None: ran to the end)
    )
    message: str  # what TerminateOnNaN printed
    weights_finite_after: bool  # the last good weights were put back
    good_passes_small_at: (
        int  # the update at which the good rate passes the too-small rate's final loss
    )
    batch_sizes: list
    steps_per_epoch: list  # counted in fit
    expected_steps: list  # ceil(N / batch)
    accuracy_after_one_epoch: list
    mnist_steps_batch_32: int  # full MNIST: ceil(60000 / 32)
    losses: dict = plot_only(factory=dict)  # name -> loss per update


def regression_data(n):
    """MNIST pixels and the digit's value as a number to predict (a regression: Dense(1), MSE)."""
    (x, y), _ = mnist(flat=True)
    return x[:n], y[:n].astype(np.float32)[:, None]


def critical_rate(x):
    """Full-batch gradient descent on ``mean((x w + b - y)^2)`` converges only when the
    learning rate is below ``2 / lambda_max`` of the Hessian ``(2 / N) [x 1]^T [x 1]``."""
    design = np.c_[x.astype(np.float64), np.ones(len(x))]
    largest = np.linalg.eigvalsh(2.0 / len(x) * design.T @ design)[-1]
    return 2.0 / largest


def fit_regression(x, y, rate, updates):
    from .. import keras

    model = keras.Sequential(
        [keras.Input((x.shape[1],)), keras.layers.Dense(1, kernel_initializer="zeros")]
    )
    model.compile(optimizer=keras.optimizers.SGD(rate), loss="mse")
    start = float(model.evaluate(x, y, batch_size=len(x), verbose=0))
    printed = io.StringIO()
    # The overflow is the point here: keep NumPy's warnings (raised on the worker threads too) quiet.
    with (
        contextlib.redirect_stdout(printed),
        np.errstate(over="ignore", invalid="ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(
            x,
            y,
            batch_size=len(x),
            epochs=updates,
            shuffle=False,
            verbose=0,
            callbacks=[keras.callbacks.TerminateOnNaN()],
        )
    finite = all(np.isfinite(w).all() for w in model.get_weights())
    return (
        start,
        [float(v) for v in history.history["loss"]],
        printed.getvalue().strip(),
        finite,
    )


def steps_in_one_epoch(batch_size, x, y, xt, yt):
    from .. import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    count = []
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=1,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(
                on_train_batch_end=lambda b, logs: count.append(b)
            )
        ],
    )
    return len(count), float(model.evaluate(xt, yt, verbose=0)[1])


def measure(seed=0, n=2000, updates=600, batch_sizes=(8, 32, 256, 2000)):
    x, y = regression_data(n)
    crit = critical_rate(x)
    rates = {k: f * crit for k, f in RATE_FACTORS.items()}
    final, diverged, stopped, losses, message, finite_after, start = (
        {},
        {},
        {},
        {},
        "",
        True,
        None,
    )
    for name, rate in rates.items():
        with seeded(seed):
            start, curve, printed, finite = fit_regression(x, y, rate, updates)
        bad = not math.isfinite(curve[-1])
        diverged[name] = bad
        stopped[name] = len(curve) if bad else None
        good = [v for v in curve if math.isfinite(v)]
        final[name] = good[-1] if good else start
        losses[name] = curve
        if bad:
            message, finite_after = printed, finite_after and finite
    (xi, yi), (xt, yt) = mnist()
    counted, accs = [], []
    for b in batch_sizes:
        with seeded(seed):
            steps, acc = steps_in_one_epoch(b, xi[:n], yi[:n], xt, yt)
        counted.append(steps)
        accs.append(acc)
    names = list(rates)
    passes = np.flatnonzero(np.array(losses[names[1]]) <= final[names[0]])
    return LearningRateResult(
        n=n,
        critical_rate=crit,
        rates=rates,
        updates=updates,
        final_loss=final,
        start_loss=start,
        diverged=diverged,
        stopped_at=stopped,
        message=message,
        weights_finite_after=finite_after,
        good_passes_small_at=int(passes[0]) + 1 if len(passes) else -1,
        losses=losses,
        batch_sizes=list(batch_sizes),
        steps_per_epoch=counted,
        expected_steps=[math.ceil(n / b) for b in batch_sizes],
        accuracy_after_one_epoch=accs,
        mnist_steps_batch_32=math.ceil(60000 / 32),
    )


def plot(r: LearningRateResult, path):
    fig = new_figure(12, 4.3)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    ax = axes[0]
    colors = ["tab:gray", "tab:green", "tab:blue", "tab:red"]
    for color, (name, curve) in zip(colors, r.losses.items()):
        values = np.array(curve, dtype=float)
        shown = np.where(np.isfinite(values), values, np.nan)
        ax.semilogy(
            range(1, len(values) + 1),
            shown,
            color=color,
            label=f"{name}: lr = {fmt(r.rates[name], 2)} ({RATE_FACTORS[name]:g} x limit)",
        )
        if r.diverged[name]:
            top = 1e4
            exits = np.flatnonzero(~(values < top))
            at = int(exits[0]) + 1 if len(exits) else len(values)
            ax.plot([at], [top], marker="X", ms=12, color=color, clip_on=False)
            ax.annotate(
                f"off the scale from update {at}: the loss reaches {fmt(np.nanmax(shown), 2)},\n"
                f"then NaN/inf at update {r.stopped_at[name]}; TerminateOnNaN stops",
                (at, top),
                textcoords="offset points",
                xytext=(12, -28),
                fontsize=8,
                color=color,
            )
    ax.set_ylim(1, 1e4)
    ax.set_xlabel("update (full batch: one per epoch)")
    ax.set_ylabel("MSE loss")
    ax.set_title(
        f"Dense(1) regression on {r.n} MNIST images, SGD; limit 2/lambda_max = {fmt(r.critical_rate, 3)}",
        fontsize=9,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower left")
    ax = axes[1]
    labels = [str(b) for b in r.batch_sizes]
    bars = ax.bar(labels, r.steps_per_epoch, color="tab:purple")
    for bar, steps, acc in zip(bars, r.steps_per_epoch, r.accuracy_after_one_epoch):
        ax.text(
            bar.get_x() + bar.get_width() / 2,
            steps * 1.15,
            f"{steps} update{'s' if steps != 1 else ''}\nacc {pct(acc, 0)}",
            ha="center",
            fontsize=8,
        )
    ax.set_yscale("log")
    ax.set_ylim(0.5, max(r.steps_per_epoch) * 8)
    ax.set_xlabel("batch size")
    ax.set_ylabel(f"updates in one epoch (N = {r.n})")
    ax.set_title("one epoch = ceil(N / batch) updates", fontsize=10)
    return save_figure(fig, path)


def _batch_rows(r):
    """The rows of the batch-size table (its header is in the templates)."""
    return [
        [b, s, e, pct(a)]
        for b, s, e, a in zip(
            r.batch_sizes,
            r.steps_per_epoch,
            r.expected_steps,
            r.accuracy_after_one_epoch,
        )
    ]


def text(r: LearningRateResult, lang):
    small, good, below, above = r.rates
    return prose.render(
        "learning-rate",
        lang,
        r=r,
        RATE_FACTORS=RATE_FACTORS,
        small=small,
        good=good,
        below=below,
        above=above,
        batch_rows=_batch_rows(r),
    )


LESSON = Lesson(
    name="learning-rate",
    title={"ko": "학습률과 배치 크기", "en": "Learning rate and batch size"},
    summary={
        "ko": "경계(2/λ)를 5 % 넘는 학습률은 NaN으로 발산(TerminateOnNaN), 너무 작으면 제자리; "
        "1 에포크 = ⌈N/배치⌉번 업데이트",
        "en": "5 % above the limit 2/λ diverges to NaN (TerminateOnNaN), too small crawls; an epoch is "
        "⌈N/batch⌉ updates",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
