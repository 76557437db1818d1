"""The explain report: PNG files and one self-contained ``report.html``.

The page holds the prediction with its probabilities, Grad-CAM, the shape walk,
the filters of every convolution, the feature maps of every convolution and
pooling layer, one convolution traced step by step, and (when test data and a
training history are given) a confusion matrix, misclassified examples and the
training curves. Every picture is inlined as a ``data:`` URI, and so is the Korean
font (:mod:`cnnlab.fonts`: the Hangul of cnnlab's texts, so Korean reads on a machine
without Korean fonts); there is no script, no external style sheet or network request,
so the file opens anywhere, offline. Every piece of text goes through ``html.escape``. The layout is one
column of at most 60 rem that shrinks to a phone's width (viewport meta,
images scale, wide tables and formulas scroll inside their own box).
"""

from __future__ import annotations

import base64
import html
import os
import string
import struct
import warnings
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .. import __version__
from ..fonts import css_font_face
from . import texts as T
from .common import (
    ExplainError,
    as_single_batch,
    conv_layers,
    is_conv,
    is_pool,
    shape_text,
    spatial_rank,
)
from .gradcam import GradCAMWarning, grad_cam
from .maps import all_feature_maps, filters
from .shapes_walk import shape_walk
from .trace import fmt, strongest_position, trace_conv


def read_template(name):
    """A file of :mod:`cnnlab.explain.templates` (the page's markup and style, kept out of the code)."""
    return (
        resources.files(__package__)
        .joinpath("templates", name)
        .read_text(encoding="utf-8")
    )


#: The page's style sheet (``templates/report.css``).
CSS = read_template("report.css")


@dataclass
class Report:
    """What :func:`build_report` wrote and found."""

    html_path: str
    files: list
    predicted: int
    probabilities: np.ndarray
    gradcam: object = None
    trace: object = None
    test_accuracy: float | None = None
    notes: list = field(default_factory=list)

    def summary(self):
        """One line: the predicted class, how sure, what was written."""
        p = (
            float(np.ravel(self.probabilities)[self.predicted])
            if np.size(self.probabilities) > 1
            else None
        )
        return (
            f"predicted class {self.predicted}"
            + (f" (p = {p:.1%})" if p is not None else "")
            + (
                f", test accuracy {self.test_accuracy:.4f}"
                if self.test_accuracy is not None
                else ""
            )
            + f", {len(self.files)} file(s)"
        )

    def __repr__(self):
        # Short on purpose: the arrays and the Grad-CAM/trace results are attributes, not the printout.
        return f"<Report {self.html_path}: {self.summary()}>"

    def _repr_html_(self):
        """In a notebook: a link to the page and its Grad-CAM picture (the page itself is large)."""
        picture = next(
            (f for f in self.files if os.path.basename(f) == "grad_cam.png"), None
        )
        return (
            f'<p>Report <a href="{esc(self.html_path)}" target="_blank">{esc(self.html_path)}</a>: '
            f"{esc(self.summary())}</p>"
            + (image_tag(picture, "Grad-CAM") if picture else "")
        )


# --------------------------------------------------------------------------- HTML pieces


def esc(value):
    return html.escape(str(value), quote=True)


def fill(template, **values):
    """Escape ``template`` and the values, then fill the placeholders in."""
    return esc(template).format(**{k: esc(v) for k, v in values.items()})


def bilingual(pair, tag="p", **values):
    ko, en = pair
    return (
        f'<{tag} lang="ko">{fill(ko, **values)}</{tag}>\n'
        f'<{tag} lang="en" class="en">{fill(en, **values)}</{tag}>\n'
    )


def heading(pair, anchor, level=2):
    ko, en = pair
    return (
        f'<h{level} id="{esc(anchor)}"><span lang="ko">{esc(ko)}</span> '
        f'<span lang="en" class="en">· {esc(en)}</span></h{level}>\n'
    )


def both(pair, separator=" "):
    """A short label in both languages, for table heads and captions."""
    return f'<span lang="ko">{esc(pair[0])}</span>{separator}<span lang="en" class="en">{esc(pair[1])}</span>'


def png_size(data):
    """Width and height from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def image_tag(path, alt):
    with open(path, "rb") as f:
        data = f.read()
    width, height = png_size(data)
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    return f'<img src="{uri}" alt="{esc(alt)}" width="{width}" height="{height}">'


def figure(path, alt, caption=None):
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{image_tag(path, alt)}{cap}</figure>\n"


def grid_table(values, padded=None, caption=""):
    """A 1-D or 2-D array as an HTML table of numbers (padding cells marked)."""
    a = np.asarray(values)
    if a.ndim == 1:
        a = a[None]
        padded = None if padded is None else np.asarray(padded)[None]
    rows = []
    for i in range(a.shape[0]):
        cells = []
        for j in range(a.shape[1]):
            if padded is not None and padded[i, j]:
                cells.append('<td class="pad" title="padding">0</td>')
            else:
                cells.append(f"<td>{esc(fmt(a[i, j]))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table class="grid"><caption>{caption}</caption>'
        + "".join(rows)
        + "</table></div>"
    )


def _size_text(shape):
    return "x".join(str(s) for s in shape)


# --------------------------------------------------------------------------- sections


def _prediction_section(probabilities, predicted, label, class_names):
    name = (lambda k: str(class_names[k])) if class_names is not None else str
    probs = np.ravel(probabilities).astype(np.float64)
    binary = probs.size == 1
    if binary:
        probs = np.array([1 - probs[0], probs[0]])
    out = [
        heading(T.SECTIONS["prediction"], "prediction"),
        bilingual(
            T.PREDICTION,
            predicted=name(predicted),
            probability=f"{probs[predicted]:.1%}",
        ),
    ]
    if label is not None:
        out.append(bilingual(T.PREDICTION_LABEL, label=name(int(label))))
    out.append(bilingual(T.PREDICTION_HOW))
    order = (
        np.argsort(-probs, kind="stable")[:10] if probs.size > 20 else range(probs.size)
    )
    rows = []
    for k in order:
        cls = ' class="top"' if k == predicted else ""
        rows.append(
            f'<tr{cls}><td>{esc(name(k))}</td><td class="num">{probs[k]:.2%}</td>'
            f'<td><span class="bar" style="width:{max(probs[k] * 10, 0.05):.2f}rem"></span></td></tr>'
        )
    head = "".join(f"<th>{both(h)}</th>" for h in T.PROBABILITY_HEAD) + "<th></th>"
    out.append(
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table></div>\n"
    )
    return "".join(out)


def _gradcam_section(model, batch, out, class_index, layer, class_names, files, notes):
    from .plots import plot_grad_cam

    parts = [heading(T.SECTIONS["gradcam"], "grad-cam")]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GradCAMWarning)
            result = grad_cam(model, batch, class_index=class_index, layer=layer)
    except ExplainError as e:
        if layer is not None or class_index is not None:
            raise
        parts.append(bilingual(T.GRADCAM_NONE, why=str(e)))
        notes.append(f"Grad-CAM: {e}")
        return "".join(parts), None
    name = (
        str(class_names[result.class_index])
        if class_names is not None
        else str(result.class_index)
    )
    parts.append(
        bilingual(
            T.GRADCAM,
            cls=name,
            layer=result.layer,
            cam_shape=_size_text(result.cam.shape),
        )
    )
    if any(issubclass(w.category, GradCAMWarning) for w in caught):
        parts.append(bilingual(T.GRADCAM_ZERO, cls=name))
        notes.append(str(caught[0].message))
    path = os.path.join(out, "grad_cam.png")
    plot_grad_cam(batch[0], result, path, class_names=class_names)
    files.append(path)
    parts.append(figure(path, f"Grad-CAM for class {name} at layer {result.layer}"))
    return "".join(parts), result


def _shapes_section(model):
    walk = shape_walk(model)
    head = "".join(f"<th>{both(h)}</th>" for h in T.SHAPES_HEAD)
    rows = [
        f'<tr><td>input</td><td><span class="formula">{esc(shape_text(walk.input_shape))}</span></td>'
        f"<td></td><td></td></tr>"
    ]
    has_flatten = False
    for r in walk:
        has_flatten |= r.kind == "Flatten"
        arithmetic = "<br>".join(
            f'<span class="formula">{esc(a)}</span>' for a in r.arithmetic
        )
        notes = ""
        if r.note_ko or r.note:
            notes = (
                f'<br><small lang="ko">{esc(r.note_ko)}</small><br>'
                f'<small lang="en" class="en">{esc(r.note)}</small>'
            )
        params = (
            f'<span class="formula">{esc(r.param_formula)}</span>'
            if r.param_formula
            else f"{r.params:,}"
        )
        rows.append(
            f"<tr><td>{esc(r.name)}<br><small>{esc(r.kind)}</small></td>"
            f'<td><span class="formula">{esc(shape_text(r.input_shape))}</span> →<br>'
            f'<span class="formula">{esc(shape_text(r.output_shape))}</span></td>'
            f"<td>{arithmetic}{notes}</td><td>{params}</td></tr>"
        )
    parts = [
        heading(T.SECTIONS["shapes"], "shapes"),
        bilingual(T.SHAPES),
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table></div>\n",
        bilingual(T.SHAPES_TOTAL, total=f"{walk.total_params:,}"),
    ]
    if has_flatten:
        parts.append('<div class="note">' + bilingual(T.FLATTEN_ORDER) + "</div>\n")
    return "".join(parts), walk


def _filters_section(model, out, files):
    from .plots import plot_filters, plot_filters_rgb

    parts = [heading(T.SECTIONS["filters"], "filters"), bilingual(T.FILTERS)]
    for index, layer in conv_layers(model):
        result = filters(model, index)
        path = os.path.join(out, f"filters_{_safe(layer.name)}.png")
        if (
            result.kernel.ndim == 4 and result.kernel.shape[-2] == 3
        ):  # a colour image's first layer: in RGB
            plot_filters_rgb(result, path)
        else:
            plot_filters(result, path)
        files.append(path)
        size = "x".join(map(str, layer.kernel_size)) + f"x{result.kernel.shape[-2]}"
        caption = both(
            (
                T.FILTERS_CAPTION[0].format(
                    layer=layer.name, count=layer.filters, size=size
                ),
                T.FILTERS_CAPTION[1].format(
                    layer=layer.name, count=layer.filters, size=size
                ),
            ),
            "<br>",
        )
        parts.append(figure(path, f"filters of layer {layer.name}", caption))
    return "".join(parts)


def _feature_maps_section(model, batch, out, files):
    from .plots import plot_feature_maps

    parts = [
        heading(T.SECTIONS["feature_maps"], "feature-maps"),
        bilingual(T.FEATURE_MAPS),
    ]
    for result in all_feature_maps(model, batch):
        layer = model.layers[result.layer_index]
        path = os.path.join(out, f"feature_maps_{_safe(result.layer)}.png")
        plot_feature_maps(result, path)
        files.append(path)
        values = dict(
            layer=result.layer,
            kind=type(layer).__name__,
            count=result.maps.shape[0],
            size=_size_text(result.maps.shape[1:]),
        )
        caption = both(
            (
                T.FEATURE_MAPS_CAPTION[0].format(**values),
                T.FEATURE_MAPS_CAPTION[1].format(**values),
            ),
            "<br>",
        )
        parts.append(figure(path, f"feature maps of layer {result.layer}", caption))
    return "".join(parts)


def _trace_section(model, batch, out, files):
    parts = [heading(T.SECTIONS["trace"], "trace")]
    if not conv_layers(model):
        parts.append(bilingual(T.TRACE_NONE))
        return "".join(parts), None
    index, position, filter_index = strongest_position(model, batch)
    trace = trace_conv(model, batch, index, position, filter_index)
    parts.append(
        bilingual(
            T.TRACE, layer=trace.layer, position=str(position), filter=filter_index
        )
    )
    if trace.rank <= 2 and trace.window.shape[-1] <= 3:
        tables = []
        for c in range(trace.window.shape[-1]):
            suffix = f" (c{c})" if trace.window.shape[-1] > 1 else ""
            for pair, values, padded in zip(
                T.TRACE_TABLES,
                (trace.window, trace.kernel, trace.products),
                (trace.padded, None, trace.padded),
            ):
                tables.append(
                    grid_table(
                        values[..., c],
                        padded,
                        both((pair[0] + suffix, pair[1] + suffix)),
                    )
                )
        parts.append('<div class="grids">' + "".join(tables) + "</div>\n")
    verdict = T.TRACE_VERDICT[trace.matches]
    values = dict(
        total=fmt(trace.total),
        bias=fmt(trace.bias),
        pre=fmt(trace.pre_activation),
        activation=trace.activation,
        value=fmt(trace.value),
        actual=fmt(trace.feature_map_value),
    )
    parts.append(
        f'<p lang="ko">{fill(T.TRACE_RESULT[0], verdict=verdict[0], **values)}</p>\n'
        f'<p lang="en" class="en">{fill(T.TRACE_RESULT[1], verdict=verdict[1], **values)}</p>\n'
    )
    path = os.path.join(out, "trace.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(trace.text("ko") + "\n\n" + trace.text("en") + "\n")
    files.append(path)
    parts.append(
        f"<details><summary>{both(T.TRACE_FULL)}</summary>"
        f'<pre lang="ko">{esc(trace.text("ko"))}</pre><pre lang="en">{esc(trace.text("en"))}</pre>'
        f"</details>\n"
    )
    return "".join(parts), trace


def _test_section(model, test_data, out, files, class_names):
    from ..plots import confusion_matrix, plot_confusion_matrix, plot_misclassified

    x_test, y_test = test_data
    probs = model.predict(x_test, verbose=0)
    matrix = confusion_matrix(y_test, probs, num_classes=max(probs.shape[-1], 2))
    accuracy = float(np.trace(matrix) / matrix.sum())
    cm_path = os.path.join(out, "confusion_matrix.png")
    plot_confusion_matrix(matrix, cm_path, class_names=class_names)
    mis_path = os.path.join(out, "misclassified.png")
    plot_misclassified(x_test, y_test, probs, mis_path, class_names=class_names)
    files += [cm_path, mis_path]
    parts = [
        heading(T.SECTIONS["test"], "test"),
        bilingual(T.TEST, count=f"{len(x_test):,}", accuracy=f"{accuracy:.1%}"),
        figure(cm_path, "confusion matrix"),
        figure(mis_path, "misclassified test images"),
    ]
    return "".join(parts), accuracy


def _curves_section(history, out, files):
    from ..plots import plot_history

    path = os.path.join(out, "training_curves.png")
    plot_history(history, path, title="Training curves")
    files.append(path)
    return (
        heading(T.SECTIONS["curves"], "curves")
        + bilingual(T.CURVES)
        + figure(path, "training curves")
    )


def _glossary_section():
    head = "".join(f"<th>{both(h)}</th>" for h in T.GLOSSARY_HEAD)
    rows = [
        f'<tr><td><b lang="ko">{esc(ko)}</b><br><span lang="en" class="en">{esc(en)}</span></td>'
        f'<td><span lang="ko">{esc(dko)}</span><br><span lang="en" class="en">{esc(den)}</span></td></tr>'
        for ko, en, dko, den in T.GLOSSARY
    ]
    return (
        heading(T.SECTIONS["glossary"], "glossary")
        + f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"</table></div>\n"
    )


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


# --------------------------------------------------------------------------- the page


def build_report(
    model,
    x,
    out,
    *,
    label=None,
    source=None,
    class_index=None,
    layer=None,
    test_data=None,
    history=None,
    class_names=None,
):
    """Write the PNGs and ``report.html`` for image ``x`` into the folder ``out``.

    ``label``: the image's true class, if known. ``source``: where the image came
    from (shown on the page). ``class_index``/``layer``: Grad-CAM's class and
    layer (defaults: the predicted class, the last layer with spatial output).
    ``test_data``: ``(x_test, y_test)`` for the confusion matrix and misclassified
    examples; ``history``: Keras's ``history.history`` dict for training curves.
    Returns a :class:`Report`. Needs matplotlib (``pip install 'cnnlab[plots]'``).
    """
    from ..plots import require_matplotlib

    require_matplotlib("the explain report")
    os.makedirs(out, exist_ok=True)
    batch = as_single_batch(model, x, "explain report")
    files, notes = [], []
    probabilities = model.predict(batch, verbose=0)[0]
    predicted = (
        int(probabilities[0] >= 0.5)
        if probabilities.size == 1
        else int(np.argmax(probabilities))
    )

    body = [f"<h1>{both(T.TITLE)}</h1>\n", bilingual(T.INTRO, model=model.name)]
    if source:
        body.append(bilingual(T.IMAGE_SOURCE, source=source))
    body.append(_prediction_section(probabilities, predicted, label, class_names))
    section, gradcam = _gradcam_section(
        model, batch, out, class_index, layer, class_names, files, notes
    )
    body.append(section)
    section, _ = _shapes_section(model)
    body.append(section)
    if conv_layers(model):
        body.append(_filters_section(model, out, files))
    if any(
        (is_conv(layer) or is_pool(layer)) and spatial_rank(layer) > 0
        for layer in model.layers
    ):
        body.append(_feature_maps_section(model, batch, out, files))
    section, trace = _trace_section(model, batch, out, files)
    body.append(section)
    accuracy = None
    if test_data is not None:
        section, accuracy = _test_section(model, test_data, out, files, class_names)
        body.append(section)
    if history:
        body.append(_curves_section(history, out, files))
    body.append(_glossary_section())
    body.append(f"<footer>{bilingual(T.FOOTER, version=__version__)}</footer>")

    title = f"{T.TITLE[0]} · {T.TITLE[1]} · {model.name}"
    page = string.Template(read_template("report.html")).substitute(
        title=esc(title), style=f"{css_font_face()}\n{CSS}", body="".join(body)
    )
    html_path = os.path.join(out, "report.html")
    tmp = html_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, html_path)
    files.append(html_path)
    return Report(
        html_path=html_path,
        files=files,
        predicted=predicted,
        probabilities=probabilities,
        gradcam=gradcam,
        trace=trace,
        test_accuracy=accuracy,
        notes=notes,
    )
