"""The shape walk: how each layer turns its input shape into its output shape,
with the layer's own numbers in the seeds' formulas, and where its parameters
come from.

The formulas are :mod:`cnnlab.ops.shapes`' (``size_arithmetic``,
``resolve_padding``, ``param_formula``); nothing is recomputed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..ops import shapes
from .common import AXIS_NAMES, conv_padding, is_conv, is_pool


@dataclass
class LayerShape:
    """One row of the walk."""

    name: str
    kind: str  # the layer's class name
    input_shape: tuple
    output_shape: tuple
    arithmetic: list = field(
        default_factory=list
    )  # "height: floor((28 - 3) / 1) + 1 = 26", ...
    params: int = 0
    param_formula: str = ""  # "3*3*1*32 + 32 = 320", or "" without weights
    note: str = ""  # a sentence in English
    note_ko: str = ""  # the same in Korean


@dataclass
class ShapeWalk:
    """Every layer of a model, in order. Iterate over it, or print it."""

    model: str
    input_shape: tuple
    rows: list

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    @property
    def total_params(self):
        return sum(r.params for r in self.rows)

    def __str__(self):
        lines = [f"Shape walk of '{self.model}': input {_shape(self.input_shape)}"]
        for r in self.rows:
            lines.append(
                f"{r.name} ({r.kind}): {_shape(r.input_shape)} -> {_shape(r.output_shape)}"
            )
            for a in r.arithmetic:
                lines.append(f"    {a}")
            if r.param_formula:
                lines.append(f"    params: {r.param_formula}")
            if r.note:
                lines.append(f"    {r.note}")
        lines.append(f"Trainable and non-trainable parameters: {self.total_params:,}")
        return "\n".join(lines)


def _shape(shape):
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def _window_rows(spatial_in, kernel, strides, dilation, padding):
    pads = shapes.resolve_padding(spatial_in, kernel, strides, dilation, padding)
    names = AXIS_NAMES.get(
        len(spatial_in), tuple(f"axis {i}" for i in range(len(spatial_in)))
    )
    rows = [
        f"{name}: {shapes.size_arithmetic(n, k, s, d, pb, pa)}"
        for name, n, k, s, d, (pb, pa) in zip(
            names, spatial_in, kernel, strides, dilation, pads
        )
    ]
    return rows, pads


def _row(layer):
    in_shape, out_shape = tuple(layer.input_shape), tuple(layer.output_shape)
    kind = type(layer).__name__
    row = LayerShape(layer.name, kind, in_shape, out_shape, params=layer.count_params())
    formula = getattr(layer, "param_formula", None)
    if formula is not None and row.params:
        row.param_formula = formula()
    spatial_in = in_shape[1:-1]
    if is_conv(layer):
        row.arithmetic, pads = _window_rows(
            spatial_in,
            layer.kernel_size,
            layer.strides,
            layer.dilation_rate,
            conv_padding(layer),
        )
        row.arithmetic.append(f"channels: filters = {layer.filters}")
        act = layer.activation_name
        row.note = (
            f"{layer.filters} filters of {'x'.join(map(str, layer.kernel_size))}x{in_shape[-1]} "
            f"(each as deep as the input has channels), padding '{layer.padding}'"
            + (f" {tuple(pads)}" if layer.padding == "same" else "")
            + f", activation {act}."
        )
        row.note_ko = (
            f"{'x'.join(map(str, layer.kernel_size))}x{in_shape[-1]} 크기의 필터 {layer.filters}개 "
            f"(필터의 깊이는 입력 채널 수와 같습니다), 패딩 '{layer.padding}'"
            + (f" {tuple(pads)}" if layer.padding == "same" else "")
            + f", 활성화 함수 {act}."
        )
    elif is_pool(layer):
        ones = (1,) * len(spatial_in)
        row.arithmetic, _ = _window_rows(
            spatial_in, layer.pool_size, layer.strides, ones, layer.padding
        )
        row.arithmetic.append(f"channels: unchanged = {out_shape[-1]}")
        mode = "max" if "Max" in kind else "average"
        window = "x".join(map(str, layer.pool_size))
        row.note = f"{mode} of each {window} window, stride {tuple(layer.strides)}; no weights to learn."
        row.note_ko = (
            f"{window} 창마다 {'최댓값' if mode == 'max' else '평균'}을 고릅니다"
            f"(스트라이드 {tuple(layer.strides)}). 학습할 가중치는 없습니다."
        )
    elif kind.startswith("Global"):
        mode = "max" if "Max" in kind else "mean"
        positions = "x".join(map(str, spatial_in))
        row.arithmetic = [
            f"{mode} over {positions} positions, one value per channel = {out_shape[-1]}"
        ]
        row.note = "Global pooling keeps one number per channel."
        row.note_ko = "채널마다 숫자 하나만 남깁니다(전역 풀링)."
    elif kind == "Flatten":
        row.arithmetic = [
            f"{' * '.join(map(str, in_shape[1:]))} = {math.prod(in_shape[1:]):,}"
        ]
        row.note = (
            "Flattened row by row over (height, width, channels), as Keras does; seed 002 reads the "
            "matrix column by column instead, so weights from one order do not fit the other."
        )
        row.note_ko = (
            "Keras처럼 (높이, 너비, 채널) 순서로 한 행씩 펼칩니다. 시드 002는 열 단위로 펼치므로, "
            "두 순서의 가중치는 서로 맞지 않습니다."
        )
    elif kind == "Dense":
        row.arithmetic = [f"units = {layer.units}"]
        row.note = (
            f"Every one of the {in_shape[-1]:,} inputs connects to each of the {layer.units} units, "
            f"plus one bias per unit; activation {layer.activation_name}."
        )
        row.note_ko = (
            f"입력 {in_shape[-1]:,}개가 출력 {layer.units}개 모두에 연결되고, 출력마다 편향이 "
            f"하나씩 있습니다. 활성화 함수 {layer.activation_name}."
        )
    elif kind == "Dropout":
        row.note = f"Drops {layer.rate:.0%} of the values while training only; the shape does not change."
        row.note_ko = (
            f"학습할 때만 값의 {layer.rate:.0%}를 0으로 만듭니다. 모양은 그대로입니다."
        )
    elif in_shape == out_shape:
        row.note = "The shape does not change."
        row.note_ko = "모양은 그대로입니다."
    return row


def shape_walk(model):
    """Each layer of ``model``: input and output shape, the output-size arithmetic
    with the layer's numbers, and the parameter formula. Returns a :class:`ShapeWalk`."""
    from .common import model_input_shape

    input_shape = (None, *model_input_shape(model, "shape_walk"))
    return ShapeWalk(model.name, input_shape, [_row(layer) for layer in model.layers])
