"""A folder of generated colour pictures of shapes, one sub-folder per class, for the
image-folder tests and the data-pipeline benchmark."""

import os

import numpy as np

CLASSES = ("circle", "square", "triangle")


def write_shapes(folder, per_class, seed=0, sizes=(24, 56), classes=CLASSES, fmt="png"):
    """``per_class`` images of each class, of random sizes in ``sizes`` (height and width
    drawn apart), random colours and positions. Returns the folder."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for i in range(per_class):
            h, w = (int(v) for v in rng.integers(sizes[0], sizes[1] + 1, 2))
            background = tuple(int(v) for v in rng.integers(0, 100, 3))
            colour = tuple(int(v) for v in rng.integers(150, 256, 3))
            im = Image.new("RGB", (w, h), background)
            draw = ImageDraw.Draw(im)
            side = int(min(h, w) * rng.uniform(0.45, 0.8))
            top = int(rng.integers(0, h - side + 1))
            left = int(rng.integers(0, w - side + 1))
            box = (left, top, left + side - 1, top + side - 1)
            if name == "circle":
                draw.ellipse(box, fill=colour)
            elif name == "square":
                draw.rectangle(box, fill=colour)
            else:
                draw.polygon(
                    [
                        (left + side // 2, top),
                        (left, top + side - 1),
                        (left + side - 1, top + side - 1),
                    ],
                    fill=colour,
                )
            im.save(os.path.join(folder, name, f"{i:05d}.{fmt}"))
    return folder
