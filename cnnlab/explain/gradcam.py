"""Grad-CAM: which part of the input made the model choose a class.

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization" (2017). For a layer with output ``A`` of shape
``(*spatial, C)`` and a class score ``y_c``:

1. ``alpha_k = mean over positions of d y_c / d A[..., k]``: how much channel
   ``k`` matters for the class (one backward pass, the model's own);
2. ``cam = ReLU(sum_k alpha_k * A[..., k])``: where those channels fire;
3. stretched to the input's size (linear interpolation, :mod:`.resize`) and
   divided by its maximum, so the strongest cell is 1 and "no evidence" stays 0.

``y_c`` is the score *before* the last layer's activation (the logit before
softmax), as the paper and the Keras and pytorch-grad-cam recipes use it:
after softmax a class can gain only by the others losing, which blurs the map.
``counterfactual=True`` negates the gradients: where the evidence *against*
the class lies.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np

from .common import (
    ExplainError,
    as_single_batch,
    describe,
    find_layer,
    png_bytes,
    shape_text,
    spatial_rank,
)
from .resize import resize_linear


class GradCAMWarning(UserWarning):
    """Grad-CAM found nothing to show (an all-zero map)."""


@dataclass
class GradCAM:
    """The result of :func:`grad_cam`. ``np.asarray(result)`` is the heatmap.

    ``heatmap``: the map at the input's spatial size, in [0, 1] (float32).
    ``cam``: the map at the layer's resolution, after the ReLU, before scaling.
    ``weights``: ``alpha_k``, one per channel of the layer.
    ``score``: the class score the gradients come from (before softmax).
    ``probabilities``: the model's output for the image.
    ``layer``: the layer's name; inside a nested model, its path (``"base/Conv_1"``).
    ``layer_index``: its index in ``model.layers``; for a layer inside a nested model, the nested model's.
    """

    heatmap: np.ndarray
    cam: np.ndarray
    weights: np.ndarray
    layer: str
    layer_index: int
    class_index: int
    score: float
    probabilities: np.ndarray = field(repr=False)
    counterfactual: bool = False
    # The explained sample, kept so that a notebook can show the overlay (not compared, not printed).
    image: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __repr__(self):
        kind = " counterfactual" if self.counterfactual else ""
        return (
            f"<GradCAM{kind} class {self.class_index} at layer '{self.layer}' (index {self.layer_index}): "
            f"heatmap {shape_text(self.heatmap.shape)}, peak at {self.peak}, score {self.score:.4g}>"
        )

    def _repr_png_(self):
        """In a notebook: the input, the heatmap and the overlay (needs matplotlib)."""
        from .plots import plot_grad_cam

        return png_bytes(
            plot_grad_cam, self.heatmap if self.image is None else self.image, self
        )

    def __array__(self, dtype=None, copy=None):
        return self.heatmap if dtype is None else self.heatmap.astype(dtype)

    @property
    def peak(self):
        """Where the heatmap is largest, as an index into the input's spatial axes."""
        return tuple(
            int(i)
            for i in np.unravel_index(np.argmax(self.heatmap), self.heatmap.shape)
        )


def no_spatial_layer(model, where="grad_cam"):
    """The error for a model with no layer Grad-CAM can use."""
    return ExplainError(
        f"{where}: the model '{model.name}' has no layer with spatial output (height, width, ...) "
        f"before its output layer, so there is nothing to localize. Grad-CAM needs a convolution "
        f"or pooling layer. Received: layers "
        f"{', '.join(f'{layer.name} {layer.output_shape}' for layer in model.layers)}"
    )


def _is_nested_model(layer):
    return hasattr(layer, "layer_outputs") and hasattr(layer, "gradient_at")


def _last_spatial_inside(model):
    """``[(index, layer), ...]`` down to the last layer with spatial output inside ``model``
    (its own nested models searched first, as they come later in the graph), or ``[]``."""
    for i in range(len(model.layers) - 1, 0, -1):  # index 0 is the InputLayer
        candidate = model.layers[i]
        if _is_nested_model(candidate):
            inner = _last_spatial_inside(candidate)
            if inner:
                return [(i, candidate)] + inner
        if spatial_rank(candidate) > 0:
            return [(i, candidate)]
    return []


def _find_nested(model, name):
    """Every path ``[(index, layer), ...]`` to a layer called ``name`` inside the nested models."""
    found = []
    for i, candidate in enumerate(model.layers):
        if _is_nested_model(candidate):
            if name in [layer.name for layer in candidate.layers]:
                found.append([(i, candidate), find_layer(candidate, name, "grad_cam")])
            found += [
                [(i, candidate)] + inner for inner in _find_nested(candidate, name)
            ]
    return found


def gradcam_path(model, layer, where="grad_cam"):
    """``[(index, layer), ...]``: the layer Grad-CAM uses, as the path of indices into
    ``model.layers`` and then into each nested model's layers.

    A pretrained base used as one layer (``base(x, training=False)``, Keras's transfer-learning
    idiom) is looked into: by default Grad-CAM takes the last layer with spatial output inside
    it (the last convolutional block's activation, as Keras's Grad-CAM example does); a layer
    inside it can be named alone (``"Conv_1"``) or by its path (``"mobilenetv2_1.00_96/Conv_1"``).
    """
    if layer is None:
        path = None
        for i in range(len(model.layers) - 2, -1, -1):
            candidate = model.layers[i]
            inner = (
                _last_spatial_inside(candidate) if _is_nested_model(candidate) else []
            )
            if inner or spatial_rank(candidate) > 0:
                path = [(i, candidate)] + inner
                break
        if path is None:
            raise no_spatial_layer(model, where)
    elif isinstance(layer, str) and "/" in layer:
        path, current = [], model
        for part in layer.split("/"):
            if not _is_nested_model(current):
                raise ExplainError(
                    f"{where}: '{current.name}' is not a model, so it has no layer '{part}' inside it. "
                    f"Received: layer={layer!r}"
                )
            path.append(find_layer(current, part, where))
            current = path[-1][1]
    elif isinstance(layer, str) and layer not in [lyr.name for lyr in model.layers]:
        paths = _find_nested(model, layer)
        if len(paths) != 1:
            if not paths:
                find_layer(
                    model, layer, where
                )  # raises: no such layer, listing the model's layers
            names = ", ".join("/".join(layer.name for _, layer in p) for p in paths)
            raise ExplainError(
                f"{where}: more than one nested model has a layer named '{layer}' ({names}); give its "
                f"path. Received: layer={layer!r}"
            )
        path = paths[0]
    else:
        path = [find_layer(model, layer, where)]
    for (_, outer), _inner in itertools.pairwise(path):
        if len(outer.inputs) != 1 or len(outer.outputs) != 1:
            raise ExplainError(
                f"{where}: Grad-CAM looks inside a nested model with one input and one output; "
                f"{describe(outer)} has {len(outer.inputs)} and {len(outer.outputs)}. Choose one of "
                f"the outer model's layers instead. Received: layer={layer!r}"
            )
    found = path[-1][1]
    if spatial_rank(found) == 0:
        usable = [layer.name for layer in model.layers[:-1] if spatial_rank(layer) > 0]
        raise ExplainError(
            f"{where}: layer {describe(found)} has output shape {found.output_shape}: no spatial "
            f"axes, so it cannot show *where* the evidence is. Choose a convolution or pooling "
            f"layer: {', '.join(usable) or '(the model has none)'}. Received: layer={layer!r}"
        )
    if len(path) == 1 and path[0][0] == len(model.layers) - 1:
        raise ExplainError(
            f"{where}: layer {describe(found)} is the model's output layer; Grad-CAM needs a "
            f"layer before the class scores. Received: layer={layer!r}"
        )
    return path


def class_scores_setup(model, probabilities, class_index, where):
    """``(class_index, top_grad_sign, n_out)``: the class to explain and how its score
    is read from the last layer (a single sigmoid unit scores class 1 as ``z`` and
    class 0 as ``-z``)."""
    out_shape = model.layers[-1].output_shape
    if out_shape is None or len(out_shape) != 2:
        raise ExplainError(
            f"{where}: the model must output one score per class, shape (batch, classes). "
            f"Received: output shape {out_shape}"
        )
    n_out = out_shape[-1]
    binary = n_out == 1 and model.layers[-1].activation_name == "sigmoid"
    if class_index is None:
        class_index = (
            int(probabilities[0] >= 0.5) if binary else int(np.argmax(probabilities))
        )
    n_classes = 2 if binary else n_out
    if not (
        isinstance(class_index, (int, np.integer)) and 0 <= class_index < n_classes
    ):
        raise ExplainError(
            f"{where}: class_index must be an integer from 0 to {n_classes - 1} (the model has "
            f"{n_classes} classes). Received: class_index={class_index!r}"
        )
    class_index = int(class_index)
    if binary:
        return class_index, (1.0 if class_index == 1 else -1.0), 0
    return class_index, 1.0, class_index


def grad_cam(model, x, class_index=None, layer=None, counterfactual=False):
    """Grad-CAM heatmap of ``x`` (one image, with or without a batch axis of 1).

    ``class_index``: the class to explain (default: the predicted one).
    ``layer``: a name, index or layer object with spatial output (default: the
    last such layer). Returns a :class:`GradCAM`; ``result.heatmap`` has the
    input's spatial shape and values in [0, 1]. An all-zero map (no channel
    speaks for the class anywhere) comes back as zeros with a
    :class:`GradCAMWarning`, never NaN.
    """
    where = "grad_cam"
    batch = as_single_batch(model, x, where)
    path = gradcam_path(model, layer, where)
    index, target = path[0][0], path[-1][1]
    outputs, caches = model.layer_outputs(batch)
    probabilities = outputs[-1][0]
    class_index, sign, unit = class_scores_setup(
        model, probabilities, class_index, where
    )

    logits = getattr(caches[-1], "z", None)
    logits = outputs[-1] if logits is None else logits
    score = sign * float(logits[0, unit])
    top = np.zeros_like(outputs[-1])
    top[0, unit] = sign
    grads = model.gradient_at(caches, index, top, top_is_logits=True)
    activation, below = outputs[index], outputs.inputs[index]
    for (_, nested), (inner_index, _) in itertools.pairwise(path):
        # Inside a nested model: its own forward from the input the outer graph fed it, then the
        # gradient at its output (just computed) carried down to the inner layer.
        inner_outputs, inner_caches = nested.layer_outputs(below)
        grads = nested.gradient_at(
            inner_caches, inner_index, grads, top_is_logits=False
        )
        activation, below = (
            inner_outputs[inner_index],
            inner_outputs.inputs[inner_index],
        )
    grads = grads[0].astype(np.float64)
    if counterfactual:
        grads = -grads
    activation = activation[0].astype(np.float64)
    spatial_axes = tuple(range(activation.ndim - 1))
    weights = grads.mean(axis=spatial_axes)
    cam = np.maximum(activation @ weights, 0.0)

    input_spatial = batch.shape[1:-1]
    if len(input_spatial) == cam.ndim:
        heatmap = resize_linear(cam, input_spatial)
    else:  # the layer has fewer spatial axes than the input (a Reshape in between): leave it at its size
        heatmap = cam.copy()
    peak = float(heatmap.max()) if heatmap.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        warnings.warn(
            f"grad_cam: the map for class {class_index} at layer {describe(target)} is all zero: no "
            f"channel of that layer speaks {'against' if counterfactual else 'for'} the class anywhere "
            f"in this image (all weighted sums are <= 0). Returning zeros; try another layer or "
            f"class.",
            GradCAMWarning,
            stacklevel=2,
        )
        heatmap = np.zeros_like(heatmap)
        cam = np.where(np.isfinite(cam), cam, 0.0)
    else:
        heatmap = heatmap / peak
    return GradCAM(
        heatmap=heatmap.astype(np.float32),
        cam=cam.astype(np.float32),
        weights=weights.astype(np.float32),
        layer="/".join(lyr.name for _, lyr in path),
        layer_index=index,
        class_index=class_index,
        score=score,
        probabilities=np.array(probabilities),
        counterfactual=bool(counterfactual),
        image=np.array(batch[0]),
    )
