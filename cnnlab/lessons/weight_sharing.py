"""Lesson 5, weight sharing: a conv layer against a Dense layer producing the same
output from the same input, in parameters, and the conv layer written as a Dense one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ops import param_count, param_formula
from . import prose
from .base import (
    Lesson,
    Result,
    new_figure,
    plot_only,
    save_figure,
    seeded,
    shift_images,
)

#: (label, input (h, w, c), filters, kernel): the seeds' first conv layers and seed 004's second.
CASES = [
    ("seed 004, Conv2D 32@3x3", (28, 28, 1), 32, 3),
    ("seed 002, Conv 10@5x5", (28, 28, 1), 10, 5),
    ("seed 004, Conv2D 64@3x3", (13, 13, 32), 64, 3),
]


@dataclass
class WeightSharingResult(Result):
    cases: list  # one dict per CASES entry: conv, locally connected, dense parameters
    conv_layer_params: list  # count_params() of the real Conv2D layers, same order
    small_input: list  # the small example: input (h, w, c)
    small_output: list  # its conv output (h, w, filters)
    dense_equivalent_residual: (
        float  # max |Dense(M)(x) - Conv2D(x)| with M built from the conv
    )
    dense_matrix_entries: int
    dense_matrix_nonzero: int
    distinct_nonzero_values: (
        int  # = kernel entries: the same few weights, reused at every position
    )
    reuse_per_weight: int  # positions each kernel weight is used at
    shift_residual_conv: float  # conv(shift(x)) vs shift(conv(x)), inside the image
    shift_residual_dense: (
        float  # control: the same with a random Dense layer of the same size
    )
    matrix: object = plot_only()


def counts(label, shape, filters, k):
    """Parameters of three layers mapping ``shape`` to the conv's output."""
    h, w, c = shape
    oh, ow = h - k + 1, w - k + 1
    conv = param_count((k, k, c, filters))
    return {
        "label": label,
        "input": list(shape),
        "output": [oh, ow, filters],
        "conv": conv,
        "conv_formula": param_formula((k, k, c, filters)),
        "positions": oh * ow,
        "locally_connected": oh * ow * conv,
        "dense": param_count((h * w * c, oh * ow * filters)),
        "dense_formula": param_formula((h * w * c, oh * ow * filters)),
    }


def conv_as_dense_matrix(layer, shape):
    """The Dense kernel that computes exactly what ``layer`` computes on a flattened input:
    row ``i`` is the layer's (bias-free) response to the basis image with a 1 at pixel ``i``."""
    n = int(np.prod(shape))
    basis = np.eye(n, dtype=np.float32).reshape(n, *shape)
    bias = layer.get_weights()[1]
    return (layer(basis) - bias).reshape(n, -1)


def measure(seed=0, small=(6, 6, 1), filters=2, k=3):
    from .. import keras

    cases = [counts(*case) for case in CASES]
    real = []
    with seeded(seed):
        for _, shape, f, kk in CASES:
            layer = keras.layers.Conv2D(f, kk)
            layer.ensure_built((None, *shape))
            real.append(layer.count_params())
        conv = keras.layers.Conv2D(filters, k, bias_initializer="random_normal")
        conv.ensure_built((None, *small))
        matrix = conv_as_dense_matrix(conv, small)
        dense = keras.layers.Dense(matrix.shape[1])
        dense.ensure_built((None, matrix.shape[0]))
        x = np.random.default_rng(seed).random((8, *small), dtype=np.float32)
    bias = conv.get_weights()[1]
    flat_out = conv(x).reshape(len(x), -1)
    via_dense = x.reshape(len(x), -1) @ matrix + np.tile(
        bias, flat_out.shape[1] // len(bias)
    )
    kernel = conv.get_weights()[0]
    nonzero = matrix[matrix != 0]
    # Translation: move the image one pixel right; compare away from the edges.
    shifted = shift_images(x, 0, 1)
    conv_moved = shift_images(conv(x), 0, 1)[:, :, 1:]
    conv_of_moved = conv(shifted)[:, :, 1:]
    out_shape = conv(x).shape[1:]
    dense_moved = shift_images(
        dense(x.reshape(len(x), -1)).reshape(len(x), *out_shape), 0, 1
    )[:, :, 1:]
    dense_of_moved = dense(shifted.reshape(len(x), -1)).reshape(len(x), *out_shape)[
        :, :, 1:
    ]
    scale = float(np.abs(conv_moved).max())
    return WeightSharingResult(
        cases=cases,
        conv_layer_params=real,
        small_input=list(small),
        small_output=list(out_shape),
        dense_equivalent_residual=float(np.abs(via_dense - flat_out).max()),
        dense_matrix_entries=int(matrix.size),
        dense_matrix_nonzero=int(nonzero.size),
        distinct_nonzero_values=int(len(np.unique(nonzero))),
        reuse_per_weight=int(out_shape[0] * out_shape[1])
        if np.count_nonzero(kernel) == kernel.size
        else 0,
        shift_residual_conv=float(np.abs(conv_of_moved - conv_moved).max()) / scale,
        shift_residual_dense=float(
            np.abs(dense_of_moved - dense_moved).max() / np.abs(dense_moved).max()
        ),
        matrix=matrix,
    )


def plot(r: WeightSharingResult, path):
    fig = new_figure(12, 4.6)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
    ax = axes[0]
    kinds = [
        ("conv", "conv (shared filter)", "tab:green"),
        ("locally_connected", "own filter per position", "tab:orange"),
        ("dense", "Dense (every input to every output)", "tab:red"),
    ]
    positions = np.arange(len(r.cases))
    for i, (key, label, color) in enumerate(kinds):
        values = [c[key] for c in r.cases]
        bars = ax.bar(
            positions + (i - 1) * 0.27, values, 0.27, color=color, label=label
        )
        for bar, v in zip(bars, values):
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                v * 1.3,
                f"{v:,}",
                ha="center",
                fontsize=7,
                rotation=90,
            )
    ax.set_yscale("log")
    ax.set_ylim(10, 3e11)
    ax.set_xticks(
        positions,
        [
            c["label"]
            + "\n"
            + "x".join(map(str, c["input"]))
            + " -> "
            + "x".join(map(str, c["output"]))
            for c in r.cases
        ],
        fontsize=8,
    )
    ax.set_ylabel("trainable parameters")
    ax.legend(fontsize=8, loc="upper left", ncols=3)
    ax.set_title("same input, same output size", fontsize=10)
    m = np.ma.masked_equal(r.matrix, 0)
    vmax = float(np.abs(r.matrix).max())
    axes[1].imshow(
        m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto", interpolation="nearest"
    )
    axes[1].set_facecolor("white")
    axes[1].set_xlabel(f"output unit ({'x'.join(map(str, r.small_output))} flattened)")
    axes[1].set_ylabel(f"input pixel ({'x'.join(map(str, r.small_input))} flattened)")
    axes[1].set_title(
        f"the conv layer as a Dense kernel: {r.dense_matrix_nonzero} of {r.dense_matrix_entries} "
        f"entries non-zero,\nonly {r.distinct_nonzero_values} different values (white = 0)",
        fontsize=10,
    )
    return save_figure(fig, path)


def text(r: WeightSharingResult, lang):
    a = r.cases[0]
    return prose.render(
        "weight-sharing",
        lang,
        r=r,
        a=a,
        so="×".join(map(str, r.small_output)),
        si="×".join(map(str, r.small_input)),
        ratio=a["dense"] / a["conv"],
    )


LESSON = Lesson(
    name="weight-sharing",
    title={
        "ko": "가중치 공유: 합성곱 층 vs 완전연결층",
        "en": "Weight sharing: a convolution layer vs a Dense layer",
    },
    summary={
        "ko": "같은 입력·출력 크기에서 매개변수 320 vs 16,981,120; 합성곱 = 가중치를 공유하는 완전연결층",
        "en": "same input and output size: 320 vs 16,981,120 parameters; a conv layer is a Dense layer with "
        "shared weights",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="001, 002",
)
