"""Looking inside a trained CNN: filters, feature maps, Grad-CAM, the convolution
step by step, and the shape of every layer.

Works on any ``Sequential`` model cnnlab can train or load::

    from cnnlab import explain
    explain.filters(model)                      # the first convolution's kernels
    explain.feature_maps(model, x)              # every channel of a layer's output for one image
    explain.grad_cam(model, x)                  # where the evidence for the predicted class lies
    print(explain.trace_conv(model, x, "conv2d", (12, 12), 0))   # one output cell, step by step
    print(explain.shape_walk(model))            # output sizes and parameter counts, with the arithmetic
    explain.build_report(model, x, "out/")      # all of it as PNGs and one report.html
    explain.interactive(model, images, "out/")  # one page to click through: any cell, any class

``x`` is one image, ``(H, W)``, ``(H, W, C)`` or a batch of one. Layers are
given by name, index or object. The command line does the same:
``cnnlab explain MODEL.keras [IMAGE] --out DIR``. Plots need matplotlib
(``pip install 'cnnlab[plots]'``); the functions above need NumPy only.
"""

from .common import ExplainError
from .gradcam import GradCAM, GradCAMWarning, grad_cam
from .maps import FeatureMaps, Filters, all_feature_maps, feature_maps, filters
from .resize import resize_linear
from .shapes_walk import LayerShape, ShapeWalk, shape_walk
from .trace import ConvTrace, trace_conv
from .trace_pool import PoolTrace, trace_pool


def build_report(model, x, out, **kwargs):
    """Write the PNGs and the self-contained ``report.html`` into ``out``
    (see :func:`cnnlab.explain.report.build_report`)."""
    from .report import build_report as _build

    return _build(model, x, out, **kwargs)


def interactive(model, images, out, **kwargs):
    """Write the interactive explainer, one self-contained HTML page, for a handful of
    ``images`` (see :func:`cnnlab.explain.interactive.interactive`)."""
    from .explainer import interactive as _interactive

    return _interactive(model, images, out, **kwargs)


__all__ = [
    "ExplainError",
    "GradCAM",
    "GradCAMWarning",
    "grad_cam",
    "FeatureMaps",
    "Filters",
    "feature_maps",
    "filters",
    "all_feature_maps",
    "resize_linear",
    "LayerShape",
    "ShapeWalk",
    "shape_walk",
    "ConvTrace",
    "trace_conv",
    "PoolTrace",
    "trace_pool",
    "build_report",
    "interactive",
]
