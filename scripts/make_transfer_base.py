"""Pretrain a small MobileNetV2 base on generated pictures; write it as a Keras weights file.

    python scripts/make_transfer_base.py [--out tests/fixtures/applications/transfer_base.weights.h5]

The committed file was made in two runs (about 15 minutes on a busy two-core machine)::

    python scripts/make_transfer_base.py --per-class 250 --epochs 15 --out /tmp/stage1.weights.h5
    python scripts/make_transfer_base.py --per-class 250 --epochs 12 --learning-rate 1e-3 \
        --init /tmp/stage1.weights.h5

Offline there are no ImageNet weights, so the transfer-learning test, the CLI test and the example
need a base that has learned *something*: this is keras.applications.MobileNetV2(alpha=0.35,
include_top=False, input_shape=(32, 32, 3)) trained on the source kinds of
``cnnlab.data.synthetic_photos`` (stripes, checks, rings, circles, squares, crosses) with a
throw-away head. The target kinds (triangles, grids of thin lines, diamonds) are never shown to it. Training runs
in PyTorch on the twin of the cnnlab network (benchmarks/application_twins.py: same layers, same
weights), for speed; the weights come back into the cnnlab model, which writes the file
(``save_weights``, Keras's .weights.h5 layout) and checks that it reads back to the same outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "benchmarks"), os.path.join(HERE, "..")]

SIZE = 32  # small pictures: the fixture is made in minutes on two cores, the tests train in seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "..", "tests", "fixtures", "applications",
                                                      "transfer_base.weights.h5"))  # fmt: skip
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--init", metavar="PATH", help="start from this weights file (train on)"
    )
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument(
        "--threads", type=int, default=1
    )  # on a busy machine 2 threads spin-wait
    args = parser.parse_args(argv)

    import application_twins
    import torch

    from cnnlab import keras
    from cnnlab.data import synthetic_photos

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        alpha=0.35, include_top=False, weights=args.init, input_shape=(SIZE, SIZE, 3)
    )
    twin = application_twins.torch_twin(base)
    for module in twin.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = (
                0.1  # the moving statistics follow the training within these few steps
            )
    head = torch.nn.Linear(base.output_shape[-1], len(synthetic_photos.SOURCE))
    x, y = synthetic_photos.batch(
        synthetic_photos.SOURCE, args.per_class, seed=1, size=SIZE
    )
    xv, yv = synthetic_photos.batch(synthetic_photos.SOURCE, 30, seed=2, size=SIZE)
    prep = lambda a: application_twins.nchw(a.astype(np.float32) / 127.5 - 1)  # noqa: E731  (preprocess_input "tf")
    xt, yt, xvt = prep(x), torch.from_numpy(y), prep(xv)
    params = list(twin.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=args.learning_rate)
    start = time.time()
    for epoch in range(args.epochs):
        twin.train()
        order = torch.randperm(len(yt))
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            loss = torch.nn.functional.cross_entropy(
                head(twin(xt[idx]).mean(dim=(2, 3))), yt[idx]
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        twin.eval()
        with torch.inference_mode():
            acc = (head(twin(xvt).mean(dim=(2, 3))).argmax(1).numpy() == yv).mean()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}, source validation accuracy {acc:.3f} "
              f"({time.time() - start:.0f} s)", flush=True)  # fmt: skip
    application_twins.copy_weights_to_cnnlab(twin)
    expected = application_twins.twin_outputs(
        twin, xv[:8].astype(np.float32) / 127.5 - 1
    )
    got = base.predict(xv[:8].astype(np.float32) / 127.5 - 1, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    base.save_weights(args.out)
    again = keras.applications.MobileNetV2(
        alpha=0.35, include_top=False, weights=args.out, input_shape=(SIZE, SIZE, 3)
    )
    np.testing.assert_array_equal(
        again.predict(xv[:8].astype(np.float32) / 127.5 - 1, verbose=0), got
    )
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
