"""Write the real-Keras fixtures of issue 14's layers into tests/fixtures/keras/ (or, with
``--check``, load files that cnnlab wrote in real Keras and compare the predictions)::

    COLUMNS=200 PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_layer_fixtures.py
    PYTHONPATH=. .venv/bin/python scripts/make_cnnlab_files.py /tmp/cnnlab_files
    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch .venv/bin/python scripts/make_layer_fixtures.py --check \\
        /tmp/cnnlab_files/conv_variants.keras /tmp/cnnlab_files/conv_variants_io.npz ...

Keras 3.15.1, torch backend (scripts/make_keras_fixtures.py says why that file is TensorFlow's file).
Architectures: tests/fixtures/keras/layer_models.py. Written (all small; inputs fixed, outputs Keras's):

* ``conv_variants.keras`` (grouped Conv2D, DepthwiseConv2D, SeparableConv2D, two Conv2DTranspose, one
  with ``output_padding``) and ``causal.keras`` (causal dilated Conv1D, DepthwiseConv1D, SeparableConv1D,
  Conv1DTranspose with ``output_padding=0``), each trained 2 steps with Adam; ``*_io.npz`` as
  make_keras_fixtures.py's ``trained`` writes them (``x``, ``y``, ``train_x``, ``train_y``, ``next_<i>``)
  and ``*_summary.txt``, Keras's ``summary()`` at 88 columns.
* ``reshaping.keras`` and ``volumes.keras`` (padding, cropping, upsampling, resizing, center crop,
  rescaling, permute, repeat, identity, PReLU/ELU/ReLU, the new activations and the noise layers;
  compiled, not trained), ``*_io.npz`` and ``*_summary.txt`` likewise.
* ``resample_cases.npz``: Keras's outputs of resampling layers and activations on fixed inputs
  (see ``resample_cases``).
* ``conv_transpose_cases.npz``: Keras's Conv1DTranspose/Conv2DTranspose outputs over every kernel size
  1-4, stride 1-3, dilation 1-2, padding valid/same and output_padding None/0/1/2 that Keras accepts:
  for case ``i``, ``x_i``, ``kernel_i``, ``bias_i``, ``y_i`` and ``args_i`` = (rank, kernel, stride,
  dilation, same?, output_padding or -1).

Names on the command line write only those fixtures: ``make_layer_fixtures.py conv_variants causal``.
Every ``.npz`` holds plain numeric arrays: the tests read them with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402  (real Keras 3, not cnnlab)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "keras"
sys.path.insert(0, str(OUT))
sys.path.insert(0, str(ROOT / "scripts"))
from layer_models import (
    causal_model,
    conv_variants_model,
    reshaping_model,
    volumes_model,
)  # noqa: E402
from make_keras_fixtures import trained  # noqa: E402  (the same files and _io.npz as the other fixtures)


def write_summary(name, model):
    """Keras's summary text at 88 columns: cnnlab's summary of the loaded file must print the same."""
    lines = []
    model.summary(
        line_length=88, print_fn=lambda line, line_break=True: lines.append(line)
    )
    (OUT / f"{name}_summary.txt").write_text("".join(lines), encoding="utf-8")


def conv_variants():
    keras.utils.set_random_seed(7)
    model = conv_variants_model(keras)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 12, 12, 4)).astype("float32")
    train_x = rng.normal(size=(8, 12, 12, 4)).astype("float32")
    trained("conv_variants", model, x, train_x, rng.integers(0, 3, 8), steps=2)
    write_summary("conv_variants", model)


def causal():
    keras.utils.set_random_seed(8)
    model = causal_model(keras)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 20, 3)).astype("float32")
    train_x = rng.normal(size=(8, 20, 3)).astype("float32")
    trained("causal", model, x, train_x, rng.integers(0, 2, 8), steps=2)
    write_summary("causal", model)


def conv_transpose_cases():
    """Keras's transposed convolution over the grid of its arguments (see the module docstring)."""
    keras.utils.set_random_seed(9)
    rng = np.random.default_rng(9)
    arrays, i = {}, 0
    for rank in (1, 2):
        for k in (1, 2, 3, 4):
            for s in (1, 2, 3):
                for d in (1, 2):
                    for padding in ("valid", "same"):
                        for op in (None, 0, 1, 2):
                            if (s > 1 and d > 1) or (op is not None and op >= s):
                                continue
                            cls = (
                                keras.layers.Conv1DTranspose
                                if rank == 1
                                else keras.layers.Conv2DTranspose
                            )
                            layer = cls(
                                2,
                                k,
                                strides=s,
                                padding=padding,
                                output_padding=op,
                                dilation_rate=d,
                                bias_initializer="random_normal",
                            )
                            x = rng.normal(size=(1, *(5, 4)[:rank], 2)).astype(
                                "float32"
                            )
                            y = np.asarray(keras.ops.convert_to_numpy(layer(x)))
                            kernel, bias = layer.get_weights()
                            arrays.update(
                                {
                                    f"x_{i}": x,
                                    f"kernel_{i}": kernel,
                                    f"bias_{i}": bias,
                                    f"y_{i}": y,
                                    f"args_{i}": np.array(
                                        [
                                            rank,
                                            k,
                                            s,
                                            d,
                                            padding == "same",
                                            -1 if op is None else op,
                                        ]
                                    ),
                                }
                            )
                            i += 1
    np.savez_compressed(OUT / "conv_transpose_cases.npz", **arrays)


def reshaping():
    keras.utils.set_random_seed(10)
    model = reshaping_model(keras)
    rng = np.random.default_rng(10)
    x = rng.uniform(0, 255, size=(3, 9, 10, 3)).astype("float32")
    train_x = rng.uniform(0, 255, size=(8, 9, 10, 3)).astype("float32")
    write_summary(
        "reshaping", model
    )  # before the extra step of `trained`: no optimizer yet
    trained(
        "reshaping",
        model,
        x,
        train_x,
        rng.normal(size=(8, 3)).astype("float32"),
        steps=0,
    )


def volumes():
    keras.utils.set_random_seed(11)
    model = volumes_model(keras)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 5, 3, 2)).astype("float32")
    write_summary("volumes", model)
    trained("volumes", model, x, x, rng.normal(size=(2, 2)).astype("float32"), steps=0)


def resample_cases():
    """Keras's resampling and activations on fixed inputs: UpSampling2D bilinear, Resizing (both
    interpolations, crop/pad to aspect ratio), CenterCrop (both branches), the activations by name,
    ReLU/ELU with their options, and PReLU. ``name_i`` -> ``x_i``, ``y_i`` (float32)."""
    keras.utils.set_random_seed(12)  # PReLU's random alpha, reproducibly
    rng = np.random.default_rng(12)
    layers = keras.layers
    cases = {
        "upsample_bilinear_2x3": (
            layers.UpSampling2D((2, 3), interpolation="bilinear"),
            (2, 4, 5, 2),
        ),
        "upsample_nearest_3x2": (layers.UpSampling2D((3, 2)), (1, 3, 4, 2)),
        "resize_up_bilinear": (layers.Resizing(7, 11), (2, 4, 5, 2)),
        "resize_down_bilinear": (layers.Resizing(3, 4), (2, 9, 7, 2)),
        "resize_nearest": (
            layers.Resizing(7, 3, interpolation="nearest"),
            (2, 5, 6, 1),
        ),
        "resize_crop_aspect": (
            layers.Resizing(4, 8, crop_to_aspect_ratio=True),
            (2, 7, 6, 2),
        ),
        "resize_crop_aspect_tall": (
            layers.Resizing(9, 3, crop_to_aspect_ratio=True),
            (1, 5, 8, 2),
        ),
        "resize_pad_aspect": (
            layers.Resizing(4, 8, pad_to_aspect_ratio=True, fill_value=2.0),
            (2, 7, 6, 2),
        ),
        "resize_pad_aspect_odd": (
            layers.Resizing(6, 3, pad_to_aspect_ratio=True),
            (1, 5, 6, 1),
        ),
        "center_crop": (layers.CenterCrop(3, 4), (2, 8, 7, 2)),
        "center_crop_smaller": (layers.CenterCrop(6, 9), (2, 5, 7, 2)),
        "relu_max_slope_threshold": (
            layers.ReLU(max_value=2.0, negative_slope=0.3, threshold=0.5),
            (40,),
        ),
        "relu_fn_negative_threshold_max": (
            lambda t: keras.activations.relu(
                t, negative_slope=0.2, max_value=1.0, threshold=-1.0
            ),
            (40,),
        ),
        "relu_threshold_only": (layers.ReLU(threshold=1.0), (40,)),
        "relu6_layer": (layers.ReLU(max_value=6.0), (40,)),
        "elu_alpha": (layers.ELU(alpha=0.4), (40,)),
        "prelu_shared": (
            layers.PReLU(shared_axes=[1], alpha_initializer="random_normal"),
            (3, 4, 5),
        ),
        "prelu_full": (layers.PReLU(alpha_initializer="random_normal"), (3, 4, 5)),
    }
    for name in (
        "gelu",
        "elu",
        "selu",
        "relu6",
        "hard_sigmoid",
        "hard_silu",
        "hard_swish",
        "silu",
        "swish",
        "softsign",
        "softplus",
        "mish",
        "log_softmax",
        "exponential",
        "sigmoid",
        "tanh",
    ):
        cases[f"act_{name}"] = (layers.Activation(name), (4, 25))
    cases["act_gelu_approximate"] = (
        lambda t: keras.activations.gelu(t, approximate=True),
        (4, 25),
    )
    arrays = {}
    for name, (layer, shape) in cases.items():
        x = (rng.normal(size=shape) * 3).astype("float32")
        if shape == (40,):
            x = np.linspace(-4, 4, 40, dtype="float32")[None, :]
        y = np.asarray(keras.ops.convert_to_numpy(layer(x)))
        arrays[f"x_{name}"], arrays[f"y_{name}"] = x, y
        if isinstance(layer, keras.layers.PReLU):
            arrays[f"alpha_{name}"] = np.asarray(layer.get_weights()[0])
    np.savez_compressed(OUT / "resample_cases.npz", **arrays)


def check(model_path, io_path):
    """Load a file cnnlab wrote, predict in Keras, compare with cnnlab's predictions."""
    model = keras.models.load_model(model_path)
    with np.load(io_path, allow_pickle=False) as data:
        x, y = data["x"], data["y"]
    diff = float(np.max(np.abs(np.asarray(model.predict(x, verbose=0)) - y)))
    print(
        f"{model_path}: Keras {keras.__version__} loads it; max |Keras - cnnlab| prediction = {diff:.3g}"
    )
    return 0 if diff < 1e-5 else 1


def main():
    if sys.argv[1:2] == ["--check"]:
        return max(check(m, io) for m, io in zip(sys.argv[2::2], sys.argv[3::2]))
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()} -> {OUT}")
    writers = {
        f.__name__: f
        for f in (
            conv_variants,
            causal,
            conv_transpose_cases,
            reshaping,
            volumes,
            resample_cases,
        )
    }
    for name in sys.argv[1:] or writers:
        writers[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
