"""Write the sample digit pictures that ship in the package (``cnnlab/data/digits/``).

``digit_0.png`` ... ``digit_9.png``: the first test image of each class in the bundled
MNIST sample, as MNIST has it (white on black, 28x28). Two of the 7 as people make
pictures of digits: ``digit_photo.png`` (dark on light paper with some noise, small,
near a corner of a 320x240 picture) and ``digit_transparent.png`` (black strokes drawn in
the alpha channel of a 200x200 RGBA image, as drawing apps export). ``cnnlab samples``
copies them out, with ``digit.png`` (the 7) for the README's commands.

    python scripts/make_sample_digits.py
"""

import os

import numpy as np
from PIL import Image

from cnnlab.data.mnist import load_sample

OUT = os.path.join(os.path.dirname(__file__), "..", "cnnlab", "data", "digits")


def main():
    os.makedirs(OUT, exist_ok=True)
    _, (xt, yt) = load_sample()
    for k in range(10):
        Image.fromarray(xt[np.flatnonzero(yt == k)[0]]).save(
            os.path.join(OUT, f"digit_{k}.png"), optimize=True
        )
    seven = xt[np.flatnonzero(yt == 7)[0]]
    rng = np.random.default_rng(0)
    paper = np.full((240, 320), 222.0) + rng.normal(0, 5, (240, 320))
    big = np.asarray(
        Image.fromarray(seven).resize((64, 64), Image.Resampling.BICUBIC), np.float64
    )
    paper[20:84, 24:88] -= big * 0.75
    Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).save(
        os.path.join(OUT, "digit_photo.png"), optimize=True
    )
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[30:170, 30:170, 3] = np.asarray(
        Image.fromarray(seven).resize((140, 140), Image.Resampling.BICUBIC)
    )
    Image.fromarray(rgba, "RGBA").save(
        os.path.join(OUT, "digit_transparent.png"), optimize=True
    )


if __name__ == "__main__":
    main()
