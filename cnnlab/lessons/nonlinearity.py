"""Lesson 2, nonlinearity: Dense layers without an activation function collapse
into one affine map, and cannot separate two rings that the same stack with
ReLU separates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prose
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
    return prose.render("nonlinearity", lang, r=r, affine=_affine(r))


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
