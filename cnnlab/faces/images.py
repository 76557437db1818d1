"""Reading a picture for a model: as MNIST made its digits for a 28x28x1 model, else plainly resized.

MNIST's digits were made like this (LeCun, Cortes and Burges): the digit cut out of
its scan, scaled to fit a 20x20 box keeping its proportions (anti-aliased, hence the
grey edges), and placed in a 28x28 image so that its centre of mass is the centre.
Ink is white on black. :func:`prepare` does the same to a photo or a drawing, after
compositing transparency and inverting a light background, and returns notes that
say what it did. A model that reads anything else (3 channels, another size) was not
trained on MNIST's rules, so the image is only converted to its channels and resized.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import CnnlabError

MNIST_SHAPE = (28, 28, 1)
#: MNIST fits each digit into a box of this side, inside the 28x28 image.
MNIST_BOX = 20
#: After the background is removed, a pixel this bright (of the brightest) counts as ink.
INK_THRESHOLD = 0.25


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise CnnlabError(
            "reading images needs Pillow: pip install 'cnnlab[plots]'"
        ) from None
    return Image, ImageOps


def read_image(path):
    """Open ``path`` (PNG, JPEG, ...) as an upright, loaded Pillow image, or raise a CnnlabError
    (so a bad file is reported before any model is loaded). :func:`prepare` makes it an input."""
    Image, ImageOps = _pil()
    if os.path.isdir(path):
        raise CnnlabError(
            f"{path} is a directory, not an image file (PNG or JPEG expected). Received: {path!r}"
        )
    if not os.path.isfile(path):
        raise CnnlabError(f"no such image file: {path}. Received: {path!r}")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
    except OSError as e:  # Pillow's UnidentifiedImageError is an OSError
        raise CnnlabError(
            f"{path} is not an image Pillow can read (PNG or JPEG expected): {e}. "
            f"Received: {path!r}"
        ) from None
    return im


def flatten_alpha(im):
    """``(image without transparency, note or None)``.

    A drawing app exports a digit as opaque strokes on a transparent background, and the
    colour under a transparent pixel is arbitrary (often black, like the strokes). So the
    background is chosen to contrast with the strokes: white behind dark strokes, black
    behind light ones (the strokes' brightness is their alpha-weighted mean), and each
    pixel is blended by its alpha, ``alpha * colour + (1 - alpha) * background``.
    """
    if im.mode in ("P", "PA"):
        im = im.convert(
            "RGBA" if im.mode == "PA" or "transparency" in im.info else "RGB"
        )
    if im.mode in ("LA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode != "RGBA":
        if im.mode in ("L", "RGB"):
            return im, None
        return im.convert("L" if len(im.getbands()) == 1 else "RGB"), None
    Image, _ = _pil()
    rgba = np.asarray(im, dtype=np.float32) / 255.0
    alpha = rgba[..., 3:]
    if alpha.min() >= 1.0:
        return im.convert("RGB"), None
    colour = rgba[..., :3]
    weight = float(alpha.sum())
    luminance = colour @ np.array([0.299, 0.587, 0.114], np.float32)
    strokes = float((luminance * alpha[..., 0]).sum() / weight) if weight > 0 else 0.0
    background = 1.0 if strokes < 0.5 else 0.0
    out = colour * alpha + background * (1.0 - alpha)
    flat = Image.fromarray(np.round(out * 255).astype(np.uint8), "RGB")
    share = float((alpha[..., 0] < 1).mean())
    note = (
        f"composited the transparency ({share:.0%} of the pixels) onto "
        f"{'white' if background else 'black'}, to contrast with the "
        f"{'dark' if background else 'light'} strokes"
    )
    return flat, note


def _grey(im):
    """A Pillow image as float32 greyscale in [0, 1], shape (H, W)."""
    return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def _border(a):
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _resize(a, size):
    """``a`` (H, W) float in [0, 1] -> ``size`` = (H', W'), anti-aliased (Pillow's Lanczos)."""
    Image, _ = _pil()
    im = Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8), "L")
    return (
        np.asarray(
            im.resize((size[1], size[0]), Image.Resampling.LANCZOS), dtype=np.float32
        )
        / 255.0
    )


def mnist_like(grey):
    """``(28x28 float32 in [0, 1], notes)``: MNIST's own preparation of a greyscale picture.

    1. invert when the background (the median of the border pixels) is light;
    2. subtract the background's level and stretch the ink to 1 (paper in a photo is grey, not black);
    3. crop to the ink (pixels above :data:`INK_THRESHOLD` of the brightest);
    4. fit that into 20x20 keeping the aspect ratio;
    5. place it in 28x28 with its centre of mass at the centre.
    """
    notes = []
    a = np.asarray(grey, dtype=np.float32)
    background = float(np.median(_border(a)))
    if background > 0.5:
        a = 1.0 - a
        background = 1.0 - background
        notes.append(
            "inverted the image: its background is light and MNIST digits are white on black"
        )
    a = np.clip(a - background, 0, None)
    peak = float(a.max())
    if peak <= 1e-3:
        notes.append(
            "found no ink (the image is one flat colour): the model sees a blank image"
        )
        return np.zeros(MNIST_SHAPE[:2], np.float32), notes
    a = a / peak
    rows, cols = np.nonzero(a > INK_THRESHOLD)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    ink = np.where(a > INK_THRESHOLD * 0.5, a, 0.0)[
        top:bottom, left:right
    ]  # drop the paper's faint noise
    h, w = ink.shape
    scale = MNIST_BOX / max(h, w)
    fitted = (max(1, round(h * scale)), max(1, round(w * scale)))
    box = _resize(ink, fitted)
    total = float(box.sum())
    if total > 0:
        cy = float((box.sum(axis=1) * np.arange(fitted[0])).sum() / total)
        cx = float((box.sum(axis=0) * np.arange(fitted[1])).sum() / total)
    else:
        cy, cx = (fitted[0] - 1) / 2, (fitted[1] - 1) / 2
    side = MNIST_SHAPE[0]
    # the offset that puts the centre of mass at pixel (14, 14), where MNIST's digits have it
    # (their mean is (13.99, 14.03) in the bundled sample), kept inside the canvas
    y0 = int(np.clip(round(side / 2 - cy), 0, side - fitted[0]))
    x0 = int(np.clip(round(side / 2 - cx), 0, side - fitted[1]))
    out = np.zeros((side, side), np.float32)
    out[y0 : y0 + fitted[0], x0 : x0 + fitted[1]] = box
    notes.append(
        f"prepared as MNIST was made: cropped to the ink ({w}x{h} px at x={left}, y={top}), "
        f"fitted into {MNIST_BOX}x{MNIST_BOX} keeping the aspect ratio ({fitted[1]}x{fitted[0]}), "
        f"placed by its centre of mass in {side}x{side}"
    )
    return out, notes


def prepare(im, input_shape):
    """A picture -> ``(array of input_shape, float32 in [0, 1], notes)`` for a model reading
    one sample of ``input_shape`` = ``(H, W, C)``.

    A 28x28x1 model gets :func:`mnist_like`; any other model the image converted to its
    channels (1: greyscale, 3: RGB) and resized to ``(H, W)``, nothing else."""
    im, note = flatten_alpha(im)
    notes = [note] if note else []
    height, width, channels = (int(s) for s in input_shape)
    if (height, width, channels) == MNIST_SHAPE:
        x, more = mnist_like(_grey(im))
        return x[:, :, None], notes + more
    if channels == 1:
        x = _resize(_grey(im), (height, width))[:, :, None]
    elif channels == 3:
        Image, _ = _pil()
        x = (
            np.asarray(
                im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS),
                np.float32,
            )
            / 255.0
        )
    else:
        raise CnnlabError(
            f"an image file has 1 (greyscale) or 3 (RGB) channels; this model reads {channels}. "
            f"Received: input shape {tuple(input_shape)}"
        )
    notes.append(
        f"converted to {'greyscale' if channels == 1 else 'RGB'} and resized from "
        f"{im.width}x{im.height} to {width}x{height}; MNIST's preparation (crop, 20x20 box, centre "
        f"of mass, inversion) is only for models that read 28x28x1 images"
    )
    return x.astype(np.float32), notes
