"""Generated colour pictures for transfer learning: one class per kind of object or texture.

``draw(kind, rng, size)`` paints one ``uint8 (size, size, 3)`` picture of ``kind`` at a random
place, scale, colour and background, with sensor noise (needs Pillow). The :data:`SOURCE` kinds
pretrain a small base (``scripts/make_transfer_base.py``); the :data:`TARGET` kinds are a new task
that the tests and ``examples/04_transfer_learning.ipynb`` learn from few images (the base never
saw them). ``write_folder`` lays them out as ``image_dataset_from_directory`` reads a folder.
"""

from __future__ import annotations

import os

import numpy as np

SOURCE = (
    "horizontal",
    "vertical",
    "diagonal",
    "checks",
    "rings",
    "circle",
    "square",
    "cross",
)
TARGET = ("triangle", "grid", "diamond")


def draw(kind, rng, size=64):
    from .images import pillow

    Image = pillow()
    from PIL import ImageDraw

    background = rng.uniform(0, 255, 3)
    colour = rng.uniform(0, 255, 3)
    while np.abs(colour - background).sum() < 180:  # keep the object visible
        colour = rng.uniform(0, 255, 3)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    period = rng.uniform(size / 10, size / 5)
    phase = rng.uniform(0, 2 * np.pi)
    wave = None
    if kind == "horizontal":
        wave = np.sin(2 * np.pi * rows / period + phase)
    elif kind == "vertical":
        wave = np.sin(2 * np.pi * cols / period + phase)
    elif kind == "diagonal":
        sign = rng.choice([-1, 1])
        wave = np.sin(2 * np.pi * (rows + sign * cols) / (period * 1.41) + phase)
    elif kind == "checks":
        wave = np.sign(
            np.sin(2 * np.pi * rows / period + phase)
            * np.sin(2 * np.pi * cols / period)
        )
    elif kind == "rings":
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        wave = np.sin(2 * np.pi * np.hypot(rows - cy, cols - cx) / period + phase)
    elif (
        kind == "grid"
    ):  # thin lines both ways: stripes the base knows, in a new arrangement
        thin = np.cos(np.pi / 6)
        wave = np.where(
            (np.abs(np.sin(np.pi * rows / period + phase)) > thin)
            | (np.abs(np.sin(np.pi * cols / period + phase)) > thin),
            1.0,
            -1.0,
        )
    elif kind == "dots":
        wave = -np.ones((size, size))
        for _ in range(int(rng.integers(4, 9))):
            cy, cx = rng.uniform(0, size, 2)
            wave[np.hypot(rows - cy, cols - cx) < rng.uniform(size / 12, size / 7)] = 1
    if wave is not None:
        mix = (np.clip(wave, -1, 1)[..., None] + 1) / 2
        picture = colour * mix + background * (1 - mix)
    else:
        im = Image.new("RGB", (size, size), tuple(int(v) for v in background))
        pen = ImageDraw.Draw(im)
        side = rng.uniform(0.45, 0.8) * size
        top, left = rng.uniform(0, size - side, 2)
        box = (left, top, left + side, top + side)
        fill = tuple(int(v) for v in colour)
        if kind == "circle":
            pen.ellipse(box, fill=fill)
        elif kind == "square":
            pen.rectangle(box, fill=fill)
        elif kind == "cross":
            w = side / 3
            pen.rectangle((left + w, top, left + 2 * w, top + side), fill=fill)
            pen.rectangle((left, top + w, left + side, top + 2 * w), fill=fill)
        elif kind == "triangle":
            pen.polygon(
                [(left + side / 2, top), (left, top + side), (left + side, top + side)],
                fill=fill,
            )
        elif kind == "diamond":
            h = side / 2
            pen.polygon(
                [
                    (left + h, top),
                    (left + side, top + h),
                    (left + h, top + side),
                    (left, top + h),
                ],
                fill=fill,
            )
        else:
            raise ValueError(f"unknown kind {kind!r}")
        picture = np.asarray(im, np.float64)
    picture = picture + rng.normal(0, 8, picture.shape)
    return np.clip(picture, 0, 255).astype(np.uint8)


def batch(kinds, per_class, seed=0, size=64):
    """``(images uint8 (N, size, size, 3), labels)``, the classes in ``kinds`` order, shuffled."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(kinds)), per_class)
    rng.shuffle(labels)
    return np.stack([draw(kinds[k], rng, size) for k in labels]), labels


def write_folder(folder, kinds=TARGET, per_class=10, seed=0, size=64):
    """A folder of PNG files, one sub-folder per kind (``image_dataset_from_directory``'s layout)."""
    from .images import pillow

    Image = pillow()
    rng = np.random.default_rng(seed)
    for kind in kinds:
        os.makedirs(os.path.join(folder, kind), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(draw(kind, rng, size)).save(
                os.path.join(folder, kind, f"{i:03d}.png")
            )
    return folder
