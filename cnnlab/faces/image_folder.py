"""``cnnlab train|evaluate|predict|explain`` on a folder of your own images.

A folder whose sub-folders are the classes (``photos/cats/``, ``photos/dogs/``) is read
with :func:`cnnlab.data.image_dataset_from_directory`, streamed from disk, decoded and
resized in background threads. The model is the seed-004 CNN (or ``--spec``) with its
input set to ``(height, width, channels)`` of the data and its last layer to the number
of classes. Pixels are scaled to [0, 1] (``x / 255``) in the pipeline.

What prediction needs to read new images as training read them is written beside the
model as ``preprocessing.json`` (:data:`PREPROCESSING_FILE`): the class names in label
order, the image size, the colour mode, the interpolation and the scale. The ``.keras``
file itself stays exactly what Keras writes and reads.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..data.images import COLOR_MODES, IMAGE_FORMATS, decode_image, fit_to_size, pillow
from ..errors import CnnlabError

PREPROCESSING_FILE = "preprocessing.json"
SCALE = 1.0 / 255
#: Pillow modes read as one channel; everything else is colour.
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def is_image_folder(path) -> bool:
    """A directory with at least one sub-folder that holds image files (the class layout)."""
    if not path or not os.path.isdir(path):
        return False
    for name in sorted(os.listdir(path)):
        sub = os.path.join(path, name)
        if os.path.isdir(sub) and not name.startswith("."):
            for _, _, files in os.walk(sub):
                if any(f.lower().endswith(IMAGE_FORMATS) for f in files):
                    return True
    return False


def choose_color_mode(paths, requested="auto"):
    """``requested`` unless ``"auto"``: then grayscale if every file is grayscale, rgb if every
    file is colour, and a clear error for a mix (the user chooses how to read it)."""
    if requested != "auto":
        if requested not in COLOR_MODES:
            raise CnnlabError(
                f"--color-mode must be auto, grayscale, rgb or rgba. Received: --color-mode {requested}"
            )
        return requested
    Image = pillow()
    gray, colour = [], []
    for path in paths:
        try:
            with Image.open(path) as im:  # reads the header only
                (gray if im.mode in _GRAY_MODES else colour).append(path)
        except OSError:
            continue  # unreadable: the data set skips it with a warning
    if gray and colour:
        raise CnnlabError(
            f"the folder mixes grayscale images ({len(gray)}, e.g. {gray[0]}) and colour images "
            f"({len(colour)}, e.g. {colour[0]}), so the number of channels is not clear. Choose "
            f"--color-mode rgb (grayscale images repeated to 3 channels) or --color-mode grayscale "
            f"(colour images converted). Received: --color-mode auto"
        )
    return "grayscale" if gray and not colour else "rgb"


def parse_image_size(text):
    """``"32"`` -> ``(32, 32)``; ``"48x64"`` -> ``(48, 64)`` (height x width)."""
    parts = str(text).lower().replace(",", "x").split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or min(size) < 1:
        raise CnnlabError(
            f"--image-size must be N or HxW with positive integers, e.g. 32 or 48x64. "
            f"Received: --image-size {text}"
        )
    return size


def spec_for(spec, image_size, channels, num_classes, custom):
    """``spec`` with the data's input shape and one output per class. The default spec's last
    Dense is resized; a ``--spec`` whose last layer disagrees is an error."""
    spec = dict(spec)
    spec["input_shape"] = [int(image_size[0]), int(image_size[1]), int(channels)]
    layers = [dict(layer) for layer in spec.get("layers", [])]
    last = layers[-1] if layers else None
    if last is None or last.get("class_name") != "Dense":
        raise CnnlabError(
            "the model for an image folder must end in a Dense layer with one unit per class. "
            f"Received: last layer {last and last.get('class_name')}"
        )
    units = last.get("config", {}).get("units")
    if custom and units != num_classes:
        raise CnnlabError(
            f"the spec's last Dense layer has {units} units but the folder has {num_classes} classes; "
            f"give it units={num_classes}. Received: units={units}"
        )
    last["config"] = {**last.get("config", {}), "units": num_classes}
    layers[-1] = last
    spec["layers"] = layers
    return spec


#: ``--augment``: the layers put in front of the model (Keras's image-classification tutorial uses these).
AUGMENTATION = [
    {"class_name": "RandomFlip", "config": {"mode": "horizontal"}},
    {"class_name": "RandomRotation", "config": {"factor": 0.1}},
]


def with_augmentation(spec):
    """``spec`` with :data:`AUGMENTATION` as its first layers (active only while training)."""
    spec = dict(spec)
    spec["layers"] = [dict(layer) for layer in AUGMENTATION] + list(
        spec.get("layers", [])
    )
    return spec


def scaled(dataset):
    """The data set with pixels in [0, 1], as the model is trained."""
    return dataset.map(lambda x, y: (x * np.float32(SCALE), y))


def write_preprocessing(
    out, class_names, image_size, color_mode, interpolation="bilinear", scale=SCALE
):
    """``preprocessing.json``; ``scale`` 1 for a model that reads raw pixels (a pretrained base's
    preprocessing is inside the model)."""
    path = os.path.join(out, PREPROCESSING_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "class_names": list(class_names),
                "image_size": list(image_size),
                "color_mode": color_mode,
                "interpolation": interpolation,
                "scale": scale,
                "crop_to_aspect_ratio": False,
            },
            f,
            indent=2,
        )
    return path


def read_preprocessing(model_path):
    """The ``preprocessing.json`` beside ``model_path``, or ``None`` (an MNIST model)."""
    path = os.path.join(
        os.path.dirname(os.path.abspath(model_path)), PREPROCESSING_FILE
    )
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        info["image_size"] = tuple(int(v) for v in info["image_size"])
        info["class_names"] = [str(c) for c in info["class_names"]]
        if info["color_mode"] not in COLOR_MODES:
            raise ValueError(f"color_mode {info['color_mode']!r}")
        float(info["scale"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CnnlabError(
            f"{path} is not a valid {PREPROCESSING_FILE} (as cnnlab train writes it beside the model): "
            f"{e}. Received: {path!r}"
        ) from None
    return info


def load_for_model(path, info):
    """One image file read as training read it: ``float32 (H, W, C)`` scaled as the model expects."""
    x = decode_image(path, COLOR_MODES[info["color_mode"]])
    return fit_to_size(
        x, info["image_size"], info.get("interpolation", "bilinear")
    ).astype(np.float32) * np.float32(info["scale"])


def folder_dataset(directory, info, batch_size=32):
    """A labelled folder read with the model's preprocessing and class order (evaluate)."""
    from ..data.directory import image_dataset_from_directory

    present = sorted(
        d
        for d in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
    )
    missing = [c for c in present if c not in info["class_names"]]
    if missing:
        raise CnnlabError(
            f"{directory} has class folders the model was not trained on: {missing}; its classes are "
            f"{info['class_names']}. Received: {present}"
        )
    names = [c for c in info["class_names"] if c in present]
    # labels are the model's class indices: keep its order, then map the subset's indices back
    ds = image_dataset_from_directory(
        directory,
        class_names=names,
        image_size=info["image_size"],
        color_mode=info["color_mode"],
        interpolation=info.get("interpolation", "bilinear"),
        batch_size=batch_size,
        shuffle=False,
        verbose=False,
    )
    index = np.array([info["class_names"].index(c) for c in names], dtype=np.int32)
    return ds.map(lambda x, y: (x * np.float32(info["scale"]), index[y])), len(
        ds.file_paths
    )
