"""Lesson 3, vanishing gradients: a deep sigmoid network against ReLU with He
initialization, per-layer gradient norms at the first step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prose
from .base import Lesson, Result, fmt, mnist, new_figure, save_figure, seeded

#: name -> (activation, kernel initializer): Keras's default initializer for sigmoid.
CONFIGS = {
    "sigmoid + Glorot": ("sigmoid", "glorot_uniform"),
    "ReLU + He": ("relu", "he_normal"),
    "ReLU + Gaussian(0.05)": ("relu", "random_normal"),
}


@dataclass
class VanishingResult(Result):
    depth: int  # hidden layers
    width: int
    batch: int
    norms: dict  # config -> gradient norm of each Dense kernel, first layer first
    first_layer_ratio: float  # sigmoid's first-layer norm / ReLU+He's
    sigmoid_first_over_last: float
    relu_he_first_over_last: float
    shallow_depth: int
    shallow_first_layer_ratio: (
        float  # control: the same ratio with only `shallow_depth` hidden layers
    )


def build(activation, initializer, depth, width):
    from .. import keras

    model = keras.Sequential(
        [keras.Input((784,))]
        + [
            keras.layers.Dense(
                width, activation=activation, kernel_initializer=initializer
            )
            for _ in range(depth)
        ]
        + [keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def kernel_gradient_norms(model, x, y):
    """The norm of d(loss)/d(kernel) for every layer, at the current weights, without
    updating anything: a forward pass that keeps the caches, the loss gradient at
    the softmax's input, then each layer's ``backward`` from the top down."""
    _, caches = model.layer_outputs(x)
    _, grad = model.loss.value_and_grad(y, caches[-1].z, from_logits=True)
    norms = []
    last = len(model.layers) - 1
    for i in range(last, -1, -1):
        grad, weight_grads = model.layers[i].backward(
            grad, caches[i], skip_activation=i == last
        )
        norms.append(float(np.linalg.norm(weight_grads[0])))
    return norms[::-1]


def first_step_norms(depth, width, batch, seed):
    (x, y), _ = mnist(flat=True)
    out = {}
    for name, (activation, initializer) in CONFIGS.items():
        with seeded(seed):
            model = build(activation, initializer, depth, width)
        out[name] = kernel_gradient_norms(model, x[:batch], y[:batch])
    return out


def measure(seed=0, depth=10, width=64, batch=256, shallow_depth=2):
    norms = first_step_norms(depth, width, batch, seed)
    shallow = first_step_norms(shallow_depth, width, batch, seed)
    sig, relu = norms["sigmoid + Glorot"], norms["ReLU + He"]
    return VanishingResult(
        depth=depth,
        width=width,
        batch=batch,
        norms=norms,
        first_layer_ratio=sig[0] / relu[0],
        sigmoid_first_over_last=sig[0] / sig[-1],
        relu_he_first_over_last=relu[0] / relu[-1],
        shallow_depth=shallow_depth,
        shallow_first_layer_ratio=shallow["sigmoid + Glorot"][0]
        / shallow["ReLU + He"][0],
    )


def plot(r: VanishingResult, path):
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    styles = {
        "sigmoid + Glorot": ("tab:red", "o"),
        "ReLU + He": ("tab:green", "s"),
        "ReLU + Gaussian(0.05)": ("tab:gray", "^"),
    }
    for name, values in r.norms.items():
        color, marker = styles.get(name, (None, "o"))
        ax.semilogy(
            range(1, len(values) + 1), values, marker=marker, color=color, label=name
        )
    ax.set_xlabel("Dense layer (1 = next to the input)")
    ax.set_ylabel("gradient norm of the layer's weights")
    ax.set_xticks(range(1, r.depth + 2))
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(
        f"first training step, {r.depth} hidden layers of {r.width}: first layer "
        f"sigmoid / ReLU+He = {fmt(r.first_layer_ratio, 2)}",
        fontsize=10,
    )
    return save_figure(fig, path)


def text(r: VanishingResult, lang):
    return prose.render(
        "vanishing-gradients",
        lang,
        r=r,
        sig=r.norms["sigmoid + Glorot"],
        relu=r.norms["ReLU + He"],
        gauss=r.norms["ReLU + Gaussian(0.05)"],
    )


LESSON = Lesson(
    name="vanishing-gradients",
    title={
        "ko": "기울기 소실: 깊은 시그모이드 네트워크 vs ReLU + He",
        "en": "Vanishing gradients: deep sigmoid vs ReLU + He",
    },
    summary={
        "ko": "첫 학습 단계의 층별 기울기 크기: 시그모이드의 첫 층은 ReLU + He보다 몇 자릿수 작음",
        "en": "per-layer gradient norms at the first step: sigmoid's first layer is orders of magnitude smaller",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="002",
)
