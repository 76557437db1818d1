"""Write the real-Keras fixtures of keras.applications part 2 (Xception, EfficientNet, DenseNet) and of
the layers they brought (Normalization, Dropout's noise_shape, per-channel Rescaling) into
tests/fixtures/keras/applications2/::

    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_application_fixtures2.py [names]

Keras 3.15.1, torch backend. Names: ``layers``, ``xception``, ``efficientnetb0``, ``densenet121``,
``counts`` (all when none is given).

Per architecture ``<arch>`` and ``top`` in (``top``, ``notop``), built with ``weights=None`` at the
smallest input Keras allows (Xception 71x71, EfficientNet and DenseNet 32x32), with ``classes=10`` when
the top is included:

* ``<arch>_<top>.weights.h5.xz``: the model's ``save_weights`` file, byte for byte, compressed with xz.
  The full-size files are 21-92 MB, too big for the repository; the weights are seeded random but
  *tiled*: each tensor is its own random vector of a prime length (:data:`PERIOD`) repeated, so xz
  shrinks a file a hundredfold while a weight put in the wrong tensor, the wrong layer or the wrong
  layout still changes the predictions (the period divides no axis length, so a transposed kernel
  reads other values). Kernels are scaled as He initialization scales them, BatchNormalization's
  gamma and beta spread around 1 and 0, its moving statistics near the real ones
  (:func:`calibrate_batch_norm`), the classifier's logits about 2 apart (:func:`spread_logits`), and
  EfficientNet's Normalization holds a non-trivial per-channel mean and variance.
  The model without the top holds the same weights as the one with it, less the classifier.
* ``<arch>_<top>_io.npz``: ``x`` (a few images, pixel values 0-255), ``x_pre`` (Keras's
  ``<module>.preprocess_input(x)``) and ``y`` (Keras's predictions on ``x_pre``).
* ``<arch>.json``: per top, Keras's parameter counts (total, trainable, non-trainable), the summary's
  three total lines, and the layers' names and classes in ``model.layers`` order.

``counts.json``: parameter counts with and without the top (classes=1000) of the three networks and the
rest of their families (EfficientNetB1-B7, DenseNet169/201), to check the shared code builds them as
Keras does.

``layers``: ``layers.keras`` and ``layers_io.npz``: a small model with two adapted Normalization layers
(one over an array, one over a list of batches), one with a given mean and variance, an inverted one,
a per-channel Rescaling, a Dropout with ``noise_shape`` and a squeeze-and-excite multiply of (N, 1, 1, C)
by (N, H, W, C); ``adapt.npz``: Keras's adapted statistics for array and batched data over several axes.

Every ``.npz`` holds plain numeric arrays: the tests read them with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import lzma
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402  (real Keras 3, not cnnlab)
from keras.src.applications import densenet, efficientnet, xception  # noqa: E402
from keras.src.layers.preprocessing import normalization as keras_normalization  # noqa: E402

# Normalization.adapt asks whether its data is a tf.data.Dataset before it takes it as an iterable of
# batches, which imports TensorFlow (not installed here): answer "no" with a class nothing is an instance of.
keras_normalization.tf = types.SimpleNamespace(
    data=types.SimpleNamespace(Dataset=type("NoDataset", (), {}))
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras" / "applications2"
#: The length of each tensor's random vector, repeated to fill it: a prime, so that it divides no axis.
PERIOD = 509

ARCHITECTURES = {
    # name: (builder, module, input size)
    "xception": (xception.Xception, xception, 71),
    "efficientnetb0": (efficientnet.EfficientNetB0, efficientnet, 32),
    "densenet121": (densenet.DenseNet121, densenet, 32),
}


def fan_in(path, shape):
    """The inputs each output of the weight sums over (He's fan in)."""
    if path.endswith(
        "depthwise_kernel"
    ):  # (kh, kw, in, depth multiplier): one input channel
        return int(np.prod(shape[:-2]))
    return int(np.prod(shape[:-1]))


def tiled(rng, size):
    return np.resize(rng.standard_normal(PERIOD), size)


def tiled_weights(model, seed):
    """Seeded tiled weights for every variable of ``model``, in ``model.weights`` order."""
    rng = np.random.default_rng(seed)
    values = []
    for v in model.weights:
        shape, path = tuple(v.shape), v.path
        kind = path.rsplit("/", 1)[-1]
        size = int(np.prod(shape))
        if kind.endswith("kernel"):
            # He's scale keeps ReLU/swish activations about unit size through a deep stack; the
            # classifier's 1/fan_in keeps its logits about 1, so the softmax is not saturated.
            gain = 1.0 if path.startswith("predictions/") else 2.0
            value = tiled(rng, size) * np.sqrt(gain / fan_in(path, shape))
        elif kind == "bias":
            value = 0.05 * tiled(rng, size)
        elif kind == "gamma":
            value = 1.0 + 0.2 * tiled(rng, size)
        elif kind in ("beta", "moving_mean"):
            value = 0.1 * tiled(rng, size)
        elif kind == "moving_variance":
            value = np.exp(0.3 * tiled(rng, size))
        elif kind == "mean":  # Normalization's, on pixels rescaled to [0, 1]
            value = 0.45 + 0.05 * rng.standard_normal(size)
        elif kind == "variance":
            value = 0.06 * np.exp(0.2 * rng.standard_normal(size))
        elif kind == "count":
            value = np.asarray(0)
        else:
            raise ValueError(f"no rule for weight {path}")
        values.append(np.asarray(value, dtype=v.dtype).reshape(shape))
    return values


def calibrate_batch_norm(model, module, rng):
    """Moving statistics near the real ones, so that activations stay about unit size through the
    network (random statistics would let them grow layer after layer). Layer by layer, in the
    model's order, each BatchNormalization's moving statistics are set from its input on other random
    images in inference mode (what it sees once the layers before it are set), moved off at random
    (a fifth of a standard deviation, a variance factor between about 0.7 and 1.4) and floored at a
    tenth of the squared mean plus 0.01 (deep in a network, images this alike differ little, and a
    tiny variance would blow a test image's small difference up)."""
    calibration = np.asarray(
        module.preprocess_input(
            np.round(rng.uniform(0, 255, (6, *model.input.shape[1:])))
        ),
        dtype="float32",
    )
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        features = keras.Model(model.input, layer.input).predict(calibration, verbose=0)
        gamma, beta = (np.asarray(w) for w in layer.get_weights()[:2])
        mean, var = features.mean(axis=(0, 1, 2)), features.var(axis=(0, 1, 2))
        mean_out = mean + 0.2 * np.sqrt(var) * tiled(rng, mean.size)
        var_out = (var + 0.1 * mean**2 + 0.01) * np.exp(0.3 * tiled(rng, var.size))
        layer.set_weights(
            [gamma, beta, mean_out.astype("float32"), var_out.astype("float32")]
        )


def spread_logits(model, x_pre, target=2.0):
    """Scale the classifier's kernel so that its logits spread about ``target``: predictions that
    are not all about 1/classes, so that a wrong feature shows in the softmax."""
    dense = model.get_layer("predictions")
    features = keras.Model(model.input, dense.input).predict(x_pre, verbose=0)
    kernel, bias = (np.asarray(w) for w in dense.get_weights())
    logits = features @ kernel
    dense.set_weights([kernel * (target / logits.std()), bias])


def summary_totals(model):
    lines = []
    model.summary(
        line_length=100, print_fn=lambda line, line_break=True: lines.append(line)
    )
    text = "".join(lines)
    return [line.strip() for line in text.splitlines() if "params:" in line]


def counts(model):
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    non_trainable = int(sum(np.prod(v.shape) for v in model.non_trainable_weights))
    return {
        "total": model.count_params(),
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


def application(name):
    build, module, size = ARCHITECTURES[name]
    OUT.mkdir(parents=True, exist_ok=True)
    facts = {}
    rng = np.random.default_rng(20)
    x = np.round(rng.uniform(0, 255, (2, size, size, 3))).astype("float32")
    for top in ("top", "notop"):
        keras.backend.clear_session()  # the automatic layer names of a fresh session
        kwargs = (
            {"include_top": True, "classes": 10}
            if top == "top"
            else {"include_top": False}
        )
        model = build(weights=None, input_shape=(size, size, 3), **kwargs)
        x_pre = np.asarray(module.preprocess_input(x.copy()))
        if top == "top":
            model.set_weights(tiled_weights(model, seed=len(name)))
            calibrate_batch_norm(model, module, rng)
            spread_logits(model, x_pre)
            with_top = model
        else:  # the same base (calibrating takes minutes); its own file and predictions
            for layer in model.layers:
                if layer.weights:
                    layer.set_weights(with_top.get_layer(layer.name).get_weights())
        y = np.asarray(model.predict(x_pre, verbose=0))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "w.weights.h5"
            model.save_weights(path)
            data = path.read_bytes()
        (OUT / f"{name}_{top}.weights.h5.xz").write_bytes(
            lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
        )
        np.savez(OUT / f"{name}_{top}_io.npz", x=x, x_pre=x_pre, y=y)
        facts[top] = {
            "params": counts(model),
            "summary_totals": summary_totals(model),
            "layers": [[layer.name, type(layer).__name__] for layer in model.layers],
            "output_shape": list(model.output.shape),
            "weights_file_bytes": len(data),
        }
        print(
            name,
            top,
            facts[top]["params"],
            "y range",
            float(np.abs(y).max()),
            float(y.std()),
        )
    (OUT / f"{name}.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")


def family_counts():
    result = {}
    builders = {
        "Xception": xception.Xception,
        "EfficientNetB0": efficientnet.EfficientNetB0,
    }
    builders["DenseNet121"] = densenet.DenseNet121
    builders |= {
        f"EfficientNetB{i}": getattr(efficientnet, f"EfficientNetB{i}")
        for i in range(1, 8)
    }
    builders.update(
        {f"DenseNet{n}": getattr(densenet, f"DenseNet{n}") for n in (169, 201)}
    )
    for name, build in builders.items():
        result[name] = {}
        for top in (True, False):
            keras.backend.clear_session()
            model = build(
                weights=None,
                include_top=top,
                input_shape=(71, 71, 3) if not top else None,
            )
            result[name]["top" if top else "notop"] = counts(model)
            del model
        print(name, result[name])
    (OUT / "counts.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


def layers_model(adapt_x, adapt_batches):
    keras.backend.clear_session()
    inp = keras.Input((5, 6, 3))
    x = keras.layers.Rescaling([0.5, 1.0, 2.0], offset=0.1)(inp)
    per_channel = keras.layers.Normalization(axis=-1)
    per_channel.adapt(adapt_x)
    x = per_channel(x)
    per_position = keras.layers.Normalization(axis=(1, 2))
    per_position.adapt(adapt_batches)
    x = per_position(x)
    x = keras.layers.Normalization(axis=None, mean=0.2, variance=1.5)(x)
    x = keras.layers.Normalization(
        mean=[0.1, -0.2, 0.3], variance=[2.0, 0.5, 1.0], invert=True
    )(x)
    x = keras.layers.Dropout(0.4, noise_shape=(None, 1, 1, 1), seed=3)(x)
    se = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    se = keras.layers.Conv2D(3, 1, activation="sigmoid")(se)
    x = keras.layers.multiply([x, se])
    x = keras.layers.Conv2D(4, 3, activation="swish")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2)(x)
    return keras.Model(inp, out)


def layers():
    OUT.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    adapt_x = rng.normal(1.0, 2.0, (16, 5, 6, 3)).astype("float32")
    adapt_batches = [
        rng.normal(-0.5, 3.0, (n, 5, 6, 3)).astype("float32") for n in (4, 7, 5)
    ]
    model = layers_model(adapt_x, adapt_batches)
    model.compile(optimizer="adam", loss="mse")
    model.save(OUT / "layers.keras")
    x = rng.normal(size=(3, 5, 6, 3)).astype("float32")
    y = np.asarray(model.predict(x, verbose=0))
    np.savez(
        OUT / "layers_io.npz",
        x=x,
        y=y,
        adapt_x=adapt_x,
        **{f"adapt_batch_{i}": b for i, b in enumerate(adapt_batches)},
        params=np.asarray(model.count_params()),
    )
    (OUT / "layers_summary.json").write_text(
        json.dumps(summary_totals(model)), encoding="utf-8"
    )
    # adapt over other axes and data forms, the statistics Keras keeps
    stats = {}
    data = rng.uniform(0, 255, (6, 4, 3, 2)).astype("float32")
    batches = [data[:1], data[1:4], data[4:]]
    for i, axis in enumerate([-1, None, (1, 3), (1, 2, 3)]):
        for form, given in (("array", data), ("batches", batches)):
            layer = keras.layers.Normalization(axis=axis)
            layer.adapt(given)
            mean, var, count = (np.asarray(w) for w in layer.get_weights())
            stats[f"mean_{i}_{form}"], stats[f"variance_{i}_{form}"] = mean, var
            stats[f"count_{i}_{form}"] = count
            stats[f"y_{i}_{form}"] = np.asarray(layer(data[:2]))
    np.savez(OUT / "adapt.npz", data=data, **stats)
    print("layers: params", model.count_params(), "y", y.ravel()[:4])


if __name__ == "__main__":
    names = sys.argv[1:] or ["layers", *ARCHITECTURES, "counts"]
    for name in names:
        if name == "layers":
            layers()
        elif name == "counts":
            family_counts()
        else:
            application(name)
