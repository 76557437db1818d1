"""Reading a picture of a digit the way MNIST shows one: greyscale, white on black, 28x28, in [0, 1]."""
from __future__ import annotations

import os

import numpy as np

from ..errors import CnnlabError


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise CnnlabError("reading images needs Pillow: pip install 'cnnlab[plots]'") from None
    return Image, ImageOps


def read_image(path):
    """Open ``path`` (PNG, JPEG, ...) as an upright greyscale Pillow image, or raise a CnnlabError."""
    Image, ImageOps = _pil()
    if not os.path.isfile(path):
        raise CnnlabError(f"no such image file: {path}. Received: {path!r}")
    try:
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("L")
    except OSError as e:  # Pillow's UnidentifiedImageError is an OSError
        raise CnnlabError(f"{path} is not an image Pillow can read (PNG or JPEG expected): {e}. "
                          f"Received: {path!r}") from None


def to_mnist(im, size=(28, 28), channels=1):
    """A greyscale image -> ``(array (H, W, channels) float32 in [0, 1], inverted)``.

    Inverted when it looks like a dark digit on a light background (mean > 127;
    MNIST digits are white on black), padded with black to a square so the
    digit keeps its proportions, resized to ``size`` = ``(H, W)`` with a Lanczos filter.
    """
    Image, ImageOps = _pil()
    inverted = float(np.asarray(im).mean()) > 127
    if inverted:
        im = ImageOps.invert(im)
    if im.width != im.height:
        side = max(im.size)
        square = Image.new("L", (side, side), 0)
        square.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
        im = square
    height, width = size
    im = im.resize((width, height), Image.Resampling.LANCZOS)
    x = np.asarray(im, dtype=np.float32) / 255.0
    return np.repeat(x[:, :, None], channels, axis=2), inverted
