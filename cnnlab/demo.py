"""The main job behind ``make demo``.

First the seed-000 convolution, its feature map and the output-size arithmetic;
then ``cnnlab train --epochs 2 --out runs/demo``: the seed-004 CNN trained on
the MNIST sample bundled with cnnlab (well under a minute), its Keras summary,
the test accuracy and the files written.
"""
import os
import sys

import numpy as np

from . import ops


def seed_000():
    image = np.array([[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float32)
    kernel = np.array([[1, 0, -1]] * 3, dtype=np.float32)
    feature_map, _ = ops.conv_forward(image[None, :, :, None], kernel[:, :, None, None])
    print("Seed 000: 4x4 input, 3x3 filter [1, 0, -1] per row, stride 1, no padding")
    print("output size:", ops.shapes.size_arithmetic(4, 3), "per side")
    print("feature map:\n", feature_map[0, :, :, 0])


def main(argv=None):
    """Run the demo; extra arguments go to ``cnnlab train`` (``--data DIR`` for full MNIST)."""
    from . import cli
    seed_000()
    print("\nSeed 004: the CNN on the MNIST sample (cnnlab train --epochs 2 --out runs/demo)\n")
    return cli.main(["train", "--epochs", "2", "--out", os.path.join("runs", "demo"),
                     *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
