"""Write ``.keras`` files with cnnlab, for the other direction of the Keras round trip.

Builds the fixture architectures of ``tests/fixtures/keras/layer_models.py`` with
``cnnlab.keras``, trains each for two steps, and writes ``<name>.keras`` and ``<name>_io.npz``
(``x`` and cnnlab's predictions ``y``) into the folder given (default ``/tmp/cnnlab_files``).
Then real Keras loads them and compares its predictions::

    PYTHONPATH=. .venv/bin/python scripts/make_cnnlab_files.py /tmp/cnnlab_files
    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_layer_fixtures.py --check \\
        /tmp/cnnlab_files/conv_variants.keras /tmp/cnnlab_files/conv_variants_io.npz ...
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "keras"))
from layer_models import (
    causal_model,
    conv_variants_model,
    reshaping_model,
    volumes_model,
)  # noqa: E402

from cnnlab import keras  # noqa: E402

MODELS = {
    "conv_variants": (conv_variants_model, (12, 12, 4), 3),
    "causal": (causal_model, (20, 3), 2),
    "reshaping": (reshaping_model, (9, 10, 3), None),
    "volumes": (volumes_model, (4, 5, 3, 2), None),
}


def main(out=Path("/tmp/cnnlab_files")):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (build, shape, classes) in MODELS.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(1)
        model = build(keras)
        x = rng.normal(size=(4, *shape)).astype("float32") * (
            60 if name == "reshaping" else 1
        )
        units = model.output_shape[-1]
        y = (
            rng.integers(0, classes, 4)
            if classes
            else rng.normal(size=(4, units)).astype("float32")
        )
        for _ in range(2):
            model.train_on_batch(x, y)
        model.save(out / f"{name}.keras")
        np.savez(out / f"{name}_io.npz", x=x, y=model.predict(x, verbose=0))
        print(f"{out / name}.keras")
    return 0


if __name__ == "__main__":
    sys.exit(
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/cnnlab_files"))
    )
