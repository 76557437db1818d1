"""Images per second of the image-folder pipeline alone, of training alone, and of both
together: serially (decode, then train, one after the other) and with the pipeline's
background threads and prefetch (what ``image_dataset_from_directory`` returns).

    PYTHONPATH=. python benchmarks/data_pipeline.py [--images 3000] [--image-size 32] [--epochs 1]

It writes a folder of generated colour pictures of shapes (tests/faces/shape_images.py)
into a temporary directory, then measures (one pass each, after a warm-up pass):

* pipeline: iterating ``image_dataset_from_directory(...)`` (decode, resize, batch;
  threads + prefetch), no model;
* training: ``fit`` on the same images already in memory as one array;
* serial: ``fit`` on a data set that decodes each batch in the training thread
  (``Dataset.map`` without threads, no prefetch): the two costs add up;
* overlapped: ``fit`` on ``image_dataset_from_directory``'s data set: decoding runs in
  background threads while the model trains.

With overlap the combined rate approaches the slower of the two; serially it is
``1 / (1/pipeline + 1/training)``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "faces"))


def main(argv=None):
    from shape_images import write_shapes

    from cnnlab import keras, specs
    from cnnlab.data import Dataset, image_dataset_from_directory
    from cnnlab.data.directory import index_directory
    from cnnlab.data.images import load_and_resize
    from cnnlab.faces import image_folder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=3000)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    size = (args.image_size, args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_shapes(
            os.path.join(tmp, "shapes"), per_class=args.images // 3, sizes=(40, 120)
        )
        n = 3 * (args.images // 3)

        def dataset():
            return image_folder.scaled(
                image_dataset_from_directory(
                    folder,
                    image_size=size,
                    batch_size=args.batch_size,
                    seed=0,
                    verbose=False,
                )
            )

        def model():
            spec = image_folder.spec_for(specs.default_spec(), size, 3, 3, custom=False)
            keras.utils.set_random_seed(0)
            m = specs.build_model(spec)
            m.compile(**specs.compile_args(spec))
            return m

        def rate(fn):
            fn()  # warm-up: file cache, allocator, threads
            start = time.perf_counter()
            fn()
            return n / (time.perf_counter() - start)

        pipeline = rate(lambda: sum(len(x) for x, _ in dataset()))
        x = np.concatenate([xb for xb, _ in dataset()])
        y = np.concatenate([yb for _, yb in dataset()])
        m = model()
        training = rate(
            lambda: m.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
        )
        paths, labels, _ = index_directory(folder, "inferred", seed=0, verbose=False)

        def serial_data():
            def load(i):
                return (
                    load_and_resize(paths[int(i)], size, 3) * np.float32(1 / 255),
                    labels[int(i)],
                )

            return (
                Dataset.from_tensor_slices(np.arange(len(paths)))
                .map(load)
                .batch(args.batch_size)
            )

        m = model()
        serial = rate(lambda: m.fit(serial_data(), epochs=1, verbose=0))
        m = model()
        overlapped = rate(lambda: m.fit(dataset(), epochs=1, verbose=0))
    print(
        f"{n} images of 40-120 px decoded and resized to {size[0]}x{size[1]}x3, the seed-004 CNN, batch "
        f"{args.batch_size}, {os.cpu_count()} CPUs"
    )
    print(f"  pipeline alone (threads + prefetch):   {pipeline:8.0f} images/s")
    print(f"  training alone (arrays in memory):     {training:8.0f} images/s")
    print(
        f"  both, serially (no threads/prefetch):  {serial:8.0f} images/s   "
        f"(1/(1/p + 1/t) = {1 / (1 / pipeline + 1 / training):.0f})"
    )
    print(
        f"  both, overlapped (threads + prefetch): {overlapped:8.0f} images/s   "
        f"({overlapped / training:.0%} of training alone)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
