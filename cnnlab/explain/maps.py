"""What a layer holds and what it sees: its filters (weights) and its feature
maps (its output for one image).

Seed 002: the first convolution's filters pick up edges, lines and changes of
brightness; deeper layers combine them into shapes. A feature map shows where
in the image one filter responded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import (
    ExplainError,
    as_single_batch,
    conv_layers,
    describe,
    find_layer,
    is_conv,
    is_pool,
    png_bytes,
    shape_text,
    spatial_rank,
)
from .grids import scale_each, tile


@dataclass
class Filters:
    """The kernels of one convolution layer.

    ``kernel``: the layer's weights as stored, ``(*kernel_size, C_in, filters)``.
    ``images``: one picture per filter. With ``channels="mean"`` (default) each
    filter is averaged over its input channels, ``(filters, *kernel_size)``: for
    the first layer on greyscale images that is the filter itself. With
    ``channels="each"`` every input channel is kept, ``(filters, C_in, *kernel_size)``.
    """

    layer: str
    layer_index: int
    kernel: np.ndarray
    bias: np.ndarray | None
    images: np.ndarray
    channels: str

    def __repr__(self):
        return (
            f"<Filters of layer '{self.layer}' (index {self.layer_index}): kernel {shape_text(self.kernel.shape)}, "
            f"images {shape_text(self.images.shape)}, channels={self.channels!r}>"
        )

    def _repr_png_(self):
        """In a notebook: the filter grid (needs matplotlib)."""
        from .plots import plot_filters

        return png_bytes(plot_filters, self)

    def grid(self):
        """``(grid, ncols)``: the filters tiled into one array, each scaled to [-1, 1]
        by its largest absolute weight (0 stays 0), NaN between tiles. With
        ``channels="each"`` a row per filter, a column per input channel."""
        if self.channels == "each":
            scaled = []
            for f in self.images:  # one scale per filter, shared by its channels
                m = np.abs(f).max()
                scaled.extend(c / m if m > 0 else np.zeros(c.shape) for c in f)
            return tile(scaled, ncols=self.images.shape[1])
        return tile(scale_each(self.images, symmetric=True))


@dataclass
class FeatureMaps:
    """Every channel of one layer's output for one image: ``maps[k]`` is channel
    ``k``'s feature map, shape ``(C, *spatial)`` (channel first, to loop over)."""

    layer: str
    layer_index: int
    maps: np.ndarray

    def __repr__(self):
        return f"<FeatureMaps of layer '{self.layer}' (index {self.layer_index}): maps {shape_text(self.maps.shape)}>"

    def _repr_png_(self):
        """In a notebook: every channel's map, tiled (needs matplotlib)."""
        from .plots import plot_feature_maps

        return png_bytes(plot_feature_maps, self)

    def grid(self):
        """``(grid, ncols)``: every map scaled to [0, 1] on its own, tiled."""
        return tile(scale_each(self.maps))


def _default_conv(model, where):
    convs = conv_layers(model)
    if not convs:
        raise ExplainError(
            f"{where}: the model '{model.name}' has no convolution layer. Received: layers "
            f"{', '.join(describe(layer) for layer in model.layers)}"
        )
    return convs[0]


def filters(model, layer=None, channels="mean"):
    """The filters of a convolution layer (default: the first one), as :class:`Filters`.

    ``channels``: ``"mean"`` averages each filter over its input channels (one
    picture per filter), ``"each"`` keeps one picture per input channel."""
    where = "filters"
    if channels not in ("mean", "each"):
        raise ExplainError(
            f'{where}: channels must be "mean" or "each". Received: channels={channels!r}'
        )
    index, target = (
        _default_conv(model, where)
        if layer is None
        else find_layer(model, layer, where)
    )
    if not is_conv(target):
        names = [layer.name for _, layer in conv_layers(model)]
        raise ExplainError(
            f"{where}: layer {describe(target)} is not a convolution, so it has no filters to "
            f"show. Convolution layers: {', '.join(names) or '(none)'}. Received: layer={layer!r}"
        )
    weights = target.get_weights()
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else None
    per_filter = np.moveaxis(kernel, -1, 0)  # (F, *k, C_in)
    images = (
        per_filter.mean(axis=-1)
        if channels == "mean"
        else np.moveaxis(per_filter, -1, 1)
    )
    return Filters(target.name, index, kernel, bias, images, channels)


def feature_maps(model, x, layer=None):
    """Every channel of a layer's output (default: the first convolution) for
    one image ``x``, as :class:`FeatureMaps`. Any layer with spatial output works
    (convolution, pooling, activation)."""
    where = "feature_maps"
    batch = as_single_batch(model, x, where)
    index, target = (
        _default_conv(model, where)
        if layer is None
        else find_layer(model, layer, where)
    )
    if spatial_rank(target) == 0:
        usable = [layer.name for layer in model.layers if spatial_rank(layer) > 0]
        raise ExplainError(
            f"{where}: layer {describe(target)} has output shape {target.output_shape}: no spatial "
            f"axes, so there are no maps to draw. Layers with feature maps: "
            f"{', '.join(usable) or '(none)'}. Received: layer={layer!r}"
        )
    outputs, _ = model.layer_outputs(batch)
    return FeatureMaps(target.name, index, np.moveaxis(outputs[index][0], -1, 0).copy())


def all_feature_maps(model, x, layers=None):
    """:class:`FeatureMaps` of several layers from one forward pass (default:
    every convolution and pooling layer)."""
    batch = as_single_batch(model, x, "feature_maps")
    chosen = (
        [
            (i, layer)
            for i, layer in enumerate(model.layers)
            if (is_conv(layer) or is_pool(layer)) and spatial_rank(layer) > 0
        ]
        if layers is None
        else [find_layer(model, layer, "feature_maps") for layer in layers]
    )
    outputs, _ = model.layer_outputs(batch)
    return [
        FeatureMaps(layer.name, i, np.moveaxis(outputs[i][0], -1, 0).copy())
        for i, layer in chosen
    ]
