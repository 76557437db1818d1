"""The main job behind ``make demo``.

For now: the seed-000 convolution, its feature map and the output-size arithmetic.
"""
import numpy as np

from . import ops


def seed_000():
    image = np.array([[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float32)
    kernel = np.array([[1, 0, -1]] * 3, dtype=np.float32)
    feature_map, _ = ops.conv_forward(image[None, :, :, None], kernel[:, :, None, None])
    print("Seed 000: 4x4 input, 3x3 filter [1, 0, -1] per row, stride 1, no padding")
    print("output size:", ops.shapes.size_arithmetic(4, 3), "per side")
    print("feature map:\n", feature_map[0, :, :, 0])


def main():
    seed_000()


if __name__ == "__main__":
    main()
