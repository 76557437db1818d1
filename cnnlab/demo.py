"""The main job behind ``make demo``.

First the seed-000 convolution, its feature map and the output-size arithmetic;
then ``cnnlab train --epochs 2 --out runs/demo``: the seed-004 CNN trained on
the MNIST sample bundled with cnnlab (well under a minute), its Keras summary,
the test accuracy and the files written; last ``cnnlab explain
runs/demo/model.keras --out runs/demo/explain``: what that model learned
(filters, feature maps, Grad-CAM, one convolution traced), as PNGs and one
self-contained ``report.html``; and last the interactive explainer beside it
(``cnnlab explain ... --interactive``: ``explainer.html``, to click through every feature
map, the arithmetic of any cell and Grad-CAM for any class). It prints both paths.
"""

import os
import sys

import numpy as np

from . import ops


def seed_000():
    image = np.array(
        [[1, 2, 1, 0], [0, 1, 3, 2], [2, 1, 0, 1], [1, 0, 1, 2]], dtype=np.float32
    )
    kernel = np.array([[1, 0, -1]] * 3, dtype=np.float32)
    feature_map, _ = ops.conv_forward(image[None, :, :, None], kernel[:, :, None, None])
    print("Seed 000: 4x4 input, 3x3 filter [1, 0, -1] per row, stride 1, no padding")
    print("output size:", ops.shapes.size_arithmetic(4, 3), "per side")
    print("feature map:\n", feature_map[0, :, :, 0])


def main(argv=None):
    """Run the demo; extra arguments go to ``cnnlab train`` (``--data DIR`` for full
    MNIST, which the explain report then uses for its test images too)."""
    import argparse

    from . import cli

    argv = list(sys.argv[1:] if argv is None else argv)
    seed_000()
    run_dir = os.path.join("runs", "demo")
    print(
        "\nSeed 004: the CNN on the MNIST sample (cnnlab train --epochs 2 --out runs/demo)\n"
    )
    code = cli.main(["train", "--epochs", "2", "--out", run_dir, *argv])
    if code != 0:
        return code
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data")
    known, _ = data.parse_known_args(argv)
    model_path, out = (
        os.path.join(run_dir, "model.keras"),
        os.path.join(run_dir, "explain"),
    )
    print(f"\nWhat it learned (cnnlab explain {model_path} --out {out})\n")
    code = cli.main(
        [
            "explain",
            model_path,
            "--out",
            out,
            *(["--data", known.data] if known.data else []),
        ]
    )
    if code != 0:
        return code
    print(
        f"\nThe interactive explainer (cnnlab explain {model_path} --out {out} --interactive)\n"
    )
    code = cli.main(
        [
            "explain",
            model_path,
            "--out",
            out,
            "--interactive",
            *(["--data", known.data] if known.data else []),
        ]
    )
    if code == 0:
        print(
            f"\nOpen the report in a browser: {os.path.abspath(os.path.join(out, 'report.html'))}"
        )
        print(
            f"Click through the model: {os.path.abspath(os.path.join(out, 'explainer.html'))}"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
