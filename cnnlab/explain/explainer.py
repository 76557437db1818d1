"""The interactive explainer: one self-contained HTML page to click through a model.

For a handful of images (chosen in the page) it shows the network as a row of
layers with their output shapes and parameter formulas (:func:`shape_walk`), every
channel of every convolution and pooling output as a small map, and, for a cell of a
map, the input window it reads, the kernel, the products, their sum, the bias and
the activation (a pooling cell: its window and the winner of the max); the dense
layers and the softmax as bars; Grad-CAM for any class; Korean and English.

Every number on the page is cnnlab's: the layer outputs come from
``model.layer_outputs``, the kernels from ``get_weights()``, Grad-CAM from
:func:`grad_cam` for each class. The page's script only displays them: it multiplies
an exported float32 input window by the exported float32 kernel (in double
precision, as :func:`trace_conv` does, so the products are the same numbers) and adds
them up; the value after the activation is the layer's own output. The browser test
(``tests/faces/test_explainer_browser.py``) checks the displayed products, sums and
pooling winners against :func:`trace_conv` and :func:`trace_pool`.

Arrays travel as base64 of little-endian float32 (Grad-CAM as bytes, 0..255), inside
a ``<script type="application/json">``; markup, style and script are the files
``templates/interactive.*``. No request leaves the page.
"""

from __future__ import annotations

import base64
import json
import os
import string
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import __version__
from ..fonts import css_font_face
from ..layers.conv import Conv
from . import texts as T
from .common import (
    AXIS_NAMES,
    AXIS_NAMES_KO,
    ExplainError,
    as_single_batch,
    conv_padding,
    is_conv,
    is_pool,
    model_input_shape,
    shape_text,
    spatial_rank,
)
from .gradcam import GradCAMWarning, grad_cam
from .report import read_template
from .shapes_walk import shape_walk
from .trace import _LABELS as TRACE_LABELS

#: More images make the page heavier and add nothing to learn from.
MAX_IMAGES = 8
#: Grad-CAM is precomputed for every class up to this many classes (then for the most probable ones).
MAX_CAM_CLASSES = 20
#: A layer with a flat output wider than this is not drawn as bars.
MAX_BARS = 1024
#: A page heavier than this (its arrays, before the font and script) is refused with the reason.
MAX_PAGE_BYTES = 60_000_000
#: The page's file name when ``out`` is a folder.
FILE_NAME = "explainer.html"


@dataclass
class Explainer:
    """What :func:`interactive` wrote."""

    path: str
    size: int  # bytes
    images: int
    predicted: list

    def __repr__(self):
        return (
            f"<Explainer {self.path}: {self.images} image(s), {self.size / 1e6:.2f} MB>"
        )

    def _repr_html_(self):
        from .report import esc

        return (
            f'<p>Interactive explainer <a href="{esc(self.path)}" target="_blank">{esc(self.path)}</a> '
            f"({self.images} image(s), {self.size / 1e6:.2f} MB)</p>"
        )


def _b64(array, dtype):
    return base64.b64encode(
        np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    ).decode("ascii")


def _f32(array):
    """An array for the page: its shape and its float32 values."""
    a = np.asarray(array, dtype=np.float32)
    return {"shape": list(a.shape), "f32": _b64(a, np.float32)}


def _batches(model, images):
    """The images as batches of one; ``images`` is one sample or a sequence of them."""
    expected = model_input_shape(model, "interactive")
    arr = np.asarray(images) if not isinstance(images, (list, tuple)) else None
    if arr is not None and (arr.shape == expected or arr.shape + (1,) == expected):
        samples = [arr]
    else:
        samples = list(images)
    if not samples:
        raise ExplainError("interactive: give at least one image. Received: images=[]")
    if len(samples) > MAX_IMAGES:
        raise ExplainError(
            f"interactive: the page holds at most {MAX_IMAGES} images (each adds every layer's output). "
            f"Pass a handful, e.g. images[:{MAX_IMAGES}]. Received: {len(samples)} images"
        )
    return [as_single_batch(model, s, "interactive") for s in samples]


def _kind_of(layer):
    """How the page shows a layer: ``conv`` (maps and the arithmetic of a cell), ``pool``
    (maps and the window of a cell), ``maps`` (maps only), ``bars`` or ``plain``."""
    rank = spatial_rank(layer)
    if rank > 0 and is_conv(layer):
        # the sliding inner product of trace_conv: Conv1D/2D/3D (and subclasses) without groups
        plain_conv = isinstance(layer, Conv) and layer.groups == 1
        return "conv" if plain_conv else "maps"
    if rank > 0 and hasattr(
        layer, "kernel_size"
    ):  # depthwise, separable, transposed: their maps
        return "maps"
    if rank > 0 and is_pool(layer):
        return "pool"
    shape = layer.output_shape
    if (
        shape is not None
        and len(shape) == 2
        and type(layer).__name__ == "Dense"
        and shape[-1] <= MAX_BARS
    ):
        return "bars"
    return "plain"


def _layer_entry(index, layer, row):
    kind = _kind_of(layer)
    entry = {
        "index": index,
        "name": layer.name,
        "cls": type(layer).__name__,
        "view": kind,
        "out": shape_text(row.output_shape),
        "params": row.params,
        "formula": row.param_formula,
        "arithmetic": row.arithmetic,
        "note": [row.note_ko, row.note],
    }
    if kind == "conv":
        from ..ops import shapes

        weights = layer.get_weights()
        in_spatial = tuple(layer.input_shape[1:-1])
        k, s, d = (
            tuple(layer.kernel_size),
            tuple(layer.strides),
            tuple(layer.dilation_rate),
        )
        entry.update(
            kernel=_f32(weights[0]),
            bias=_f32(weights[1] if len(weights) > 1 else np.zeros(layer.filters)),
            size=list(k),
            strides=list(s),
            dilation=list(d),
            padding=layer.padding,
            pads=[
                list(p)
                for p in shapes.resolve_padding(
                    in_spatial, k, s, d, conv_padding(layer)
                )
            ],
            activation=layer.activation_name,
        )
    elif kind == "pool":
        from ..ops.pool import pool_geometry

        pool, strides, pads, _ = pool_geometry(
            tuple(layer.input_shape),
            layer.pool_size,
            layer.strides,
            layer.padding,
            "interactive",
        )
        entry.update(
            size=list(pool),
            strides=list(strides),
            dilation=[1] * len(pool),
            padding=layer.padding,
            pads=[list(p) for p in pads],
            mode="max" if "Max" in type(layer).__name__ else "average",
        )
    return entry


def _sources(model, outputs, batch):
    """For each layer, the indices of the layers whose outputs it reads (``-1``: the model's input)."""
    found = []
    for i in range(len(model.layers)):
        feeds = (
            outputs.inputs[i] if getattr(outputs, "inputs", None) is not None else None
        )
        feeds = feeds if isinstance(feeds, list) else [feeds]
        row = []
        for f in feeds:
            j = next(
                (j for j in range(len(outputs)) if j != i and outputs[j] is f), None
            )
            # The input layer of a functional model holds the image itself, which travels once.
            is_input = j is None or type(model.layers[j]).__name__ == "InputLayer"
            row.append(-1 if is_input else j)
        found.append(row)
    return found


def _check_size(model, layers, outputs, needed, n_images):
    """Refuse a page too heavy to open (a large network at full resolution), before the work."""
    per_image = sum(outputs[i][0].size for i in needed) + int(
        np.prod(model.input_shape[1:])
    )
    weights = sum(
        np.size(w)
        for e in layers
        if e["view"] == "conv"
        for w in model.layers[e["index"]].get_weights()
    )
    size = (per_image * n_images + weights) * 4 * 4 / 3  # float32 as base64
    if size > MAX_PAGE_BYTES:
        one = (per_image + weights) * 4 * 4 / 3
        fewer = (
            int((MAX_PAGE_BYTES / (4 * 4 / 3) - weights) // per_image)
            if one <= MAX_PAGE_BYTES
            else 0
        )
        hint = (
            f"Pass fewer images (images[:{fewer}])."
            if fewer >= 1
            else "Even one image is too much: explain a smaller model, or use explain.build_report for this one."
        )
        raise ExplainError(
            f"interactive: the page of model '{model.name}' would hold about {size / 1e6:.0f} MB of layer outputs "
            f"and kernels for {n_images} image(s), more than a browser opens comfortably "
            f"({MAX_PAGE_BYTES / 1e6:.0f} MB). {hint} Received: {n_images} image(s) of shape {model.input_shape[1:]}"
        )


def _probabilities(last):
    p = np.ravel(last).astype(np.float64)
    return np.array([1 - p[0], p[0]]) if p.size == 1 else p


def _grad_cams(model, batch, n_classes, probs, layer):
    """Grad-CAM of ``batch`` for each class (all, or the most probable :data:`MAX_CAM_CLASSES`)."""
    classes = (
        range(n_classes)
        if n_classes <= MAX_CAM_CLASSES
        else np.argsort(-probs, kind="stable")[:MAX_CAM_CLASSES]
    )
    maps, zero, name = {}, [], None
    for k in classes:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GradCAMWarning)
            result = grad_cam(model, batch, class_index=int(k), layer=layer)
        name = result.layer
        if any(issubclass(w.category, GradCAMWarning) for w in caught):
            zero.append(int(k))
        heat = np.rint(np.clip(result.heatmap, 0, 1) * 255).astype(np.uint8)
        maps[str(int(k))] = {"shape": list(heat.shape), "u8": _b64(heat, np.uint8)}
    return {"layer": name, "maps": maps, "zero": zero}


def _texts():
    texts = {key: list(pair) for key, pair in T.INTERACTIVE.items()}
    for key in (
        "window",
        "kernel",
        "products",
        "sum",
        "bias",
        "pre",
        "activation",
        "value",
        "channel",
        "filter",
    ):
        texts["t_" + key] = [TRACE_LABELS["ko"][key], TRACE_LABELS["en"][key]]
    for key, pair in T.SECTIONS.items():
        texts["s_" + key] = list(pair)
    texts["how"] = list(T.PREDICTION_HOW)
    texts["class"], texts["probability"] = (list(p) for p in T.PROBABILITY_HEAD)
    texts["footer"] = [t.format(version=__version__) for t in T.FOOTER]
    return texts


def export(
    model: Any,
    images: Any,
    *,
    labels: Sequence[int] | None = None,
    sources: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    layer: str | int | None = None,
) -> dict:
    """The page's data (a JSON-ready dict): the layers, and for each image every
    output the page shows, the prediction and Grad-CAM per class."""
    batches = _batches(model, images)
    walk = shape_walk(model)
    layers = [
        _layer_entry(i, layer, row)
        for i, (layer, row) in enumerate(zip(model.layers, walk))
    ]
    shown = {
        e["index"] for e in layers if e["view"] in ("conv", "pool", "maps", "bars")
    }
    pictures, cam_error = [], None
    for n, batch in enumerate(batches):
        outputs, _ = model.layer_outputs(batch)
        if n == 0:
            feeds = _sources(model, outputs, batch)
            for e in layers:
                e["from"] = feeds[e["index"]]
        # A layer's maps, and what convolutions and poolings read, travel at float32.
        needed = set(shown)
        for e in layers:
            if e["view"] in ("conv", "pool"):
                needed.update(j for j in e["from"] if j >= 0)
        if n == 0:
            _check_size(model, layers, outputs, needed, len(batches))
        probs = _probabilities(outputs[-1][0])
        picture = {
            "x": _f32(batch[0]),
            "outputs": {str(i): _f32(outputs[i][0]) for i in sorted(needed)},
            "probs": [float(p) for p in probs],
            "predicted": int(np.argmax(probs)),
            "label": None if labels is None else int(labels[n]),
            "source": None if sources is None else str(sources[n]),
        }
        if cam_error is None:
            try:
                picture["cam"] = _grad_cams(model, batch, probs.size, probs, layer)
            except ExplainError as e:
                if layer is not None:
                    raise
                cam_error = str(e)
        pictures.append(picture)
    n_classes = len(pictures[0]["probs"])
    names = (
        [str(c) for c in class_names]
        if class_names is not None
        else [str(k) for k in range(n_classes)]
    )
    rank = len(model_input_shape(model, "interactive")) - 1
    return {
        "model": model.name,
        "version": __version__,
        "rank": rank,
        "axes": [list(AXIS_NAMES_KO.get(rank, ())), list(AXIS_NAMES.get(rank, ()))],
        "input": {"shape": shape_text(walk.input_shape)},
        "layers": layers,
        "classes": names,
        "images": pictures,
        "camError": cam_error,
        "texts": _texts(),
        "glossary": [list(g) for g in T.GLOSSARY],
    }


def _json_for_script(data):
    """JSON that can sit inside ``<script>``: no ``</`` can close the element early."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace(
        "</", "<\\/"
    )


def interactive(
    model: Any,
    images: Any,
    out: str | os.PathLike,
    *,
    labels: Sequence[int] | None = None,
    sources: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    layer: str | int | None = None,
) -> Explainer:
    """Write the interactive explainer of ``model`` for ``images`` (one sample or up to
    :data:`MAX_IMAGES` of them) as one self-contained HTML file.

    ``out``: the file (``*.html``) or a folder (the page is ``explainer.html`` in it).
    ``labels``/``sources``: per image, its true class and where it came from (shown).
    ``class_names``: names of the classes; ``layer``: Grad-CAM's layer (default: the last
    with spatial output). Returns an :class:`Explainer` (its path and size in bytes).
    """
    out = os.fspath(out)
    path = (
        out if out.lower().endswith((".html", ".htm")) else os.path.join(out, FILE_NAME)
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = export(
        model,
        images,
        labels=labels,
        sources=sources,
        class_names=class_names,
        layer=layer,
    )
    title = f"{T.INTERACTIVE['title'][0]} · {T.INTERACTIVE['title'][1]} · {model.name}"
    from .report import esc

    page = string.Template(read_template("interactive.html")).substitute(
        title=esc(title),
        style=f"{css_font_face()}\n{read_template('interactive.css')}",
        data=_json_for_script(data),
        script=read_template("interactive.js"),
    )
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)
    return Explainer(
        path=path,
        size=os.path.getsize(path),
        images=len(data["images"]),
        predicted=[p["predicted"] for p in data["images"]],
    )
