"""A process that saves a large model file over and over, for the atomic-save kill test
(tests/model/test_atomic_kill.py).

    python atomic_child.py PATH [--die-in write|fsync|replace]

The model is one Dense layer 2048 -> 6144 (about 50 MB of float32). Save number ``g``
(g = 1, 2, ...) writes every weight filled with the value ``g``, then prints ``saved g``.
The file's format follows PATH's extension (.keras, .weights.h5, .safetensors).

``--die-in PHASE`` makes the process SIGKILL itself inside the second save, at a chosen
moment of ``cnnlab.atomic``: in the middle of writing the temporary file,
in its ``fsync``, or just before the ``os.replace`` that puts it in place.
"""

import os
import signal
import sys

import numpy as np


def main(argv):
    path = argv[0]
    die_in = argv[argv.index("--die-in") + 1] if "--die-in" in argv else None
    from cnnlab import atomic, keras

    model = keras.Sequential(
        [
            keras.Input(shape=(2048,)),
            keras.layers.Dense(6144, kernel_initializer="zeros"),
        ]
    )
    save = model.save if path.endswith(".keras") else model.save_weights
    generation = {"g": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if die_in is not None:
        real_fsync, real_replace, real_fdopen = os.fsync, os.replace, os.fdopen

        def fsync(fd):
            if die_in == "fsync" and generation["g"] == 2:
                die()
            return real_fsync(fd)

        def replace(src, dst):
            if die_in == "replace" and generation["g"] == 2:
                die()
            return real_replace(src, dst)

        class HalfWriter:
            """The temporary file, killed after half of the bytes of save 2."""

            def __init__(self, f):
                self.f = f

            def write(self, data):
                if generation["g"] == 2:
                    view = memoryview(data)
                    self.f.write(view[: len(view) // 2])
                    self.f.flush()
                    die()
                return self.f.write(data)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return self.f.__exit__(*exc)

        def fdopen(fd, *args, **kwargs):
            f = real_fdopen(fd, *args, **kwargs)
            return HalfWriter(f) if die_in == "write" else f

        atomic.os.fsync, atomic.os.replace = fsync, replace
        atomic.os.fdopen = fdopen

    while True:
        generation["g"] += 1
        g = generation["g"]
        model.set_weights(
            [np.full(w.shape, g, dtype=w.dtype) for w in model.get_weights()]
        )
        save(path)
        print(f"saved {g}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
