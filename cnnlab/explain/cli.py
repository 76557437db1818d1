"""``cnnlab explain MODEL [IMAGE] --out DIR``: the explain report of a saved model;
with ``--interactive``, the interactive explainer page instead (``explainer.html``).

Registered by :data:`cnnlab.cli.PACKAGE_COMMANDS`. Without ``IMAGE`` it explains a
test image of the MNIST sample bundled with cnnlab (``--index N``); with a PNG or
JPEG it reads the picture the way ``cnnlab predict`` does (greyscale, white on
black, resized to the model's input).
"""

from __future__ import annotations

import json
import os

from ..cli import DATA_HELP


def add(sub):
    p = sub.add_parser(
        "explain",
        help="show what a trained CNN learned: filters, feature maps, Grad-CAM (HTML)",
        description="Write the explain report of MODEL.keras: the prediction, Grad-CAM, the shape "
        "walk, filters, feature maps of every conv/pool layer and one convolution "
        "traced step by step, as PNG files and one self-contained report.html.",
    )
    p.add_argument("model", metavar="MODEL.keras", help="a saved model")
    p.add_argument(
        "image",
        nargs="?",
        metavar="IMAGE",
        help="a PNG or JPEG to explain (default: a test image of the bundled MNIST sample)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: explain/ next to the model)",
    )
    p.add_argument(
        "--index",
        type=int,
        default=0,
        metavar="N",
        help="which test image to explain when no IMAGE is given (default 0)",
    )
    p.add_argument(
        "--layer",
        metavar="NAME",
        help="Grad-CAM's layer (default: the last layer with spatial output; inside a pretrained base used "
        "as one layer, its last one); a layer inside a nested base by its name or as BASE/NAME",
    )
    p.add_argument(
        "--class",
        dest="class_index",
        type=int,
        metavar="K",
        help="the class Grad-CAM explains (default: the predicted one)",
    )
    p.add_argument("--data", metavar="DIR", help="the test images: " + DATA_HELP)
    p.add_argument(
        "--interactive",
        action="store_true",
        help="write the interactive explainer instead: one self-contained explainer.html to click "
        "through (every feature map, the arithmetic of any cell, Grad-CAM for any class)",
    )
    p.add_argument(
        "--images",
        type=int,
        default=6,
        metavar="N",
        help="with --interactive and no IMAGE: how many test images the page holds, from --index on (default 6)",
    )
    return p


def _write_interactive(model, images, out, **kwargs):
    from .explainer import interactive

    page = interactive(model, images, out, **kwargs)
    print(
        f"Interactive explainer ({page.images} image(s), {page.size / 1e6:.2f} MB): {os.path.abspath(page.path)}"
    )
    return 0


def _test_split(args, model):
    """``((test images, labels), what they are)``, the images scaled as the model was trained
    (``/255``, channel axis), when the model reads 28x28 greyscale images; else ``(None, None)``."""
    from ..cli import scale_images
    from ..data.source import FROM_SAMPLE, choose_mnist

    if tuple(model.input_shape[1:]) not in ((28, 28, 1), (28, 28)):
        return None, None
    choice = choose_mnist(args.data)
    print(f"Data: {choice.describe()}")
    xt, yt = scale_images(choice.test[0]), choice.test[1]
    if tuple(model.input_shape[1:]) == (28, 28):
        xt = xt[..., 0]
    return (xt, yt), ("sample test" if choice.origin == FROM_SAMPLE else "test")


def _run_folder_model(args, info):
    """Explain a model trained by ``cnnlab train --data DIR``: the image is read as training read
    it (colour kept), and the report names the classes."""
    from ..cli import load_model
    from ..errors import CnnlabError
    from ..faces import image_folder
    from .report import build_report

    if not args.image:
        raise CnnlabError(
            f"this model was trained on a folder of images ({', '.join(info['class_names'])}): give an "
            f"IMAGE file to explain. Received: no IMAGE"
        )
    x = image_folder.load_for_model(args.image, info)
    model = load_model(args.model)
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(args.model)), "explain"
    )
    names = info["class_names"]
    source = (
        f"{os.path.basename(args.image)} (read as {info['color_mode']} "
        f"{info['image_size'][0]}x{info['image_size'][1]}, as in training)"
    )
    if args.interactive:
        return _write_interactive(
            model, [x], out, sources=[source], class_names=names, layer=args.layer
        )
    try:
        report = build_report(
            model,
            x,
            out,
            source=source,
            class_index=args.class_index,
            layer=args.layer,
            history=_history(args.model),
            class_names=names,
        )
    except ImportError as e:
        raise CnnlabError(str(e)) from None
    p = float(report.probabilities[report.predicted])
    print(f"Prediction: {names[report.predicted]} (p = {p:.2%})")
    if report.gradcam is not None:
        g = report.gradcam
        print(
            f"Grad-CAM: class {names[g.class_index]} at layer '{g.layer}', strongest at {g.peak}"
        )
    for note in report.notes:
        print(f"note: {note}")
    print(f"Wrote {len(report.files)} files to {os.path.join(out, '')}")
    print(f"Report: {os.path.abspath(report.html_path)}")
    return 0


def _interactive_from_test(args, model, out, xt, yt, which):
    """The interactive page for ``--images`` test images from ``--index`` on."""
    from ..errors import CnnlabError
    from .explainer import MAX_IMAGES

    if not 1 <= args.images <= MAX_IMAGES:
        raise CnnlabError(
            f"--images must be between 1 and {MAX_IMAGES}. Received: --images {args.images}"
        )
    first = args.index % len(xt)
    chosen = [(first + k) % len(xt) for k in range(min(args.images, len(xt)))]
    return _write_interactive(
        model,
        [xt[i] for i in chosen],
        out,
        labels=[int(yt[i]) for i in chosen],
        sources=[f"MNIST {which} image #{i}" for i in chosen],
        layer=args.layer,
    )


def _history(model_path):
    """``history.json`` beside the model, or ``None``."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "history.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run(args):
    from ..cli import load_model
    from ..errors import CnnlabError
    from ..faces import image_folder
    from .report import build_report

    image_path = args.image
    info = image_folder.read_preprocessing(
        args.model
    )  # a model trained on a folder of images
    if info is not None:
        return _run_folder_model(args, info)
    if image_path:  # fail on a bad image before loading the model
        from ..faces.images import read_image

        picture = read_image(image_path)
    model = load_model(args.model)
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(args.model)), "explain"
    )
    test, which = _test_split(args, model)
    label = None
    if image_path:
        from ..faces.images import prepare

        shape = model.input_shape
        if len(shape) != 4:
            raise CnnlabError(
                f"explain IMAGE needs a model of images (None, height, width, channels). "
                f"Received: input shape {shape}"
            )
        x, notes = prepare(picture, shape[1:])
        for note in notes:
            print(f"{os.path.basename(image_path)}: {note}")
        source = os.path.basename(image_path) + (
            f" ({'; '.join(notes)})" if notes else ""
        )
        if args.interactive:
            return _write_interactive(
                model, [x], out, sources=[source], layer=args.layer
            )
    else:
        if test is None:
            raise CnnlabError(
                f"the model reads {model.input_shape[1:]}, not 28x28 MNIST images: give an IMAGE "
                f"file to explain. Received: input shape {model.input_shape}"
            )
        xt, yt = test
        if not -len(xt) <= args.index < len(xt):
            raise CnnlabError(
                f"--index must be between 0 and {len(xt) - 1} (the test split has {len(xt)} images). "
                f"Received: --index {args.index}"
            )
        if args.interactive:
            return _interactive_from_test(args, model, out, xt, yt, which)
        x, label = xt[args.index], int(yt[args.index])
        source = f"MNIST {which} image #{args.index % len(xt)} (label {label})"
    history = _history(args.model)
    try:
        report = build_report(
            model,
            x,
            out,
            label=label,
            source=source,
            class_index=args.class_index,
            layer=args.layer,
            test_data=test,
            history=history,
        )
    except ImportError as e:  # matplotlib missing: say how to install it, no traceback
        raise CnnlabError(str(e)) from None
    probs = report.probabilities
    p = float(probs[report.predicted]) if probs.size > 1 else float(probs[0])
    print(
        f"Prediction: {report.predicted} (p = {p:.2%})"
        + (f", label {label}" if label is not None else "")
    )
    if report.gradcam is not None:
        g = report.gradcam
        print(
            f"Grad-CAM: class {g.class_index} at layer '{g.layer}', strongest at {g.peak}"
        )
    if report.trace is not None:
        t = report.trace
        print(
            f"Trace: layer '{t.layer}', position {t.position}, filter {t.filter}: sum {t.total:.4g} + bias "
            f"{t.bias:.4g} -> {t.value:.4g} ({'matches' if t.matches else 'DOES NOT match'} the layer)"
        )
    if report.test_accuracy is not None:
        print(f"Test accuracy: {report.test_accuracy:.2%}")
    for note in report.notes:
        print(f"note: {note}")
    print(f"Wrote {len(report.files)} files to {os.path.join(out, '')}")
    print(f"Report: {os.path.abspath(report.html_path)}")
    return 0
