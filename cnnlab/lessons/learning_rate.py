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

from .base import (
    Lesson,
    Result,
    fmt,
    markdown_table,
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


def _batch_rows(r, lang):
    head = (
        [
            "배치 크기",
            "fit이 실제로 한 업데이트 수",
            "⌈N / 배치⌉",
            "1 에포크 뒤 테스트 정확도",
        ]
        if lang == "ko"
        else [
            "batch size",
            "updates fit made",
            "⌈N / batch⌉",
            "test accuracy after one epoch",
        ]
    )
    return markdown_table(
        head,
        [
            [b, s, e, pct(a)]
            for b, s, e, a in zip(
                r.batch_sizes,
                r.steps_per_epoch,
                r.expected_steps,
                r.accuracy_after_one_epoch,
            )
        ],
    )


def text(r: LearningRateResult, lang):
    names = list(r.rates)
    small, good, below, above = names
    if lang == "ko":
        return f"""\
seed 002는 학습률이 너무 크면 "최적값을 찾지 못하고 발산할 수 있고", 너무 작으면 "학습이 너무 느려진다"고 합니다.
두 경우를 정확히 보기 위해 가장 단순한 모델, 즉 MNIST 이미지 {r.n:,}장의 픽셀로 숫자 값을 맞히는 완전연결층 하나(Dense(1),
평균제곱오차)를 전체 배치 경사하강법(SGD)으로 학습시켰습니다. 이 문제는 손실이 이차식이라서 발산하는 경계를 미리 계산할
수 있습니다. 손실의 곡률(헤시안 행렬)의 가장 큰 고윳값을 λ라 하면, 학습률이 2/λ = **{fmt(r.critical_rate)}**보다 크면
가장 가파른 방향으로 매번 반대편으로 더 멀리 튀어 나가게 됩니다.

- **너무 작은 학습률**(경계의 {RATE_FACTORS[small]:g}배): {r.updates}번을 업데이트해서 손실이 {fmt(r.start_loss)}에서
  {fmt(r.final_loss[small])}까지 내려옵니다. 적당한 학습률은 이 손실을 {r.good_passes_small_at}번 만에 지나갑니다.
  틀린 방향은 아니지만 한 걸음이 너무 작습니다.
- **적당한 학습률**(경계의 {RATE_FACTORS[good]:g}배): 손실이 {fmt(r.final_loss[good])}까지 내려갑니다.
- **경계 바로 아래**(0.95배): 진동하면서도 수렴해 손실이 {fmt(r.final_loss[below])}에 이릅니다.
- **경계 바로 위**(1.05배): 오차가 업데이트마다 조금씩 커지다가 {r.stopped_at[above]}번째 업데이트에서 손실이 float32의 범위를
  넘어 NaN/무한대가 됩니다. Keras와 같은 `TerminateOnNaN` 콜백이 이를 잡아 학습을 멈추고 "{r.message}"라고 알려 주며
  (한 에포크가 배치 하나뿐이라 배치 번호는 늘 0입니다),
  가중치는 마지막으로 유한했던 값으로 되돌려 둡니다({"확인됨" if r.weights_finite_after else "확인 실패"}).

경계는 이렇게 날카롭습니다. 0.95배와 1.05배는 거의 같은 값인데 한쪽은 수렴하고 한쪽은 NaN으로 끝납니다.
실전의 신경망에서는 이 경계를 미리 계산할 수 없으니, 손실이 갑자기 커지거나 NaN이 나오면 학습률부터 줄여 보는 것이 순서입니다.

**배치 크기와 에포크.** seed 002는 "에포크 1번 = 필터 업데이트 1번"이라고 하지만, 이것은 위처럼 데이터 전체를 한 배치로 쓸
때만 맞습니다. 미니배치로 학습하면 한 에포크는 ⌈N / 배치 크기⌉번의 업데이트입니다. 작은 CNN을 {r.n:,}장으로 한 에포크씩
학습시키며 `fit`이 실제로 한 업데이트를 세었습니다.

{_batch_rows(r, lang)}

전체 MNIST(60,000장)를 Keras 기본값인 배치 32로 학습시키면 한 에포크가 {r.mnist_steps_batch_32:,}번의 업데이트이고,
진행 막대에 보이는 숫자가 바로 이것입니다. 같은 한 에포크라도 배치가 크면 업데이트 횟수가 적어서 덜 배웁니다.
배치가 작을수록 한 번의 기울기가 덜 정확한(잡음이 많은) 대신 업데이트를 자주 하게 됩니다.
"""
    return f"""\
Seed 002 says a learning rate that is too large "may diverge without finding the optimum" and one that is too small
"makes learning very slow". To see both exactly we use the simplest model: one fully connected layer (Dense(1), mean
squared error) predicting a digit's value from the pixels of {r.n:,} MNIST images, trained by full-batch gradient
descent (SGD). Its loss is quadratic, so the rate at which it diverges can be computed in advance: with λ the largest
eigenvalue of the loss's curvature (the Hessian), any learning rate above 2/λ = **{fmt(r.critical_rate)}** overshoots
along the steepest direction, further each step.

- **Too small** ({RATE_FACTORS[small]:g} × the limit): {r.updates} updates take the loss from {fmt(r.start_loss)}
  to {fmt(r.final_loss[small])}, a loss the good rate passes after {r.good_passes_small_at} updates. The direction is
  right; the steps are tiny.
- **Good** ({RATE_FACTORS[good]:g} × the limit): the loss gets down to {fmt(r.final_loss[good])}.
- **Just below the limit** (0.95 ×): it oscillates but converges, to {fmt(r.final_loss[below])}.
- **Just above the limit** (1.05 ×): the error grows a little with every update until, at update
  {r.stopped_at[above]}, the loss leaves float32's range and becomes NaN/infinite. The `TerminateOnNaN` callback (as in
  Keras) catches it, stops training, reports "{r.message}" (each epoch is a single batch, hence batch 0) and
  puts back the last finite weights
  ({"checked" if r.weights_finite_after else "check failed"}).

The limit is sharp: 0.95 and 1.05 times it are nearly the same rate, yet one converges and the other ends in NaN. In a
real network the limit cannot be computed beforehand, so when the loss suddenly grows or turns NaN, lower the
learning rate first.

**Batch size and epochs.** Seed 002 says "one epoch = one filter update", which is true only when the whole data set
is one batch, as above. With mini-batches an epoch is ⌈N / batch size⌉ updates. We trained a small CNN for one epoch
on {r.n:,} images and counted the updates `fit` made:

{_batch_rows(r, lang)}

On full MNIST (60,000 images) with Keras's default batch of 32, one epoch is {r.mnist_steps_batch_32:,} updates,
the number the progress bar counts. The same one epoch with large batches makes few updates and learns less; small
batches give noisier gradients but update more often.
"""


LESSON = Lesson(
    name="learning-rate",
    title={"ko": "학습률과 배치 크기", "en": "Learning rate and batch size"},
    summary={
        "ko": "경계(2/λ)를 5 % 넘는 학습률은 NaN으로 발산(TerminateOnNaN), 너무 작으면 제자리; 1 에포크 = ⌈N/배치⌉번 업데이트",
        "en": "5 % above the limit 2/λ diverges to NaN (TerminateOnNaN), too small crawls; an epoch is "
        "⌈N/batch⌉ updates",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
