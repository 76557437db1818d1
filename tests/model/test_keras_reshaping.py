"""Shape, resampling, activation and noise layers against real Keras 3 (fixtures from
scripts/make_keras_fixtures.py; this test needs no Keras): Keras's outputs on fixed inputs,
and the summaries Keras printed for the fixture models. Loading, predicting and re-saving the
``reshaping`` and ``volumes`` files are checked in test_keras_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
layers = keras.layers

CASES = {
    "upsample_bilinear_2x3": lambda: layers.UpSampling2D(
        (2, 3), interpolation="bilinear"
    ),
    "upsample_nearest_3x2": lambda: layers.UpSampling2D((3, 2)),
    "resize_up_bilinear": lambda: layers.Resizing(7, 11),
    "resize_down_bilinear": lambda: layers.Resizing(3, 4),
    "resize_nearest": lambda: layers.Resizing(7, 3, interpolation="nearest"),
    "resize_crop_aspect": lambda: layers.Resizing(4, 8, crop_to_aspect_ratio=True),
    "resize_crop_aspect_tall": lambda: layers.Resizing(9, 3, crop_to_aspect_ratio=True),
    "resize_pad_aspect": lambda: layers.Resizing(
        4, 8, pad_to_aspect_ratio=True, fill_value=2.0
    ),
    "resize_pad_aspect_odd": lambda: layers.Resizing(6, 3, pad_to_aspect_ratio=True),
    "center_crop": lambda: layers.CenterCrop(3, 4),
    "center_crop_smaller": lambda: layers.CenterCrop(6, 9),
    "relu_max_slope_threshold": lambda: layers.ReLU(
        max_value=2.0, negative_slope=0.3, threshold=0.5
    ),
    "relu_fn_negative_threshold_max": lambda: (
        lambda x: keras.activations.relu(
            x, negative_slope=0.2, max_value=1.0, threshold=-1.0
        )
    ),
    "relu_threshold_only": lambda: layers.ReLU(threshold=1.0),
    "relu6_layer": lambda: layers.ReLU(max_value=6.0),
    "elu_alpha": lambda: layers.ELU(alpha=0.4),
    "prelu_shared": lambda: layers.PReLU(shared_axes=[1]),
    "prelu_full": lambda: layers.PReLU(),
    "act_gelu_approximate": lambda: (
        lambda x: keras.activations.gelu(x, approximate=True)
    ),
}
for _name in (
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
    CASES[f"act_{_name}"] = (lambda n: lambda: layers.Activation(n))(_name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_outputs_are_keras_s(name):
    with np.load(FIXTURES / "resample_cases.npz", allow_pickle=False) as data:
        x, expected = data[f"x_{name}"], data[f"y_{name}"]
        alpha = data[f"alpha_{name}"] if f"alpha_{name}" in data.files else None
    clear_session()
    layer = CASES[name]()
    if alpha is not None:
        layer(x)
        layer.set_weights([alpha])
    y = layer(x)
    assert y.shape == expected.shape and y.dtype == np.float32
    np.testing.assert_allclose(
        y, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max()))
    )


def test_every_fixture_case_is_checked():
    with np.load(FIXTURES / "resample_cases.npz", allow_pickle=False) as data:
        names = {k[2:] for k in data.files if k.startswith("x_")}
    assert names == set(CASES)


@pytest.mark.parametrize("name", ["reshaping", "volumes"])
def test_summary_of_the_loaded_model_is_keras_s(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    clear_session()
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    lines = []
    model.summary(line_length=88, print_fn=lines.append)
    assert (
        "".join(lines).splitlines()
        == (FIXTURES / f"{name}_summary.txt").read_text(encoding="utf-8").splitlines()
    )


def test_noise_layers_of_the_file_are_identity_at_inference_and_active_in_training():
    clear_session()
    model = keras.models.load_model(FIXTURES / "reshaping.keras")
    x = np.random.default_rng(0).uniform(0, 255, (2, 9, 10, 3)).astype("float32")
    inference = [model.predict(x, verbose=0) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    y1, _ = model.forward(x, training=True)
    y2, _ = model.forward(x, training=True)
    assert not np.allclose(y1, y2)
