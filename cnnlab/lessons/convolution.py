"""Lesson 1, convolution: seed 000's worked example traced, its slip corrected,
convolution vs cross-correlation, and the output size with stride and padding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from ..ops import shapes
from . import prose
from .base import Lesson, Result, annotate_grid, new_figure, save_figure

#: Seed 000's example: a 4x4 input and a vertical-edge filter, stride 1, no padding.
SEED_INPUT = np.array(
    [[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float32
)
SEED_FILTER = np.array([[1, 0, -1]] * 3, dtype=np.float32)
#: What seed 000 writes as the feature map.
SEED_ANSWER = np.array([[3, 1], [2, 0]], dtype=np.float32)

#: (input size d, kernel k, stride s, padding p or "same", where the case comes from)
SIZE_CASES = [
    (4, 3, 1, 0, "seed 000"),
    (5, 3, 1, 0, "seed 002"),
    (5, 3, 1, 1, "seed 002, zero padding 1"),
    (28, 3, 1, 0, "seed 004, Conv2D 3x3"),
    (28, 5, 1, 0, "seed 002, Conv 5x5"),
    (7, 3, 2, 0, "stride 2"),
    (28, 3, 2, "same", 'stride 2, padding="same"'),
]


@dataclass
class ConvolutionResult(Result):
    products: list  # the nine products of the first window, row by row
    first_value: float  # their sum: the first cell of the feature map
    feature_map: list  # cross-correlation, what Conv2D computes
    seed_answer: list
    seed_cells_wrong: int  # how many of the seed's four cells differ
    variants_giving_seed_answer: (
        list  # readings of the example that would give the seed's map (none)
    )
    true_convolution: list  # the kernel flipped (mathematical convolution)
    flip_is_negation: bool  # flipping this filter only changes its sign
    definition_matches_flipped: bool  # the convolution's definition == cross-correlation with the flipped kernel
    symmetric_filter_agrees: bool  # negative control: a 180-degree-symmetric filter gives the same map both ways
    sizes: list  # one row per SIZE_CASES entry
    seed_formula_5x5: (
        list  # seed 002's formula (width divided by 2) for 5x5, 3x3, stride 1
    )
    true_size_5x5: list


def cross_correlation(x, k):
    """What a CNN layer computes (cnnlab's ``conv_forward``): no flip."""
    y, _ = ops.conv_forward(
        np.asarray(x, np.float32)[None, :, :, None],
        np.asarray(k, np.float32)[:, :, None, None],
    )
    return y[0, :, :, 0]


def convolution_by_definition(x, k):
    """The mathematical 2-D convolution, valid part, straight from its definition:
    ``(x * k)[i, j] = sum_m sum_n x[i + K - 1 - m, j + K - 1 - n] * k[m, n]``."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1), dtype=np.float64)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for m in range(kh):
                for n in range(kw):
                    out[i, j] += x[i + kh - 1 - m, j + kw - 1 - n] * k[m, n]
    return out


def size_row(d, k, s, p, where):
    """The output size from ``cnnlab.ops.shapes`` and the size conv_forward really produces."""
    pads = shapes.same_padding(d, k, s) if p == "same" else (p, p)
    arithmetic = shapes.size_arithmetic(d, k, s, 1, *pads)
    formula = shapes.output_size(d, k, s, 1, *pads)
    y, _ = ops.conv_forward(
        np.zeros((1, d, d, 1), np.float32),
        np.zeros((k, k, 1, 1), np.float32),
        strides=s,
        padding=p,
    )
    return {
        "input": d,
        "kernel": k,
        "stride": s,
        "padding": p,
        "pads": list(pads),
        "where": where,
        "arithmetic": arithmetic,
        "formula": formula,
        "actual": int(y.shape[1]),
    }


def measure(seed=0):
    """Everything here is exact arithmetic; ``seed`` is accepted for a uniform interface."""
    x, k = SEED_INPUT, SEED_FILTER
    window = x[:3, :3]
    products = [
        [float(a), float(b), float(a * b)] for a, b in zip(window.ravel(), k.ravel())
    ]
    fmap = cross_correlation(x, k)
    flipped = k[::-1, ::-1]
    true_conv = cross_correlation(x, flipped)
    definition = convolution_by_definition(x.astype(np.float64), k.astype(np.float64))
    variants = {
        "cross-correlation": fmap,
        "convolution (flipped filter)": true_conv,
        "transposed filter": cross_correlation(x, k.T),
        "transposed filter, flipped": cross_correlation(x, k.T[::-1, ::-1]),
        "transposed input": cross_correlation(x.T, k),
    }
    symmetric = np.array(
        [[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32
    )  # the same after a 180-degree turn
    seed_w = [
        (5 - 3) // 1 + 1,
        (5 - 3) // 2 + 1,
    ]  # seed 002: ((d1 - k1)/s) + 1 by ((d2 - k2)/2) + 1
    return ConvolutionResult(
        products=products,
        first_value=float(fmap[0, 0]),
        feature_map=fmap.tolist(),
        seed_answer=SEED_ANSWER.tolist(),
        seed_cells_wrong=int((fmap != SEED_ANSWER).sum()),
        variants_giving_seed_answer=[
            name for name, v in variants.items() if np.array_equal(v, SEED_ANSWER)
        ],
        true_convolution=true_conv.tolist(),
        flip_is_negation=bool(np.array_equal(flipped, -k)),
        definition_matches_flipped=bool(np.allclose(definition, true_conv)),
        symmetric_filter_agrees=bool(
            np.array_equal(
                cross_correlation(x, symmetric),
                convolution_by_definition(x, symmetric).astype(np.float32),
            )
        ),
        sizes=[size_row(*case) for case in SIZE_CASES],
        seed_formula_5x5=seed_w,
        true_size_5x5=[shapes.output_size(5, 3)] * 2,
    )


def plot(r: ConvolutionResult, path):
    from matplotlib.patches import Rectangle

    fig = new_figure(13, 3.2)
    axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": [4, 3, 2, 2, 2]})
    annotate_grid(
        axes[0],
        SEED_INPUT,
        "{:.0f}",
        cmap="Greys",
        vmin=0,
        vmax=4,
        title="input 4x4 (first window)",
    )
    axes[0].add_patch(
        Rectangle((-0.5, -0.5), 3, 3, fill=False, edgecolor="tab:orange", linewidth=3)
    )
    annotate_grid(axes[1], SEED_FILTER, "{:+.0f}", title="filter 3x3")
    annotate_grid(
        axes[2], r.feature_map, "{:+.0f}", vmax=3, title="feature map\n(cnnlab = Keras)"
    )
    annotate_grid(
        axes[3],
        r.seed_answer,
        "{:.0f}",
        cmap="Reds",
        vmin=0,
        vmax=6,
        title="seed 000 wrote\n(wrong)",
    )
    annotate_grid(
        axes[4],
        r.true_convolution,
        "{:+.0f}",
        vmax=3,
        title="true convolution\n(flipped filter)",
    )
    fig.suptitle(
        f"first cell: {_products_text(r)[0]} = {_num(r.first_value)}", fontsize=11
    )
    return save_figure(fig, path)


def _num(v):
    """An integer-valued number with a real minus sign: ``-1.0`` -> ``"−1"``."""
    v = int(round(v))
    return f"−{-v}" if v < 0 else str(v)


def _products_text(r):
    """``"1·1 + 2·0 + 1·(−1) + ..."`` and ``"1 + 0 − 1 + ..."``."""
    terms = " + ".join(
        f"{_num(a)}·{_num(b) if b >= 0 else '(' + _num(b) + ')'}"
        for a, b, _ in r.products
    )
    values = _num(r.products[0][2]) + "".join(
        (" + " if p >= 0 else " − ") + _num(abs(p)) for _, _, p in r.products[1:]
    )
    return terms, values


def _matrix(m):
    return (
        "[" + ", ".join("[" + ", ".join(_num(v) for v in row) + "]" for row in m) + "]"
    )


def _size_rows(r):
    """The rows of the output-size table (its header is in the templates)."""
    rows = []
    for row in r.sizes:
        pad = (
            f'"same" → {tuple(row["pads"])}'
            if row["padding"] == "same"
            else str(row["padding"])
        )
        rows.append(
            [
                row["where"],
                row["input"],
                row["kernel"],
                row["stride"],
                pad,
                f"`{row['arithmetic']}`",
                f"{row['actual']}×{row['actual']}",
            ]
        )
    return rows


def text(r: ConvolutionResult, lang):
    terms, values = _products_text(r)
    return prose.render(
        "convolution",
        lang,
        r=r,
        num=_num,
        terms=terms,
        values=values,
        fm=_matrix(r.feature_map),
        seed=_matrix(r.seed_answer),
        tc=_matrix(r.true_convolution),
        sw=r.seed_formula_5x5,
        tw=r.true_size_5x5,
        size_rows=_size_rows(r),
    )


LESSON = Lesson(
    name="convolution",
    title={
        "ko": "합성곱: seed 000의 예제를 한 칸씩",
        "en": "Convolution: seed 000's example, cell by cell",
    },
    summary={
        "ko": "아홉 개의 곱 → −1, seed의 [[3,1],[2,0]] 바로잡기, 합성곱 vs 교차상관, 스트라이드·패딩과 출력 크기",
        "en": "nine products → −1, the seed's [[3,1],[2,0]] corrected, convolution vs cross-correlation, "
        "output size with stride and padding",
    },
    measure=measure,
    plot=plot,
    text=text,
    seeds="000, 001, 002",
)
