"""Lesson 1, convolution: seed 000's worked example traced, its slip corrected,
convolution vs cross-correlation, and the output size with stride and padding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ops
from ..ops import shapes
from .base import Lesson, Result, annotate_grid, markdown_table, new_figure, save_figure

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


def _size_table(r, lang):
    head = (
        [
            "경우",
            "입력 d",
            "필터 k",
            "스트라이드 s",
            "패딩 p",
            "계산",
            "conv_forward 출력",
        ]
        if lang == "ko"
        else [
            "case",
            "input d",
            "filter k",
            "stride s",
            "padding p",
            "arithmetic",
            "conv_forward output",
        ]
    )
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
    return markdown_table(head, rows)


def text(r: ConvolutionResult, lang):
    terms, values = _products_text(r)
    fm, seed, tc = (
        _matrix(r.feature_map),
        _matrix(r.seed_answer),
        _matrix(r.true_convolution),
    )
    sw, tw = r.seed_formula_5x5, r.true_size_5x5
    if lang == "ko":
        return f"""\
seed 000은 4×4 입력에 세로 경계를 찾는 3×3 필터(각 행이 [1, 0, −1])를 스트라이드 1, 패딩 없이 적용하는 예를 듭니다.
합성곱의 한 걸음은 필터를 입력 위에 겹쳐 놓고, 겹친 아홉 칸을 서로 곱한 뒤 모두 더하는 것입니다.
왼쪽 위 첫 위치에서 계산하면 다음과 같습니다.

{terms}
= {values} = **{_num(r.first_value)}**

seed에 적힌 식 자체는 이와 똑같은데, 합을 3으로 적었습니다. 필터를 한 칸씩 옮기며 나머지 세 위치도 계산하면
특징 맵은 **{fm}** 입니다. seed가 적은 답 {seed}에서는 네 칸 중 {r.seed_cells_wrong}칸이 틀렸습니다.
필터를 뒤집거나 전치해서 다시 계산해 보아도 seed의 답이 나오는 경우는 {"없습니다" if not r.variants_giving_seed_answer else ", ".join(r.variants_giving_seed_answer)}.
단순한 덧셈 실수로 보는 것이 맞습니다.

**합성곱인가, 교차상관인가.** 수학에서 말하는 합성곱(convolution)은 필터를 상하좌우로 뒤집은 다음 곱해서 더합니다.
CNN의 합성곱 층이 실제로 하는 계산은 필터를 뒤집지 않고 그대로 겹치는 교차상관(cross-correlation)이며,
Keras, PyTorch, cnnlab 모두 이 관례를 따릅니다. 이 예의 필터는 뒤집으면 부호만 바뀌므로
{"(확인: 뒤집은 필터 = −필터) " if r.flip_is_negation else ""}진짜 합성곱의 결과는 부호가 모두 반대인 {tc}입니다.
정의대로 이중 합을 직접 계산한 값도 {"이와 일치합니다" if r.definition_matches_flipped else "이와 다릅니다"}.
그렇다고 걱정할 일은 아닙니다. 필터의 값은 학습으로 정해지므로, 어느 쪽으로 정의하든 네트워크는
뒤집힌 필터를 배울 뿐 표현할 수 있는 것은 똑같습니다. 180° 돌려도 모양이 같은 대칭 필터라면 두 계산이
{"완전히 같은 특징 맵을 줍니다" if r.symmetric_filter_agrees else "서로 다른 결과를 줍니다"}(대조 실험).

**출력 크기: 스트라이드와 패딩.** 한 변의 출력 크기는 ⌊(d − k + 2p) / s⌋ + 1 입니다.
seed 002의 식은 가로 방향을 s가 아니라 2로 나누는 오타가 있습니다. 5×5 입력에 3×3 필터(스트라이드 1)를 적용하면
그 식으로는 {sw[0]}×{sw[1]}, 실제 출력은 {tw[0]}×{tw[1]}입니다. 아래 표의 계산은 cnnlab이 층을 만들 때 쓰는 바로 그 함수
(`cnnlab.ops.shapes`)의 결과이고, 마지막 열은 `conv_forward`가 실제로 만든 특징 맵의 크기입니다.
`padding="same"`은 출력이 ⌈d / s⌉가 되도록 0을 채우며, 채울 양이 홀수이면 TensorFlow처럼 뒤쪽에 한 칸 더 채웁니다.

{_size_table(r, lang)}
"""
    return f"""\
Seed 000 applies a 3×3 vertical-edge filter (every row [1, 0, −1]) to a 4×4 input with stride 1 and no padding.
One step of a convolution lays the filter over the input, multiplies the nine overlapping cells pairwise and adds
the products up. At the top-left position:

{terms}
= {values} = **{_num(r.first_value)}**

The seed writes exactly this sum and then gives its value as 3. Sliding the filter over the other three positions
gives the feature map **{fm}**; the seed's {seed} has {r.seed_cells_wrong} of its four cells wrong. Flipping or
transposing the filter does not produce the seed's answer either (readings that would: \
{", ".join(r.variants_giving_seed_answer) or "none"}), so it is an arithmetic slip.

**Convolution or cross-correlation?** The mathematical convolution flips the filter (up-down and left-right)
before multiplying and adding. What a CNN's convolution layer computes is the cross-correlation, with the filter as
it is; Keras, PyTorch and cnnlab all follow that convention. This filter only changes sign when flipped
{"(checked: flipped filter = −filter) " if r.flip_is_negation else ""}so the true convolution is {tc}, every sign
reversed; the double sum computed straight from the definition {"agrees" if r.definition_matches_flipped else "disagrees"}.
Nothing is lost either way: the filter is learned, so a network trained with one convention simply learns the
flipped filter. A filter that looks the same after a 180° turn gives
{"identical feature maps both ways" if r.symmetric_filter_agrees else "different maps"} (the control).

**Output size: stride and padding.** Along each side the output has ⌊(d − k + 2p) / s⌋ + 1 cells. Seed 002's
formula divides the width by 2 where it means s: for a 5×5 input and a 3×3 filter at stride 1 it gives
{sw[0]}×{sw[1]}, while the output is {tw[0]}×{tw[1]}. The arithmetic below is what cnnlab itself uses to build layers
(`cnnlab.ops.shapes`), and the last column is the size of the feature map `conv_forward` actually produced.
`padding="same"` pads with zeros so that the output has ⌈d / s⌉ cells; an odd amount of padding puts the extra
cell after, as TensorFlow does.

{_size_table(r, lang)}
"""


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
