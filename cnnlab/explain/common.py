"""What every explain tool needs: one input image as a batch of one, a layer
found by name / index / object, and what kind of layer it is.

Explain looks at a model only through the model's public face (``layers``,
``layer_outputs``, ``gradient_at``: the same for Sequential and functional
models, see ``cnnlab.model.model``) and each layer's public
attributes (``kernel_size``, ``strides``, ``padding``, ``get_weights()``...).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import CnnlabError, ShapeError

#: Names of the spatial axes, by the number of spatial axes (1D audio, 2D images, 3D video).
AXIS_NAMES = {1: ("steps",), 2: ("height", "width"), 3: ("depth", "height", "width")}
#: The same in Korean, for the report.
AXIS_NAMES_KO = {1: ("길이",), 2: ("높이", "너비"), 3: ("깊이", "높이", "너비")}


class ExplainError(CnnlabError):
    """A model, layer or input that an explain tool cannot work with; the message says why."""


def model_input_shape(model, where):
    """One sample's shape, e.g. ``(28, 28, 1)``; refuses a model that does not know it yet."""
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ExplainError(
            f"{where}: the model '{getattr(model, 'name', model)}' is not built yet, so it has no "
            f"input shape. Build it (keras.Input(shape) as first layer, or call it on data) first."
        )
    return tuple(shape[1:])


def as_single_batch(model, x, where):
    """``x`` as a float32 batch of one sample that fits ``model``.

    Accepts one sample with or without its channel axis (``(H, W)`` for a
    ``(H, W, 1)`` model, ``(H, W, C)``) or a batch of one. A larger batch is
    refused: explain looks at one image at a time.
    """
    expected = model_input_shape(model, where)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ShapeError(
            f"{where}: expects a numeric image. Received: dtype={arr.dtype}"
        )
    shape = arr.shape
    if shape == expected:
        batch = arr[None]
    elif shape + (1,) == expected:
        batch = arr[None, ..., None]
    elif len(shape) == len(expected) + 1 and shape[1:] == expected:
        if shape[0] != 1:
            raise ShapeError(
                f"{where}: explains one image at a time, got a batch of {shape[0]}. "
                f"Pass one sample, e.g. x[0]. Received: x shape={shape}"
            )
        batch = arr
    elif len(shape) == len(expected) and shape[0] == 1 and shape[1:] + (1,) == expected:
        batch = arr[..., None]
    else:
        raise ShapeError(
            f"{where}: the model expects one sample of shape {expected} (or a batch of one, "
            f"(1, {', '.join(map(str, expected))})). Received: x shape={shape}"
        )
    return batch.astype(np.float32, copy=False)


def find_layer(model, layer, where):
    """``(index, layer)`` for ``layer`` given as a name, an index into ``model.layers``
    or a layer object; the error lists the model's layers."""
    layers = model.layers
    names = [layer.name for layer in layers]
    if isinstance(layer, str):
        if layer in names:
            i = names.index(layer)
            return i, layers[i]
        raise ExplainError(
            f"{where}: the model '{model.name}' has no layer named '{layer}'. "
            f"Its layers are: {', '.join(names)}. Received: layer={layer!r}"
        )
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        i = int(layer)
        if -len(layers) <= i < len(layers):
            i %= len(layers)
            return i, layers[i]
        raise ExplainError(
            f"{where}: the model '{model.name}' has {len(layers)} layers (indices 0 to "
            f"{len(layers) - 1}). Received: layer={layer!r}"
        )
    for i, candidate in enumerate(layers):
        if candidate is layer:
            return i, candidate
    raise ExplainError(
        f"{where}: {layer!r} is not a layer of the model '{model.name}'. "
        f"Its layers are: {', '.join(names)}. Received: layer={layer!r}"
    )


def describe(layer):
    return f"'{layer.name}' ({type(layer).__name__})"


def spatial_rank(layer):
    """Spatial axes in the layer's output ``(N, *spatial, C)``: 0 for ``(N, C)``."""
    shape = layer.output_shape
    return 0 if shape is None else max(len(shape) - 2, 0)


def is_conv(layer):
    return all(
        hasattr(layer, a)
        for a in ("kernel_size", "strides", "dilation_rate", "filters")
    )


def is_pool(layer):
    return hasattr(layer, "pool_size") and hasattr(layer, "strides")


def conv_padding(layer):
    """A convolution's padding as its op gets it: Conv1D's ``"causal"`` is explicit zeros before
    each sequence (the layer's ``op_padding``), ``"valid"``/``"same"`` stay as they are."""
    op_padding = getattr(layer, "op_padding", None)
    return op_padding() if callable(op_padding) else layer.padding


def conv_layers(model):
    """``[(index, layer)]`` of the convolution layers."""
    return [(i, layer) for i, layer in enumerate(model.layers) if is_conv(layer)]


def layer_input(x_batch, outputs, index):
    """The input of layer ``index``: what the graph feeds it (``outputs.inputs``, from
    ``layer_outputs``); for a plain list, the model's input or the previous output."""
    inputs = getattr(outputs, "inputs", None)
    if inputs is not None:
        return inputs[index]
    return x_batch if index == 0 else outputs[index - 1]


def shape_text(shape):
    """``(None, 28, 28, 1)``: a shape as the model summary writes it."""
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ")"


def png_bytes(plot, *args):
    """The PNG that ``plot(*args, path)`` draws, as bytes (a notebook's ``_repr_png_``)."""
    import io

    buffer = io.BytesIO()
    plot(*args, buffer)
    return buffer.getvalue()
