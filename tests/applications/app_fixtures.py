"""Reading tests/fixtures/applications/ (written by scripts/make_application_fixtures.py with Keras 3.15.1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from cnnlab import applications
from cnnlab.layers import clear_session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "applications"
sys.path.insert(0, str(FIXTURES))
import recipe  # noqa: E402  (the seeded weights the fixture script gave Keras)

DATA = json.loads((FIXTURES / "applications.json").read_text())
CASES = DATA["cases"]


def kwargs_of(entry):
    return {
        k: tuple(v) if isinstance(v, list) else v for k, v in entry["kwargs"].items()
    }


def build(entry, **extra):
    """cnnlab's model for a fixture entry, in a fresh naming session (as the script built Keras's)."""
    clear_session()
    function = getattr(getattr(applications, entry["module"]), entry["function"])
    return function(**{"weights": None, **kwargs_of(entry), **extra})


def relative_difference(got, expected):
    """max |got - expected| / max |expected|: the error relative to the output's scale."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def predict(model, entry, case):
    io = np.load(FIXTURES / f"{case}_io.npz", allow_pickle=False)
    module = getattr(applications, entry["module"])
    x = module.preprocess_input(io["x"].astype(np.float32))
    return model.predict(x, verbose=0), io["y"]


def seeded_weights(model, seed):
    """The recipe's arrays for ``model``'s layers, in model order (as the script drew them for Keras)."""
    spec = [
        (
            layer.name,
            type(layer).__name__,
            [(n, tuple(w.shape)) for n, w in zip(layer.weight_names, layer.weights)],
        )
        for layer in model.layers
    ]
    return recipe.layer_weights(seed, spec)


def write_from_manifest(path, manifest, values):
    """Rebuild the ``.weights.h5`` file Keras wrote (its layout from the manifest), with ``values``."""
    import h5py

    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = manifest["root_name"]
        for group in manifest["groups"]:
            f.require_group(group["path"]).attrs["name"] = group["name"]
        for ds in manifest["datasets"]:
            f[ds["path"]] = values[ds["layer"]][ds["index"]].astype(ds["dtype"])
