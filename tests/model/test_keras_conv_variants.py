"""Transposed, depthwise, separable, grouped and causal convolutions against real Keras 3
(fixtures written by scripts/make_keras_fixtures.py; this test needs no Keras).

The files themselves (load, predict, continue training, re-save with Keras's structure) are
checked in test_keras_fixtures.py; here: Keras's transposed convolution over its whole argument
grid, and the summary Keras printed for the fixture models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session
from cnnlab.ops.conv_transpose import conv_transpose_forward

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"


def test_conv_transpose_matches_keras_over_its_argument_grid():
    with np.load(FIXTURES / "conv_transpose_cases.npz", allow_pickle=False) as data:
        cases = sorted({int(k.split("_")[1]) for k in data.files})
        seen = set()
        for i in cases:
            rank, k, s, d, same, op = (int(v) for v in data[f"args_{i}"])
            padding, op = ("same" if same else "valid"), (None if op < 0 else op)
            y, _ = conv_transpose_forward(
                data[f"x_{i}"],
                data[f"kernel_{i}"],
                data[f"bias_{i}"],
                s,
                padding,
                op,
                d,
            )
            assert y.shape == data[f"y_{i}"].shape, (rank, k, s, d, padding, op)
            np.testing.assert_allclose(
                y,
                data[f"y_{i}"],
                rtol=0,
                atol=1e-5,
                err_msg=str((rank, k, s, d, padding, op)),
            )
            seen.add((padding, op is None, d > 1))
    assert (
        len(cases) > 150 and len(seen) == 8
    )  # both paddings, with and without output_padding and dilation


@pytest.mark.parametrize("name", ["conv_variants", "causal"])
def test_summary_of_the_loaded_model_is_keras_s(name, monkeypatch):
    """Rows and parameter counts as Keras printed them. The optimizer line's byte count differs by
    design: Keras under torch keeps ``iterations`` as int32, cnnlab as int64 (TensorFlow's)."""
    monkeypatch.setenv("COLUMNS", "200")
    clear_session()
    model = keras.models.load_model(FIXTURES / f"{name}.keras")
    lines = []
    model.summary(line_length=88, print_fn=lines.append)
    ours = "".join(lines).splitlines()
    theirs = (FIXTURES / f"{name}_summary.txt").read_text(encoding="utf-8").splitlines()
    assert len(ours) == len(theirs)
    assert ours[:-1] == theirs[:-1]
    assert (
        ours[-1].split("(")[0] == theirs[-1].split("(")[0]
    )  # " Optimizer params: 2,222 "


def test_summary_formula_shows_each_new_layer_s_arithmetic():
    clear_session()
    model = keras.models.load_model(FIXTURES / "conv_variants.keras")
    rows = {
        layer.name: layer.param_formula()
        for layer in model.layers
        if hasattr(layer, "param_formula")
    }
    assert rows["conv2d"] == "3*3*2*6 + 6 = 114"  # groups=2: 4 channels -> 2 per group
    assert rows["depthwise_conv2d"] == "3*3*6*2 + 6*2 = 120"
    assert rows["separable_conv2d"] == "3*3*12*2 + 1*1*24*8 + 8 = 416"
    assert rows["conv2d_transpose"] == "3*3*5*8 + 5 = 365"
    assert rows["conv2d_transpose_1"] == "2*2*4*5 = 80"
    lines = []
    model.summary(line_length=160, print_fn=lines.append, show_formula=True)
    assert "3*3*12*2 + 1*1*24*8 + 8 = 416" in "".join(lines)
