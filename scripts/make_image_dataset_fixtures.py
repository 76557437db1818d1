"""Reference values of Keras 3's ``image_dataset_from_directory`` for cnnlab's tests.

Writes the fixture folder ``tests/fixtures/images/folder/`` (small images in every
format Keras reads: PNG in L/RGB/RGBA/P modes, JPEG, BMP, an animated GIF, an
upper-case extension, a nested sub-folder, a hidden folder and a text file that
must be ignored) if it is not there, then runs real Keras (TensorFlow backend:
Keras's ``format="tf"`` pipeline needs it) on it and saves what it yields to
``tests/fixtures/images/keras_reference.npz`` (no pickle; paths relative to the folder).

    PYTHONPATH=/tmp/tfpkgs:/tmp/kpkgs KERAS_BACKEND=tensorflow python scripts/make_image_dataset_fixtures.py

Tests never import Keras; they read the npz.
"""

import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "images")
FOLDER = os.path.join(OUT, "folder")


def write_folder():
    rng = np.random.default_rng(20261201)

    def picture(h, w, c):
        # smooth gradients plus noise: resizing has something to interpolate
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack(
            [
                (xx * 255 // max(w - 1, 1)),
                (yy * 255 // max(h - 1, 1)),
                ((xx + yy) * 7) % 256,
            ],
            -1,
        )
        noise = rng.integers(0, 60, (h, w, 3))
        return np.clip(base + noise, 0, 255).astype(np.uint8)[:, :, :c]

    files = {
        "cat/c01.png": ("RGB", (13, 17)),
        "cat/c02.jpg": ("RGB", (24, 16)),
        "cat/c03.bmp": ("RGB", (9, 21)),
        "cat/nested/c04.png": ("L", (20, 20)),
        "cat/c05.PNG": ("RGBA", (11, 7)),
        "dog/d01.png": ("P", (15, 30)),
        "dog/d02.gif": ("GIF", (12, 12)),
        "dog/d03.png": ("RGB", (40, 9)),
        "dog/d04.jpeg": ("RGB", (16, 16)),
        "dog/d05.png": ("L", (7, 19)),
        "zebra/z01.png": ("RGB", (18, 18)),
        "zebra/z02.png": ("RGBA", (25, 14)),
        "zebra/z03.png": ("RGB", (10, 10)),
        "zebra/z04.png": ("RGB", (30, 45)),
        "zebra/z05.png": ("RGB", (21, 13)),
        "zebra/z06.png": ("L", (6, 6)),
    }
    for rel, (mode, (h, w)) in files.items():
        path = os.path.join(FOLDER, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if mode == "GIF":
            frames = [Image.fromarray(picture(h, w, 3)).convert("P") for _ in range(2)]
            frames[0].save(
                path, save_all=True, append_images=frames[1:], duration=100, loop=0
            )
        elif mode == "L":
            Image.fromarray(picture(h, w, 1)[:, :, 0], "L").save(path)
        elif mode == "RGBA":
            a = picture(h, w, 3)
            alpha = rng.integers(0, 256, (h, w, 1)).astype(np.uint8)
            Image.fromarray(np.concatenate([a, alpha], -1), "RGBA").save(path)
        elif mode == "P":
            Image.fromarray(picture(h, w, 3)).convert("P").save(path)
        else:
            img = Image.fromarray(picture(h, w, 3))
            img.save(path, quality=90) if rel.lower().endswith(
                ("jpg", "jpeg")
            ) else img.save(path)
    os.makedirs(os.path.join(FOLDER, ".hidden"), exist_ok=True)
    Image.fromarray(picture(8, 8, 3)).save(os.path.join(FOLDER, ".hidden", "h.png"))
    with open(os.path.join(FOLDER, "zebra", "notes.txt"), "w") as f:
        f.write("not an image\n")


#: name -> keyword arguments; every case is run with real Keras and by the test with cnnlab
CASES = {
    "rgb_bilinear": dict(image_size=(12, 10), shuffle=False),
    # TensorFlow refuses grayscale BMPs and GIFs and RGBA JPEGs ("channels must be 0, 3 or 4 for BMP"): the
    # grayscale and RGBA cases read the class of PNG files only, and "gray_bmp" and "rgba_all" record the
    # refusals (cnnlab converts those files instead)
    "gray_nearest": dict(
        image_size=(9, 14),
        shuffle=False,
        color_mode="grayscale",
        interpolation="nearest",
        class_names=["zebra"],
    ),
    "gray_bilinear": dict(
        image_size=(5, 8), shuffle=False, color_mode="grayscale", class_names=["zebra"]
    ),
    "gray_bmp": dict(image_size=(5, 8), shuffle=False, color_mode="grayscale"),
    "rgba": dict(
        image_size=(16, 16), shuffle=False, color_mode="rgba", class_names=["zebra"]
    ),
    "rgba_all": dict(image_size=(16, 16), shuffle=False, color_mode="rgba"),
    "crop": dict(image_size=(8, 12), shuffle=False, crop_to_aspect_ratio=True),
    "pad": dict(image_size=(10, 6), shuffle=False, pad_to_aspect_ratio=True),
    "categorical": dict(
        image_size=(5, 5),
        shuffle=False,
        label_mode="categorical",
        class_names=["zebra", "cat"],
    ),
    "binary": dict(
        image_size=(5, 5),
        shuffle=False,
        label_mode="binary",
        class_names=["dog", "cat"],
    ),
    "no_labels": dict(image_size=(6, 6), shuffle=False, labels=None),
    "list_labels": dict(
        image_size=(6, 6),
        shuffle=False,
        labels=[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2],
    ),
    "split_training": dict(
        image_size=(7, 7),
        shuffle=True,
        seed=1337,
        validation_split=0.25,
        subset="training",
    ),
    "split_validation": dict(
        image_size=(7, 7),
        shuffle=True,
        seed=1337,
        validation_split=0.25,
        subset="validation",
    ),
    "unshuffled_split": dict(
        image_size=(7, 7), shuffle=False, validation_split=0.4, subset="validation"
    ),
    "unbatched": dict(image_size=(4, 4), shuffle=False, batch_size=None),
}


def main():
    if not os.path.isdir(FOLDER):
        write_folder()
    import keras
    import tensorflow as tf

    arrays, meta = (
        {},
        {"keras": keras.__version__, "tensorflow": tf.__version__, "cases": {}},
    )
    for name, kwargs in CASES.items():
        ds = keras.utils.image_dataset_from_directory(FOLDER, **kwargs)
        xs, ys = [], []
        try:
            elements = list(ds)
        except tf.errors.InvalidArgumentError as e:
            meta["cases"][name] = {
                "kwargs": kwargs,
                "keras_error": str(e).split("\n")[0][-120:],
            }
            continue
        for element in elements:
            if kwargs.get("labels", "inferred") is None:
                x, y = element, None
            else:
                x, y = element
            x = x.numpy()
            if kwargs.get("batch_size", 32) is None:
                x = x[None]
                y = None if y is None else y.numpy()[None]
            else:
                y = None if y is None else y.numpy()
            xs.append(x)
            if y is not None:
                ys.append(y)
        arrays[f"{name}/images"] = np.concatenate(xs)
        if ys:
            arrays[f"{name}/labels"] = np.concatenate(ys)
        meta["cases"][name] = {
            "kwargs": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()
            },
            "class_names": ds.class_names,
            "file_paths": [os.path.relpath(p, FOLDER) for p in ds.file_paths],
            "cardinality": int(ds.cardinality().numpy()),
            "label_dtype": None if not ys else str(ys[0].dtype),
            "image_dtype": str(xs[0].dtype),
        }
    np.savez(os.path.join(OUT, "keras_reference.npz"), **arrays)
    with open(os.path.join(OUT, "keras_reference.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", len(arrays), "arrays for", len(CASES), "cases")


if __name__ == "__main__":
    sys.exit(main())
