"""Where cnnlab's training time goes: per layer and phase (forward, backward),
the optimizer, and the data handling between steps.

    .venv/bin/python benchmarks/profile_train.py [--model seed004|cifar] [--batch-size 128] [--images 12800]
                                                [--threads 2]

Trains the seed-004 model for one pass over the first ``--images`` MNIST
training images (``--model cifar``: the CIFAR-style Conv-BN-ReLU model of
common.build_cifar_model on synthetic CIFAR-shaped data) under :class:`cnnlab.model.profile.Profiler` and prints the
table. With the batch split across threads, layer times are thread-seconds.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402

common.clean_environment()

import numpy as np  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(common.DEFAULT_DATA))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=12800)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", choices=("seed004", "cifar"), default="seed004")
    args = parser.parse_args(argv)
    common.setup_threads(args.threads, torch_too=False)
    from cnnlab.model.profile import Profiler

    if args.model == "seed004":
        (x, y), _ = common.load_mnist(args.data)
        x, y = common.as_model_input(x[: args.images]), y[: args.images]
        model = common.build_cnnlab_model(seed=0, metrics=())
    else:
        rng = np.random.default_rng(0)
        x = (
            rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
            / np.float32(255.0)
        ).astype(np.float32)
        y = rng.integers(0, 10, args.images)
        model = common.build_cifar_model(seed=0, metrics=())
    model.fit(
        x[: 4 * args.batch_size],
        y[: 4 * args.batch_size],
        batch_size=args.batch_size,
        verbose=0,
    )  # warm-up
    with Profiler(model) as profile:
        model.fit(x, y, batch_size=args.batch_size, verbose=0)
    print(
        f"{args.model} model, batch {args.batch_size}, {len(x)} images, {args.threads} threads"
    )
    print(profile.report())
    print(f"{len(x) / profile.wall:,.0f} images/s")


if __name__ == "__main__":
    main()
