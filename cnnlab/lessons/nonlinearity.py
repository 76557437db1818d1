"""Lesson 2, nonlinearity: Dense layers without an activation function collapse
into one affine map, and cannot separate two rings that the same stack with
ReLU separates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Lesson, Result, fmt, new_figure, pct, plot_only, save_figure, seeded


def rings(n, seed=0, noise=0.08):
    """Two concentric rings in 2-D (inner radius 0.45, outer 1.0), half of each class."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n) % 2).astype(np.int64)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(label == 1, 1.0, 0.45) + rng.normal(0, noise, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(
        np.float32
    ), label


@dataclass
class NonlinearityResult(Result):
    layers: int
    width: int
    params_linear_stack: int  # parameters of the Dense stack without activations
    collapsed_map: (
        list  # [w1, w2, b]: the one affine map it equals (before the sigmoid)
    )
    collapse_residual: (
        float  # max |stack - affine map| / max |stack|, on held-out points
    )
    relu_affine_residual: float  # control: how far the ReLU stack is from its best affine fit (relative RMS)
    linear_accuracy: float  # held-out accuracy, no activation function
    relu_accuracy: float  # held-out accuracy, the same stack with ReLU
    linear_loss: float
    relu_loss: float
    epochs: int
    grid: object = plot_only()
    train_points: object = plot_only()


def build(activation, width, layers):
    from .. import keras

    return keras.Sequential(
        [keras.Input((2,))]
        + [keras.layers.Dense(width, activation=activation) for _ in range(layers - 1)]
        + [keras.layers.Dense(1, activation="sigmoid")]
    )


def collapse(model):
    """Multiply the stack out: ``x W1 W2 W3 + ((b1 W2 + b2) W3 + b3)`` -> ``(W, b)`` in float64."""
    w = np.eye(model.layers[0].get_weights()[0].shape[0])
    b = np.zeros(w.shape[0])
    for layer in model.layers:
        kernel, bias = (a.astype(np.float64) for a in layer.get_weights())
        w, b = w @ kernel, b @ kernel + bias
    return w, b


def pre_activation(model, x):
    """The last layer's output before the sigmoid."""
    _, caches = model.layer_outputs(x)
    return caches[-1].z.astype(np.float64)


def measure(seed=0, n=600, epochs=60, width=16, layers=3, learning_rate=0.02):
    from .. import keras

    x, y = rings(n, seed)
    xv, yv = rings(400, seed + 1000)
    models = {}
    with seeded(seed):
        for name, activation in (("linear", None), ("relu", "relu")):
            model = build(activation, width, layers)
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss="binary_crossentropy",
                metrics=["accuracy"],
            )
            model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
            models[name] = model
    scores = {k: m.evaluate(xv, yv, verbose=0) for k, m in models.items()}
    w, b = collapse(models["linear"])
    z = pre_activation(models["linear"], xv)
    residual = float(np.abs(z - (xv @ w + b)).max() / np.abs(z).max())
    # The control: the best affine map (least squares) cannot reproduce the ReLU stack.
    z_relu = pre_activation(models["relu"], xv)[:, 0]
    design = np.c_[xv.astype(np.float64), np.ones(len(xv))]
    fit, *_ = np.linalg.lstsq(design, z_relu, rcond=None)
    relu_residual = float(np.sqrt(np.mean((design @ fit - z_relu) ** 2)) / z_relu.std())
    grid_axis = np.linspace(-1.5, 1.5, 121, dtype=np.float32)
    gx, gy = np.meshgrid(grid_axis, grid_axis)
    points = np.c_[gx.ravel(), gy.ravel()]
    grid = {
        "axis": grid_axis,
        **{
            k: m.predict(points, batch_size=4096, verbose=0).reshape(gx.shape)
            for k, m in models.items()
        },
    }
    return NonlinearityResult(
        layers=layers,
        width=width,
        params_linear_stack=models["linear"].count_params(),
        collapsed_map=[float(w[0, 0]), float(w[1, 0]), float(b[0])],
        collapse_residual=residual,
        relu_affine_residual=relu_residual,
        linear_accuracy=float(scores["linear"][1]),
        relu_accuracy=float(scores["relu"][1]),
        linear_loss=float(scores["linear"][0]),
        relu_loss=float(scores["relu"][0]),
        epochs=epochs,
        grid=grid,
        train_points=(x, y),
    )


def plot(r: NonlinearityResult, path):
    fig = new_figure(10, 4.6)
    axes = fig.subplots(1, 2)
    x, y = r.train_points
    a = r.grid["axis"]
    for ax, key, title in (
        (
            axes[0],
            "linear",
            f"{r.layers} Dense layers, no activation\n"
            f"held-out accuracy {pct(r.linear_accuracy)}",
        ),
        (
            axes[1],
            "relu",
            f"the same {r.layers} Dense layers with ReLU\n"
            f"held-out accuracy {pct(r.relu_accuracy)}",
        ),
    ):
        ax.contourf(
            a, a, r.grid[key], levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6
        )
        ax.contour(a, a, r.grid[key], levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(x[y == 0, 0], x[y == 0, 1], s=6, c="tab:blue", label="inner ring")
        ax.scatter(x[y == 1, 0], x[y == 1, 1], s=6, c="tab:red", label="outer ring")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle("decision boundary (black line: p = 0.5)", fontsize=11)
    return save_figure(fig, path)


def _affine(r):
    """``"0.083·x₁ − 0.043·x₂ + 0.0148"`` with real minus signs."""
    w1, w2, b = r.collapsed_map
    sign = lambda v: "+" if v >= 0 else "−"  # noqa: E731
    return (
        f"{'−' if w1 < 0 else ''}{fmt(abs(w1))}·x₁ {sign(w2)} {fmt(abs(w2))}·x₂ "
        f"{sign(b)} {fmt(abs(b))}"
    )


def text(r: NonlinearityResult, lang):
    affine = _affine(r)
    if lang == "ko":
        return f"""\
seed 002는 "활성화 함수가 없으면 네트워크가 아무리 깊어져도 단순한 선형 변환만 수행하는 것과 같아진다"고 설명합니다.
정말 그런지, 평면 위의 두 동심원(안쪽 원과 바깥쪽 원)을 구분하는 문제로 확인해 봅니다.
완전연결층(Dense) {r.layers}개를 쌓은 같은 구조를 두 번 학습시키되, 한 번은 층 사이에 활성화 함수를 넣지 않고,
한 번은 ReLU를 넣었습니다({r.epochs} 에포크, Adam).

**층을 쌓아도 하나의 affine 변환.** 활성화 함수가 없는 층은 각각 y = xW + b 이므로, 세 층을 곱해서 풀면
x·W₁W₂W₃ + ((b₁W₂ + b₂)W₃ + b₃) 라는 하나의 식이 됩니다. 학습이 끝난 가중치로 이 곱을 직접 계산하면
z = {affine}이고, 처음 보는 점 400개에서 네트워크의 출력(시그모이드 직전 값)과
이 한 줄짜리 식의 차이는 최대 {fmt(r.collapse_residual, 2)}(상대 오차)입니다. float32의 반올림 오차 수준이므로 사실상 같습니다.
매개변수가 {r.params_linear_stack:,}개나 있어도, 실제로 표현하는 것은 숫자 세 개짜리 직선 하나입니다.

**곡선 경계가 필요한 문제.** 직선 하나로는 원을 둘러쌀 수 없으니, 활성화 함수가 없는 네트워크의 정확도는
{pct(r.linear_accuracy)}로 동전 던지기 수준에 머뭅니다. 같은 층에 ReLU만 넣으면 정확도는 {pct(r.relu_accuracy)}가 되고,
왼쪽 그림의 직선 경계가 오른쪽에서는 안쪽 원을 감싸는 닫힌 곡선으로 바뀝니다. 대조 실험으로, ReLU 네트워크의 출력에
가장 잘 맞는 affine 식을 최소제곱으로 구해 보면 설명하지 못하는 부분이 표준편차의 {pct(r.relu_affine_residual, 0)}나 남습니다.
ReLU를 넣은 네트워크는 더 이상 하나의 직선으로 줄어들지 않는다는 뜻입니다.

합성곱 층도 마찬가지입니다. 합성곱 역시 선형 연산이므로, 합성곱 층 사이에 ReLU 같은 활성화 함수가 없다면 여러 층을 쌓아도
큰 필터 하나를 쓴 것과 다르지 않습니다. seed가 "Convolution Layer = convolution + activation"이라고 정리한 이유입니다.
"""
    return f"""\
Seed 002 says that without an activation function "however deep the network, it does no more than one linear
transformation". We check it on a problem that needs a curve: telling an inner ring of points from an outer ring.
The same stack of {r.layers} Dense layers is trained twice ({r.epochs} epochs, Adam): once with no activation
function between the layers, once with ReLU.

**A stack of layers is one affine map.** Each layer without an activation is y = xW + b, so three of them multiply
out to x·W₁W₂W₃ + ((b₁W₂ + b₂)W₃ + b₃). Computed from the trained weights, that is
z = {affine}, and on 400 points the network has never seen, its output (before the sigmoid) differs
from this one-line formula by at most {fmt(r.collapse_residual, 2)} (relative): float32 rounding, nothing more.
{r.params_linear_stack:,} parameters, and what they express is one straight line with three numbers.

**A problem that needs a curved boundary.** No straight line encloses a ring, so the network without activations
stays at chance: {pct(r.linear_accuracy)} held-out accuracy. Put ReLU between the same layers and it reaches
{pct(r.relu_accuracy)}; the straight boundary on the left becomes the closed curve around the inner ring on the
right. The control: the best affine fit (least squares) to the ReLU network's output leaves
{pct(r.relu_affine_residual, 0)} of its standard deviation unexplained, so that network no longer collapses to a line.

Convolution layers are no different: a convolution is linear too, so convolution layers stacked without an
activation function between them amount to one larger filter. That is why the seed sums it up as
"Convolution Layer = convolution + activation".
"""


LESSON = Lesson(
    name="nonlinearity",
    title={
        "ko": "활성화 함수가 없으면: 층을 쌓아도 직선 하나",
        "en": "Without an activation function, a deep stack is one line",
    },
    summary={
        "ko": "활성화 함수 없는 Dense 층들 = affine 변환 하나(잔차 < 1e-5), 동심원 문제에서 ReLU만 성공",
        "en": "Dense layers without activations = one affine map (residual < 1e-5); only ReLU solves the rings",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="000, 001, 002",
)
