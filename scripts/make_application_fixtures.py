"""Write the real-Keras fixtures of tests/applications/ into tests/fixtures/applications/.

Run once, with real Keras 3 (the test suite never imports Keras)::

    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_application_fixtures.py

Keras 3.15.1 with the torch backend was used; the weights files Keras writes do not depend on
the backend (saving_lib's H5IOStore stores NumPy arrays).

For every case of ``CASES`` (an architecture with include_top True or False, small widths and
inputs where Keras allows them, ``weights=None`` and ``classes=10`` to keep files small), Keras
builds the model in a fresh session (``clear_session``: automatic layer names as in a new
program), every weight is set from ``recipe.layer_weights(seed, ...)`` (seeded, He-scaled kernels,
batch-norm statistics far from 0 and 1), and the script writes:

* ``<case>.weights.h5`` (``model.save_weights``, Keras 3's format), for cases whose file is small
  (``"file": "keras"``); for the large ones (VGG16 and the ResNets: 15-25 M parameters whatever the
  input size) ``"file": "manifest"``: the layout of the file Keras wrote (every dataset's HDF5
  path, owning layer, index, shape, dtype, and each ``vars`` group's ``name``), from which the
  test rebuilds the identical file with the recipe's arrays;
* ``<case>.h5`` when ``"legacy"``: the same weights in the legacy layout Keras's applications
  download (written by Keras's own ``legacy_h5_format.save_weights_to_hdf5_group``);
* ``<case>_io.npz``: ``x`` (uint8 images from ``recipe.images``) and ``y`` (Keras's
  ``model.predict(preprocess_input(x as float32))``);
* an entry of ``applications.json``: the constructor's arguments, layer names and classes,
  parameter counts (total / trainable / non-trainable) and ``summary()``'s three total lines.

``applications.json`` also holds ``counts``: the parameter counts of the default configurations
(ImageNet sizes, with and without the top, the pooling variants) and their layer names, built by Keras
without weights.

``signatures``: each function's parameters and their defaults (``inspect.signature``).

``imagenet_utils.npz`` / ``decode.json``: Keras's ``preprocess_input`` in the three modes (a float32
batch, a uint8 batch, one float64 image) and ``decode_predictions`` (top 5 and top 3) against the
made-up class index ``recipe.class_index()`` (written as ``class_index.json``).
"""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
import tempfile
from contextlib import redirect_stdout

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "applications")
sys.path.insert(0, OUT)

import keras  # noqa: E402
import recipe  # noqa: E402
from keras.src.applications import imagenet_utils  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

A = keras.applications
# (case, module, function, kwargs, file kind, legacy copy, image size (H, W))
CASES = [
    # small widths: the Keras-written files themselves are committed
    ("mobilenet_v2_top", "mobilenet_v2", "MobileNetV2",
     {"input_shape": (96, 96, 3), "alpha": 0.35, "classes": 10}, "keras", False, (96, 96)),
    ("mobilenet_v2_notop", "mobilenet_v2", "MobileNetV2",
     {"input_shape": (75, 83, 3), "alpha": 0.1, "include_top": False}, "keras", True, (75, 83)),
    ("mobilenet_top", "mobilenet", "MobileNet",
     {"input_shape": (64, 64, 3), "alpha": 0.25, "classes": 10}, "keras", False, (64, 64)),
    ("mobilenet_notop", "mobilenet", "MobileNet",
     {"input_shape": (67, 70, 3), "alpha": 0.125, "depth_multiplier": 2, "include_top": False, "pooling": "max"},
     "keras", False, (67, 70)),
    # 15-25 M parameters at any input size: the file's layout is committed, the file rebuilt by the test.
    # These deep stacks without normalization (VGG) or with many residual additions grow their outputs to
    # 1e2-1e5, where softmax would saturate to one-hot rows: the classifiers give logits.
    ("vgg16_top", "vgg16", "VGG16",
     {"input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None}, "manifest", False, (32, 32)),
    ("vgg16_notop", "vgg16", "VGG16",
     {"input_shape": (48, 40, 3), "include_top": False, "pooling": "avg"}, "manifest", False, (48, 40)),
    ("resnet50_top", "resnet", "ResNet50",
     {"input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None}, "manifest", False, (32, 32)),
    ("resnet50_notop", "resnet", "ResNet50",
     {"input_shape": (45, 38, 3), "include_top": False}, "manifest", False, (45, 38)),
    ("resnet50v2_top", "resnet_v2", "ResNet50V2",
     {"input_shape": (32, 32, 3), "classes": 10, "classifier_activation": None}, "manifest", False, (32, 32)),
    ("resnet50v2_notop", "resnet_v2", "ResNet50V2",
     {"input_shape": (45, 38, 3), "include_top": False, "pooling": "max"}, "manifest", False, (45, 38)),
]  # fmt: skip
# default configurations whose parameter counts are checked: (module, function, kwargs)
NO_TOP = {"include_top": False, "input_shape": (224, 224, 3)}
COUNTS = [
    ("mobilenet_v2", "MobileNetV2", {}),
    ("mobilenet_v2", "MobileNetV2", NO_TOP),
    ("mobilenet_v2", "MobileNetV2", {**NO_TOP, "pooling": "avg"}),
    ("mobilenet_v2", "MobileNetV2", {"alpha": 1.4}),
    ("mobilenet_v2", "MobileNetV2", {"alpha": 0.5, "input_shape": (128, 128, 3)}),
    ("mobilenet", "MobileNet", {}),
    ("mobilenet", "MobileNet", NO_TOP),
    ("mobilenet", "MobileNet", {"alpha": 0.5, "input_shape": (128, 128, 3)}),
    (
        "mobilenet",
        "MobileNet",
        {"depth_multiplier": 2, "classes": 7, "input_shape": (160, 160, 3)},
    ),
    ("vgg16", "VGG16", NO_TOP),
    ("vgg16", "VGG16", {**NO_TOP, "pooling": "max"}),
    ("resnet", "ResNet50", {}),
    ("resnet", "ResNet50", NO_TOP),
    ("resnet", "ResNet101", {}),
    ("resnet", "ResNet152", NO_TOP),
    ("resnet_v2", "ResNet50V2", {}),
    ("resnet_v2", "ResNet50V2", {**NO_TOP, "pooling": "avg"}),
    ("resnet_v2", "ResNet101V2", NO_TOP),
    ("resnet_v2", "ResNet152V2", {}),
    # Keras's default without the top: any image size (None, None, 3)
    ("mobilenet_v2", "MobileNetV2", {"include_top": False, "alpha": 0.35}),
    ("mobilenet", "MobileNet", {"include_top": False, "pooling": "avg"}),
    ("vgg16", "VGG16", {"include_top": False}),
    ("resnet", "ResNet50", {"include_top": False}),
    ("resnet_v2", "ResNet50V2", {"include_top": False, "pooling": "max"}),
]


def counts(model):
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    non_trainable = int(sum(np.prod(v.shape) for v in model.non_trainable_weights))
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


def summary_totals(model):
    lines = []
    model.summary(print_fn=lambda line, line_break=True: lines.append(line))
    text = "\n".join(lines).splitlines()
    return [ln for ln in text if "params:" in ln]


def build(module, function, kwargs):
    keras.backend.clear_session()
    return getattr(getattr(A, module), function)(weights=None, **kwargs)


def set_seeded_weights(model, seed):
    spec = [
        (
            layer.name,
            type(layer).__name__,
            [(v.name, tuple(v.shape)) for v in layer.weights],
        )
        for layer in model.layers
    ]
    values = recipe.layer_weights(seed, spec)
    for layer in model.layers:
        for v, value in zip(layer.weights, values[layer.name]):
            v.assign(value)


def manifest(path):
    """Every dataset of a Keras .weights.h5 file, with the layer it belongs to."""
    entries, groups = [], []
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and name.endswith("vars"):
                groups.append({"path": name, "name": str(obj.attrs.get("name", ""))})
            if isinstance(obj, h5py.Dataset):
                owner = f[os.path.dirname(name)].attrs.get("name", "")
                entries.append(
                    {
                        "path": name,
                        "layer": str(owner),
                        "index": int(os.path.basename(name)),
                        "shape": list(obj.shape),
                        "dtype": str(obj.dtype),
                    }
                )

        f.visititems(visit)
        top = f["vars"].attrs.get("name", "") if "vars" in f else ""
    return {"groups": groups, "datasets": entries, "root_name": str(top)}


def write_case(case, module, function, kwargs, kind, legacy, size, seed):
    model = build(module, function, kwargs)
    set_seeded_weights(model, seed)
    x = recipe.images(seed + 1, 2, *size)
    preprocess = getattr(A, module).preprocess_input
    y = model.predict(preprocess(x.astype("float32")), verbose=0)
    np.savez(os.path.join(OUT, f"{case}_io.npz"), x=x, y=np.asarray(y))
    entry = {
        "module": module,
        "function": function,
        "kwargs": {
            k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()
        },
        "seed": seed,
        "file": kind,
        "legacy": legacy,
        "name": model.name,
        "layers": [layer.name for layer in model.layers],
        "classes": [type(layer).__name__ for layer in model.layers],
        "counts": counts(model),
        "summary_totals": summary_totals(model),
        "output_shape": list(model.output_shape),
        "y_abs_max": float(np.abs(y).max()),
    }
    if kind == "keras":
        model.save_weights(os.path.join(OUT, f"{case}.weights.h5"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.weights.h5")
            model.save_weights(path)
            entry["manifest"] = manifest(path)
    if legacy:
        with h5py.File(os.path.join(OUT, f"{case}.h5"), "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    print(
        f"{case}: {entry['counts']} |y|max={entry['y_abs_max']:.4g} y[0,:3]={np.ravel(y[0])[:3]}"
    )
    return entry


def signatures():
    """Every function's parameters and defaults, as ``inspect.signature`` shows them."""
    out = {}
    for module in sorted({m for m, _, _ in COUNTS}):
        for function in sorted({f for m, f, _ in COUNTS if m == module}):
            sig = inspect.signature(getattr(getattr(A, module), function))
            out[f"{module}.{function}"] = [
                [p.name, repr(p.default)] for p in sig.parameters.values()
            ]
        for helper in ("preprocess_input", "decode_predictions"):
            sig = inspect.signature(getattr(getattr(A, module), helper))
            out[f"{module}.{helper}"] = [
                [p.name, repr(p.default)] for p in sig.parameters.values()
            ]
    return out


def imagenet_fixtures():
    rng = np.random.default_rng(7)
    batch = rng.uniform(0, 255, (2, 5, 4, 3)).astype(np.float32)
    pixels = rng.integers(0, 256, (2, 5, 4, 3), dtype=np.uint8)
    image = rng.uniform(0, 255, (5, 4, 3))
    arrays = {"batch": batch, "pixels": pixels, "image": image}
    for mode in ("caffe", "tf", "torch"):
        arrays[f"{mode}_batch"] = imagenet_utils.preprocess_input(
            batch.copy(), mode=mode
        )
        arrays[f"{mode}_pixels"] = imagenet_utils.preprocess_input(
            pixels.copy(), mode=mode
        )
        arrays[f"{mode}_image"] = imagenet_utils.preprocess_input(
            image.copy(), mode=mode
        )
        arrays[f"{mode}_batch_cf"] = imagenet_utils.preprocess_input(
            np.moveaxis(batch, -1, 1).copy(), mode=mode, data_format="channels_first"
        )
    np.savez(os.path.join(OUT, "imagenet_utils.npz"), **arrays)

    index = recipe.class_index()
    with open(os.path.join(OUT, "class_index.json"), "w") as f:
        json.dump(index, f)
    imagenet_utils.CLASS_INDEX = index
    preds = rng.random((3, 1000)).astype(np.float32)
    preds[2, 10:20] = 0.99  # ties among the top scores
    decoded = {
        "preds": preds.tolist(),
        "top5": [
            [[a, b, float(c)] for a, b, c in row]
            for row in imagenet_utils.decode_predictions(preds)
        ],
        "top3": [
            [[a, b, float(c)] for a, b, c in row]
            for row in imagenet_utils.decode_predictions(preds, top=3)
        ],
    }
    with open(os.path.join(OUT, "decode.json"), "w") as f:
        json.dump(decoded, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    path = os.path.join(OUT, "applications.json")
    data = (
        json.load(open(path)) if os.path.exists(path) else {"cases": {}, "counts": []}
    )
    for seed, (case, module, function, kwargs, kind, legacy, size) in enumerate(
        CASES, start=100
    ):
        if only and case not in only:
            continue
        data["cases"][case] = write_case(
            case, module, function, kwargs, kind, legacy, size, seed
        )
    if not only:
        data["counts"] = []
        for module, function, kwargs in COUNTS:
            with redirect_stdout(io.StringIO()):
                model = build(module, function, kwargs)
            data["counts"].append(
                {
                    "module": module,
                    "function": function,
                    "kwargs": {
                        k: list(v) if isinstance(v, tuple) else v
                        for k, v in kwargs.items()
                    },
                    "name": model.name,
                    "layers": [layer.name for layer in model.layers],
                    "counts": counts(model),
                    "summary_totals": summary_totals(model),
                }
            )
            print(function, kwargs, data["counts"][-1]["counts"])
        imagenet_fixtures()
        data["signatures"] = signatures()
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
