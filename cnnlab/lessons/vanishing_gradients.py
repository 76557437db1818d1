"""Lesson 3, vanishing gradients: a deep sigmoid network against ReLU with He
initialization, per-layer gradient norms at the first step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    sig, relu = r.norms["sigmoid + Glorot"], r.norms["ReLU + He"]
    gauss = r.norms["ReLU + Gaussian(0.05)"]
    if lang == "ko":
        return f"""\
seed 002는 시그모이드가 "깊은 네트워크에서는 기울기 소실(Gradient Vanishing) 문제가 발생하여 학습이 어렵다"고 하고,
ReLU가 이 문제를 완화하며 He 초기화가 기울기 소실을 해결한다고 설명합니다. 은닉층 {r.depth}개(각 {r.width}개 뉴런)의
완전연결 네트워크를 만들어, 학습의 첫 걸음에서 역전파로 계산한 각 층 가중치의 기울기 크기(노름)를 비교했습니다.
MNIST 이미지 {r.batch}장 한 배치로 계산했고, 가중치는 전혀 바꾸지 않았습니다.

**시그모이드 + Glorot 초기화**(Keras 기본값)에서는 출력층의 기울기가 {fmt(sig[-1], 2)}인데 입력 쪽 첫 층에서는
{fmt(sig[0], 2)}까지 작아집니다. 층을 하나 내려갈 때마다 기울기에 시그모이드의 미분(최대 0.25)이 곱해지기 때문에,
첫 층은 마지막 층의 {fmt(r.sigmoid_first_over_last, 2)}배밖에 되지 않습니다.
**ReLU + He 초기화**에서는 양수 구간의 미분이 1이고 He 초기화가 층마다 신호의 크기를 유지하도록 분산을 맞추므로,
첫 층의 기울기({fmt(relu[0], 2)})가 마지막 층({fmt(relu[-1], 2)})과 같은 수준으로 남습니다.
첫 층끼리 비교하면 시그모이드 쪽이 ReLU + He의 {fmt(r.first_layer_ratio, 2)}배, 즉 몇 자릿수나 작습니다.
학습률을 아무리 잘 골라도 입력 쪽 층은 사실상 움직이지 않는다는 뜻입니다.

초기화도 중요합니다. 같은 ReLU라도 표준편차 0.05의 가우시안으로 초기화하면 층을 지날 때마다 순전파 신호부터
줄어들어, 첫 층의 기울기가 {fmt(gauss[0], 2)}, 출력층도 {fmt(gauss[-1], 2)}에 그칩니다.
ReLU와 He 초기화가 함께 있어야 기울기가 살아서 내려옵니다.
대조 실험으로 은닉층을 {r.shallow_depth}개로 줄이면 첫 층의 비율은 {fmt(r.shallow_first_layer_ratio, 2)}이고, 차이가
한 자릿수 안으로 줄어듭니다. 기울기 소실은 시그모이드 자체보다 "깊이"와 함께 커지는 문제입니다.
"""
    return f"""\
Seed 002 says sigmoid "causes the vanishing gradient problem in deep networks, which makes training hard", that ReLU
mitigates it and that He initialization solves it. We build a fully connected network with {r.depth} hidden layers of
{r.width} neurons and compare, at the very first training step, the size (norm) of each layer's weight gradient as
backpropagation computes it, on one batch of {r.batch} MNIST images, without changing any weight.

With **sigmoid and Glorot initialization** (Keras's default), the output layer's gradient is {fmt(sig[-1], 2)} but the
first layer's, next to the input, is only {fmt(sig[0], 2)}: every layer the gradient passes through multiplies it by
the sigmoid's derivative (at most 0.25), so the first layer gets {fmt(r.sigmoid_first_over_last, 2)} times the last
layer's gradient. With **ReLU and He initialization** the derivative is 1 on the positive side and He's variance
keeps the signal's size from layer to layer, so the first layer's gradient ({fmt(relu[0], 2)}) stays on the order of
the last layer's ({fmt(relu[-1], 2)}). First layer against first layer, sigmoid's is {fmt(r.first_layer_ratio, 2)}
times ReLU + He's: orders of magnitude smaller. Whatever the learning rate, the layers near the input hardly move.

Initialization matters as much: the same ReLU network initialized from a Gaussian with standard deviation 0.05
shrinks the signal already on the way forward, layer after layer, and its gradients are {fmt(gauss[0], 2)} at the
first layer and {fmt(gauss[-1], 2)} at the output. It takes ReLU and He together to carry the gradient down. The control: with {r.shallow_depth} hidden layers instead, the first-layer ratio is
{fmt(r.shallow_first_layer_ratio, 2)}, within one order of magnitude. Vanishing gradients grow with depth.
"""


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
