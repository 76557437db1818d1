"""One convolution, step by step: the window, the kernel, the products, the sum.

Seeds 000-002 teach the convolution as a filter sliding over the input: at one
output position, multiply the window under the filter cell by cell, add the
products, add the bias, apply the activation. :func:`trace_conv` does exactly
that for one position and one filter of a real layer, and checks the result
against what the layer itself computed. Padding, stride and dilation come from
:mod:`cnnlab.ops.shapes` (the same rules the layer uses).

Seed 000 (4x4 input, filter rows ``[1, 0, -1]``, no padding): at (0, 0) the
nine products are ``1, 0, -1, 0, 0, -3, 2, 0, 0`` and their sum is -1.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import numpy as np

from ..ops import activations as act_ops
from ..ops import shapes
from .common import (
    AXIS_NAMES,
    ExplainError,
    as_single_batch,
    conv_layers,
    conv_padding,
    describe,
    find_layer,
    is_conv,
    layer_input,
)

#: Above this many products, the text lists the first ones and says how many more there are.
MAX_LISTED_PRODUCTS = 27

_LABELS = {
    "en": {
        "title": "Convolution trace",
        "layer": "layer",
        "filter": "filter",
        "position": "output position",
        "setup": "stride {s}, padding '{p}' -> zero padding (before, after) {pads}, dilation {d}",
        "size": "output size",
        "window": "input window",
        "padded": "(· = zero padding)",
        "kernel": "kernel (weights of filter {f})",
        "channel": "channel",
        "products": "products, cell by cell (input x weight)",
        "sum": "sum of the {n} products",
        "more": "... {n} more products",
        "bias": "bias",
        "pre": "sum + bias",
        "activation": "activation",
        "value": "feature map value",
        "match": "matches the layer's output",
        "mismatch": "DOES NOT match the layer's output",
    },
    "ko": {
        "title": "합성곱 추적",
        "layer": "층",
        "filter": "필터",
        "position": "출력 위치",
        "setup": "스트라이드 {s}, 패딩 '{p}' -> 0으로 채운 칸 (앞, 뒤) {pads}, 팽창(dilation) {d}",
        "size": "출력 크기",
        "window": "입력 창(필터가 덮는 부분)",
        "padded": "(· = 패딩으로 채운 0)",
        "kernel": "커널 (필터 {f}의 가중치)",
        "channel": "채널",
        "products": "칸별 곱 (입력 x 가중치)",
        "sum": "곱 {n}개의 합",
        "more": "... 곱 {n}개 더",
        "bias": "편향",
        "pre": "합 + 편향",
        "activation": "활성화 함수",
        "value": "특징 맵의 값",
        "match": "층의 실제 출력과 일치",
        "mismatch": "층의 실제 출력과 다름",
    },
}


def fmt(value):
    """A number as a learner writes it: ``-1`` rather than ``-1.0``, 4 significant digits otherwise."""
    v = float(value)
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e7:
        return str(int(v))
    return f"{v:.4g}"


@dataclass
class ConvTrace:
    """What :func:`trace_conv` found. Arrays have the kernel's layout ``(*kernel_size, C_in)``."""

    layer: str
    layer_class: str
    position: tuple
    filter: int
    window: (
        np.ndarray
    )  # input values under the kernel (0 where the kernel lies on padding)
    padded: np.ndarray  # (*kernel_size,) True where the cell lies in the zero padding
    input_coords: (
        tuple  # per axis, the input coordinate of each kernel cell (may be outside)
    )
    kernel: np.ndarray  # the filter's weights
    products: np.ndarray  # window * kernel
    total: float  # the sum of the products
    bias: float
    pre_activation: float  # total + bias
    activation: str
    value: float  # activation(pre_activation), computed here
    feature_map_value: float  # what the layer computed at (position, filter)
    strides: tuple
    padding: str
    pads: tuple
    dilation: tuple
    size_arithmetic: (
        tuple  # the output-size formula per spatial axis, with this layer's numbers
    )
    input_shape: tuple = field(default=())
    output_shape: tuple = field(default=())

    @property
    def matches(self):
        """True when the step-by-step value equals the layer's own output (float32 rounding allowed)."""
        return abs(self.value - self.feature_map_value) <= 1e-4 * max(
            1.0, abs(self.feature_map_value)
        )

    @property
    def rank(self):
        return len(self.position)

    def text(self, lang="en"):
        """The trace as text, in English (``"en"``) or Korean (``"ko"``)."""
        t = _LABELS[lang]
        names = AXIS_NAMES[self.rank]
        out = [
            f"{t['title']}: {t['layer']} '{self.layer}' ({self.layer_class}), {t['filter']} {self.filter}, "
            f"{t['position']} {_tuple(self.position)}",
            t["setup"].format(
                s=_tuple(self.strides),
                p=self.padding,
                pads=_tuple(self.pads),
                d=_tuple(self.dilation),
            ),
        ]
        for name, arithmetic in zip(names, self.size_arithmetic):
            out.append(f"{t['size']} ({name}): {arithmetic}")
        ranges = ", ".join(
            f"{name} {_span(c)}" for name, c in zip(names, self.input_coords)
        )
        channels = self.window.shape[-1]
        out.append(
            f"{t['window']} ({ranges}) {t['padded'] if self.padded.any() else ''}".rstrip()
        )
        for c in range(channels):
            if channels > 1:
                out.append(f"  {t['channel']} {c}:")
            out.extend(_grid(self.window[..., c], self.padded))
        out.append(t["kernel"].format(f=self.filter) + ":")
        for c in range(channels):
            if channels > 1:
                out.append(f"  {t['channel']} {c}:")
            out.extend(_grid(self.kernel[..., c]))
        out.append(t["products"] + ":")
        cells = list(
            itertools.product(
                *(range(k) for k in self.kernel.shape[:-1]), range(channels)
            )
        )
        terms = []
        for n, cell in enumerate(cells):
            term = fmt(self.products[cell])
            terms.append(term if not term.startswith("-") else f"({term})")
            if n < MAX_LISTED_PRODUCTS:
                where = _tuple(cell[:-1]) + (f" c{cell[-1]}" if channels > 1 else "")
                out.append(
                    f"  {where}: {fmt(self.window[cell])} x {fmt(self.kernel[cell])} = {fmt(self.products[cell])}"
                )
        if len(cells) > MAX_LISTED_PRODUCTS:
            out.append("  " + t["more"].format(n=len(cells) - MAX_LISTED_PRODUCTS))
        sum_text = " + ".join(terms) if len(terms) <= MAX_LISTED_PRODUCTS else "..."
        out.append(f"{t['sum'].format(n=len(cells))}: {sum_text} = {fmt(self.total)}")
        out.append(
            f"{t['bias']}: {fmt(self.bias)}; {t['pre']} = {fmt(self.total)} + ({fmt(self.bias)}) = "
            f"{fmt(self.pre_activation)}"
        )
        out.append(f"{t['activation']} {self.activation}: {fmt(self.value)}")
        verdict = t["match"] if self.matches else t["mismatch"]
        out.append(
            f"{t['value']} {_tuple(self.position)}, {t['filter']} {self.filter}: "
            f"{fmt(self.feature_map_value)} ({verdict})"
        )
        return "\n".join(out)

    def __str__(self):
        return self.text("en")


def _tuple(values):
    return "(" + ", ".join(str(v) for v in values) + ")"


def _span(coords):
    coords = list(coords)
    return f"{coords[0]}..{coords[-1]}" if len(coords) > 1 else str(coords[0])


def _grid(values, padded=None):
    """A 1-D or 2-D array as aligned rows; 3-D as one block per depth slice."""
    if values.ndim == 1:
        values = values[None]
        padded = None if padded is None else padded[None]
    if values.ndim == 3:
        lines = []
        for d in range(values.shape[0]):
            lines.append(f"    [depth {d}]")
            lines.extend(_grid(values[d], None if padded is None else padded[d]))
        return lines
    cells = [
        [
            "·" if padded is not None and padded[i, j] else fmt(values[i, j])
            for j in range(values.shape[1])
        ]
        for i in range(values.shape[0])
    ]
    width = max(len(c) for row in cells for c in row)
    return ["    " + " ".join(c.rjust(width) for c in row) for row in cells]


def input_window(x_in, position, kernel, strides, dilation, pads, fill=0.0):
    """The cells of ``x_in (*spatial, C)`` that a window of ``kernel`` cells reads at output
    ``position``: ``(window (*kernel, C) float64, padded (*kernel,) bool, coords)``. ``coords``
    holds, per axis, the input coordinate of each window cell (start + offset * dilation;
    outside the input where the window lies on padding, whose cells get ``fill``: 0 for a
    convolution, -inf for max pooling)."""
    in_spatial = x_in.shape[:-1]
    coords = tuple(
        p * st - pb + np.arange(kk) * dd
        for p, st, (pb, _), kk, dd in zip(position, strides, pads, kernel, dilation)
    )
    inside = [(c >= 0) & (c < n) for c, n in zip(coords, in_spatial)]
    along = [
        m.reshape([-1 if a == b else 1 for b in range(len(kernel))])
        for a, m in enumerate(inside)
    ]
    padded = ~np.broadcast_to(functools.reduce(np.logical_and, along), tuple(kernel))
    clipped = [np.clip(c, 0, n - 1) for c, n in zip(coords, in_spatial)]
    window = np.asarray(x_in, dtype=np.float64)[np.ix_(*clipped)]  # (*kernel, C)
    window[padded] = fill
    return window, padded, coords


def _position(position, out_spatial, layer):
    if isinstance(position, (int, np.integer)):
        position = (int(position),)
    try:
        position = tuple(int(p) for p in position)
    except TypeError:
        raise ExplainError(
            f"trace_conv: position must be a tuple of {len(out_spatial)} integers. "
            f"Received: position={position!r}"
        ) from None
    if len(position) != len(out_spatial) or not all(
        0 <= p < n for p, n in zip(position, out_spatial)
    ):
        axes = ", ".join(
            f"{name} 0..{n - 1}"
            for name, n in zip(AXIS_NAMES[len(out_spatial)], out_spatial)
        )
        raise ExplainError(
            f"trace_conv: position {position} is outside the output of layer {describe(layer)}, "
            f"whose feature maps are {tuple(out_spatial)} ({axes}). Received: position={position!r}"
        )
    return position


def trace_conv(model, x, layer=None, position=None, filter=0):
    """Trace the convolution of ``layer`` (name, index or object; default the first
    convolution) at output ``position`` (one index per spatial axis; default the
    centre) for ``filter``, on the image ``x``. Returns a :class:`ConvTrace`; print it."""
    where = "trace_conv"
    batch = as_single_batch(model, x, where)
    if layer is None:
        convs = conv_layers(model)
        if not convs:
            raise ExplainError(
                f"{where}: the model '{model.name}' has no convolution layer to trace."
            )
        index, target = convs[0]
    else:
        index, target = find_layer(model, layer, where)
    if not is_conv(target):
        names = [layer.name for _, layer in conv_layers(model)]
        raise ExplainError(
            f"{where}: layer {describe(target)} is not a convolution, so there is no filter "
            f"sliding over it to trace. Convolution layers: {', '.join(names) or '(none)'}. "
            f"Received: layer={layer!r}"
        )
    outputs, _ = model.layer_outputs(batch)
    x_in = layer_input(batch, outputs, index)[0]
    y = outputs[index][0]
    out_spatial = y.shape[:-1]
    if position is None:
        position = tuple(n // 2 for n in out_spatial)
    position = _position(position, out_spatial, target)
    if not (isinstance(filter, (int, np.integer)) and 0 <= filter < target.filters):
        raise ExplainError(
            f"{where}: layer {describe(target)} has {target.filters} filters (0 to "
            f"{target.filters - 1}). Received: filter={filter!r}"
        )
    filter = int(filter)

    weights = target.get_weights()
    kernel_all = np.asarray(weights[0], dtype=np.float64)  # (*k, C_in, filters)
    bias_all = (
        np.asarray(weights[1], dtype=np.float64)
        if len(weights) > 1
        else np.zeros(kernel_all.shape[-1])
    )
    in_spatial = x_in.shape[:-1]
    k, s, d = (
        tuple(target.kernel_size),
        tuple(target.strides),
        tuple(target.dilation_rate),
    )
    pads = shapes.resolve_padding(in_spatial, k, s, d, conv_padding(target))
    expected_out = shapes.output_shape(in_spatial, k, s, d, pads, where)
    if tuple(expected_out) != tuple(out_spatial):
        raise ExplainError(
            f"{where}: layer {describe(target)} produced feature maps {tuple(out_spatial)} but "
            f"the output-size formula gives {tuple(expected_out)}."
        )

    window, padded, coords = input_window(x_in, position, k, s, d, pads)

    kernel = kernel_all[..., filter]
    products = window * kernel
    total = float(products.sum())
    # Every filter's sum at this position, so that an activation across filters (softmax) is exact too.
    pre_all = np.tensordot(window, kernel_all, axes=window.ndim) + bias_all
    act_forward, _ = act_ops.get(target.activation_name)
    value = float(np.asarray(act_forward(pre_all))[filter])
    return ConvTrace(
        layer=target.name,
        layer_class=type(target).__name__,
        position=position,
        filter=filter,
        window=window,
        padded=padded,
        input_coords=tuple(c.tolist() for c in coords),
        kernel=kernel,
        products=products,
        total=total,
        bias=float(bias_all[filter]),
        pre_activation=float(pre_all[filter]),
        activation=target.activation_name,
        value=value,
        feature_map_value=float(y[(*position, filter)]),
        strides=s,
        padding=target.padding,
        pads=pads,
        dilation=d,
        size_arithmetic=tuple(
            shapes.size_arithmetic(n, kk, st, dd, pb, pa)
            for n, kk, st, dd, (pb, pa) in zip(in_spatial, k, s, d, pads)
        ),
        input_shape=tuple(x_in.shape),
        output_shape=tuple(y.shape),
    )


def strongest_position(model, x, layer=None):
    """``(layer_index, position, filter)`` where the (first) convolution responds most
    strongly to ``x``: a good place to show a trace."""
    batch = as_single_batch(model, x, "trace_conv")
    convs = conv_layers(model)
    if not convs:
        raise ExplainError(
            f"trace_conv: the model '{model.name}' has no convolution layer to trace."
        )
    index, _ = convs[0] if layer is None else find_layer(model, layer, "trace_conv")
    outputs, _ = model.layer_outputs(batch)
    y = outputs[index][0]
    flat = int(np.argmax(y))
    *position, filter_index = np.unravel_index(flat, y.shape)
    return index, tuple(int(p) for p in position), int(filter_index)


__all__ = [
    "ConvTrace",
    "trace_conv",
    "strongest_position",
    "fmt",
    "input_window",
    "MAX_LISTED_PRODUCTS",
]
