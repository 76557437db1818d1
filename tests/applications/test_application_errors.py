"""Weights files that do not fit, and Keras's argument checks, give clear errors (never a partial load)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
from app_fixtures import FIXTURES

from cnnlab.applications import MobileNetV2
from cnnlab.errors import CnnlabError
from cnnlab.layers import Input, Rescaling, clear_session

pytest.importorskip("h5py")
TOP = FIXTURES / "mobilenet_v2_top.weights.h5"  # alpha 0.35, 96x96, 10 classes
NOTOP = FIXTURES / "mobilenet_v2_notop.weights.h5"  # alpha 0.1, 75x83, no top
LEGACY = FIXTURES / "mobilenet_v2_notop.h5"


def test_a_file_of_another_width_names_the_layer_and_both_shapes():
    with pytest.raises(CnnlabError) as info:
        MobileNetV2(weights=TOP, alpha=0.5, input_shape=(96, 96, 3), classes=10)
    message = str(info.value)
    assert "'block_1_project' (Conv2D)" in message
    assert "(1, 1, 48, 16) in the model but (1, 1, 48, 8) in the file" in message
    assert message.endswith("Received: shape=(1, 1, 48, 8)")


def test_a_legacy_file_of_another_width_names_the_layer_and_both_shapes():
    with pytest.raises(CnnlabError) as info:
        MobileNetV2(
            weights=LEGACY, alpha=0.35, include_top=False, input_shape=(96, 96, 3)
        )
    message = str(info.value)
    assert (
        "'Conv1' (Conv2D)" in message
        and "(3, 3, 3, 16) in the model but (3, 3, 3, 8)" in message
    )
    assert message.endswith("Received: shape=(3, 3, 3, 8)")


def test_a_file_without_the_top_refused_by_a_model_with_it():
    with pytest.raises(CnnlabError) as info:
        MobileNetV2(weights=NOTOP, alpha=0.1, input_shape=(96, 96, 3), classes=10)
    message = str(info.value)
    assert (
        "'predictions' (Dense)" in message
        and "kernel (1280, 10), bias (10,)" in message
    )
    assert message.endswith("Received: no group 'layers/dense/vars'")
    with pytest.raises(
        CnnlabError, match="layer count mismatch.*Received: 104 saved layers"
    ):
        MobileNetV2(weights=LEGACY, alpha=0.1, input_shape=(96, 96, 3), classes=10)


def test_a_file_with_the_top_loads_into_the_model_without_it_as_keras_does():
    """Keras reads the layers the model has and ignores the file's classifier: a feature extractor."""
    clear_session()
    full = MobileNetV2(weights=TOP, alpha=0.35, input_shape=(96, 96, 3), classes=10)
    clear_session()
    base = MobileNetV2(
        weights=TOP, alpha=0.35, include_top=False, input_shape=(96, 96, 3)
    )
    assert all(
        np.array_equal(a, b) for a, b in zip(base.get_weights(), full.get_weights())
    )


@pytest.mark.parametrize("source", [NOTOP, LEGACY], ids=["weights.h5", "legacy.h5"])
def test_a_truncated_file_says_so_and_leaves_nothing_half_loaded(source, tmp_path):
    data = source.read_bytes()
    cut = tmp_path / source.name
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CnnlabError) as info:
        MobileNetV2(weights=cut, alpha=0.1, include_top=False, input_shape=(75, 83, 3))
    message = str(info.value)
    assert "truncated" in message and f"{len(data):,}" in message
    assert message.endswith(f"Received: {len(data) * 2 // 3} of {len(data)} bytes")


def test_a_mismatch_leaves_the_weights_untouched(tmp_path):
    """Every array is checked before any is copied: a failed load changes nothing."""
    model = MobileNetV2(weights=None, alpha=0.5, input_shape=(96, 96, 3), classes=10)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(CnnlabError):
        model.load_weights(str(TOP))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(weights="no/such/file.h5"),
            r"The `weights` argument should be either .*Received: weights=no/such/file.h5",
        ),
        (
            dict(weights="imagenet", classes=10),
            r"`classes` should be 1000.  Received classes=10",
        ),
        (dict(weights=None, classes=0), r"Received: classes=0"),
        (
            dict(
                weights=None,
                include_top=False,
                input_shape=(96, 96, 3),
                pooling="average",
            ),
            r"pooling='average'",
        ),
        (
            dict(weights=None, input_shape=(31, 96, 3)),
            r"Input size must be at least 32x32; Received: input_shape",
        ),
        (dict(weights=None, input_shape=(96, 96)), r"three integers"),
        (
            dict(weights="imagenet", input_shape=(100, 100, 3)),
            r"`input_shape` should be \(224, 224, 3\)",
        ),
        (
            dict(weights="imagenet", include_top=False, input_shape=(96, 96, 1)),
            r"must have 3 channels",
        ),
        (
            dict(weights="imagenet", alpha=0.4),
            r"alpha must be one of .*Received `alpha=0.4`",
        ),
        (
            dict(weights=None, input_shape=(None, None, 3)),
            r"If `include_top` is True, you should specify a static `input_shape`",
        ),
        (
            dict(weights=None, input_tensor=np.zeros((1, 96, 96, 3))),
            r"input_tensor is not a Keras tensor",
        ),
    ],
)
def test_keras_argument_checks(kwargs, message):
    with pytest.raises(CnnlabError, match=message):
        MobileNetV2(**kwargs)


def test_pretrained_weights_allow_only_softmax_or_no_activation(tmp_path):
    path = tmp_path / "w.weights.h5"
    shutil.copy(TOP, path)
    with pytest.raises(
        CnnlabError, match="Only `None` and `softmax` activations.*relu"
    ):
        MobileNetV2(
            weights=path,
            alpha=0.35,
            input_shape=(96, 96, 3),
            classes=10,
            classifier_activation="relu",
        )
    logits = MobileNetV2(
        weights=path,
        alpha=0.35,
        input_shape=(96, 96, 3),
        classes=10,
        classifier_activation=None,
    )
    probs = MobileNetV2(weights=path, alpha=0.35, input_shape=(96, 96, 3), classes=10)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 96, 96, 3)).astype(np.float32)
    z = logits.predict(x, verbose=0)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        probs.predict(x, verbose=0),
        e / e.sum(axis=1, keepdims=True),
        rtol=1e-5,
        atol=1e-7,
    )


def test_input_tensor_builds_on_the_given_graph():
    clear_session()
    source = Input(shape=(64, 64, 3))
    scaled = Rescaling(1 / 127.5, offset=-1)(source)
    model = MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_tensor=scaled
    )
    assert model.inputs[0] is source
    assert model.layers[1].name == "rescaling"
    assert model.output_shape == (None, 2, 2, 1280)


def test_get_source_inputs_finds_the_inputs_behind_a_tensor():
    from cnnlab import keras

    a, b = Input(shape=(4,)), Input(shape=(4,))
    joined = keras.layers.Add()([keras.layers.Dense(4)(a), b])
    assert keras.utils.get_source_inputs(joined) == [a, b]
    assert keras.utils.get_source_inputs(a) == [a]
    with pytest.raises(CnnlabError, match="expects a KerasTensor"):
        keras.utils.get_source_inputs(np.zeros(3))


def test_imagenet_with_an_unusual_size_warns_and_names_the_224_file(monkeypatch):
    """Keras's rule: rows not in [96, 128, 160, 192, 224] load the 224 weights, with a warning."""
    from cnnlab.applications import common

    asked = []
    monkeypatch.setattr(
        common, "keras_file", lambda fname, *a, **k: asked.append(fname) or str(NOTOP)
    )
    with warnings.catch_warnings(record=True) as caught, pytest.raises(CnnlabError):
        warnings.simplefilter("always")
        MobileNetV2(
            weights="imagenet", alpha=0.35, include_top=False, input_shape=(100, 100, 3)
        )
    assert any("Weights for input shape (224, 224)" in str(w.message) for w in caught)
    assert asked == [
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    ]
