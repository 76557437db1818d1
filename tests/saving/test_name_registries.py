"""One lookup for the name tables (cnnlab.registry), with Keras 3's case rule for each kind:
optimizers ignore case; layers, activations, initializers, losses and metrics are exact,
with Keras's aliases; the metric "accuracy" in any case."""

from __future__ import annotations

import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import initializers as init_mod
from cnnlab.layers import layer_class
from cnnlab.model import losses, metrics, optimizers


@pytest.mark.parametrize("name", ["adam", "Adam", "ADAM"])
def test_optimizer_names_ignore_case_as_keras(name):
    assert type(optimizers.get(name)).__name__ == "Adam"
    assert (
        type(
            optimizers.get({"class_name": name, "config": {"learning_rate": 0.1}})
        ).__name__
        == "Adam"
    )


@pytest.mark.parametrize(
    "kind, get, good, alias, bad",
    [
        (
            "loss",
            losses.get,
            "sparse_categorical_crossentropy",
            "SparseCategoricalCrossentropy",
            "Sparse_Categorical_Crossentropy",
        ),
        ("loss", losses.get, "mse", "MSE", "Mse"),
        ("metric", metrics.get, "mae", "MAE", "Mae"),
        ("metric", metrics.get, "binary_accuracy", "BinaryAccuracy", "Binary_Accuracy"),
        ("initializer", init_mod.get, "he_normal", "HeNormal", "He_Normal"),
        ("initializer", init_mod.get, "zeros", "zero", "ZEROS"),
    ],
)
def test_other_names_are_exact_with_keras_aliases(kind, get, good, alias, bad):
    assert type(get(good)) is type(get(alias))
    with pytest.raises(
        CnnlabError, match=rf"Unknown {kind} '{bad}' \(names are case-sensitive"
    ) as info:
        get(bad)
    assert "Received:" in str(info.value)


def test_accuracy_in_any_case_as_compile_does():
    assert (
        type(metrics.get("Accuracy", (4,), (4, 3))).__name__
        == "SparseCategoricalAccuracy"
    )
    assert type(metrics.get("ACC", (4, 3), (4, 3))).__name__ == "CategoricalAccuracy"


def test_activation_names_are_exact_for_users_and_files():
    assert keras.activations.get("relu") is keras.activations.relu
    with pytest.raises(CnnlabError, match="Unknown activation 'ReLU'"):
        keras.activations.get("ReLU")
    with pytest.raises(CnnlabError, match="Unknown activation 'Tanh'"):
        keras.layers.Dense(3, activation="Tanh")
    assert keras.layers.Dense(3, activation="tanh").activation_name == "tanh"


def test_layer_classes_are_exact_with_keras_aliases():
    assert (
        layer_class("MaxPool2D")
        is layer_class("MaxPooling2D")
        is keras.layers.MaxPooling2D
    )
    with pytest.raises(CnnlabError, match="Unknown layer 'conv2d'"):
        layer_class("conv2d")
    assert layer_class("LSTM", missing=None) is None
