"""Regularizers and constraints against real Keras 3.15.1 (fixtures by scripts/make_bn_fixtures.py):
a model with every regularizer and constraint on Conv2D, BatchNormalization and Dense, loaded from
Keras's untrained file, trained 3 steps in cnnlab: the losses ``train_on_batch`` reports (penalties
included, as Keras reports them), ``evaluate``'s loss and the weights after the constraints, all as
Keras computed them. This test needs no Keras."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.layers import clear_session

pytest.importorskip("h5py")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
sys.path.insert(0, str(FIXTURES))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bn_models import regularized_model  # noqa: E402
from test_keras_fixtures import archive, comparable_layers, fresh_names, io_arrays  # noqa: E402,F401


def test_losses_evaluate_and_constrained_weights_match_keras():
    data = io_arrays("regularized")
    model = keras.models.load_model(FIXTURES / "regularized.keras")
    losses = [model.train_on_batch(data["train_x"], data["train_y"]) for _ in range(3)]
    np.testing.assert_allclose(losses, data["losses"], rtol=1e-5)
    np.testing.assert_allclose(
        model.evaluate(data["x"], data["y"], verbose=0, batch_size=6),
        data["evaluated"],
        rtol=1e-5,
    )
    weights = model.get_weights()
    assert len(weights) == len([k for k in data if k.startswith("after_")])
    for i, w in enumerate(weights):
        np.testing.assert_allclose(
            w, data[f"after_{i}"], rtol=1e-4, atol=2e-6, err_msg=f"weight {i}"
        )
    # the penalties are a real part of those losses: without them the data loss alone is lower
    data_only = keras.models.load_model(FIXTURES / "regularized.keras")
    for layer in data_only.layers:
        layer.weight_regularizers, layer.activity_regularizer = {}, None
    assert (
        data_only.train_on_batch(data["train_x"], data["train_y"])
        < data["losses"][0] - 0.01
    )


def test_regularized_configs_are_keras_s(tmp_path):
    _, _, keras_config, _ = archive(FIXTURES / "regularized.keras")
    keras.models.load_model(FIXTURES / "regularized.keras").save(
        tmp_path / "again.keras"
    )
    assert comparable_layers(archive(tmp_path / "again.keras")[2]) == comparable_layers(
        keras_config
    )
    clear_session()
    regularized_model(keras).save(tmp_path / "built.keras")
    assert comparable_layers(
        archive(tmp_path / "built.keras")[2], names=False
    ) == comparable_layers(keras_config, names=False)
