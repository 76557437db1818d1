"""Write docs/keras_names.json: every public name of the Keras 3 namespaces that cnnlab mirrors.

Run once with real Keras (the docs build then compares it with cnnlab's namespaces, so the table cannot
go stale):

    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch python scripts/make_keras_names.py
"""

import importlib
import inspect
import json
import os
import sys

NAMESPACES = [
    "layers",
    "activations",
    "losses",
    "metrics",
    "optimizers",
    "optimizers.schedules",
    "callbacks",
    "initializers",
    "regularizers",
    "constraints",
    "ops",
    "models",
    "utils",
    "datasets",
    "applications",
]


def kind(value):
    if inspect.ismodule(value):
        return "module"
    if inspect.isclass(value):
        return "class"
    return "function" if callable(value) else "constant"


def main():
    import keras

    names = {}
    for space in NAMESPACES:
        module = importlib.import_module(f"keras.{space}")
        names[space] = {
            n: kind(getattr(module, n))
            for n in sorted(dir(module))
            if not n.startswith("_")
        }
        # optimizers.schedules is listed on its own, not as a name of optimizers
        names[space] = {
            n: k for n, k in names[space].items() if f"{space}.{n}" not in NAMESPACES
        }
    path = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "docs",
        "keras_names.json",
    )
    with open(path, "w", encoding="utf-8") as f:
        json.dump(
            {"keras_version": keras.__version__, "namespaces": names},
            f,
            indent=1,
            sort_keys=True,
        )
        f.write("\n")
    print(
        f"{path}: {sum(map(len, names.values()))} names of Keras {keras.__version__}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
