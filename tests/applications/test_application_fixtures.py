"""cnnlab's applications against real Keras 3.15.1 (fixtures from scripts/make_application_fixtures.py).

For every case: Keras's weights file loads (``weights=path``), predictions after the module's
``preprocess_input`` equal Keras's within 1e-4 of the output's scale, and the layer names and
classes, parameter counts and ``summary()`` totals are Keras's; the legacy ``.h5`` copy loads to
the same predictions. Cases whose Keras file would be tens of MB carry the file's layout instead
(a manifest), from which the same file is rebuilt here with the recipe's arrays.
"""

from __future__ import annotations

import inspect
import io
from contextlib import redirect_stdout

import numpy as np
import pytest
from app_fixtures import (
    CASES,
    DATA,
    FIXTURES,
    build,
    predict,
    relative_difference,
    seeded_weights,
    write_from_manifest,
)

from cnnlab import applications

pytest.importorskip("h5py")
TOLERANCE = 1e-4


def weights_path(case, entry, tmp_path):
    if entry["file"] == "keras":
        return FIXTURES / f"{case}.weights.h5"
    model = build(entry)
    path = tmp_path / f"{case}.weights.h5"
    write_from_manifest(path, entry["manifest"], seeded_weights(model, entry["seed"]))
    return path


def summary_totals(model):
    out = io.StringIO()
    with redirect_stdout(out):
        model.summary()
    return [line for line in out.getvalue().splitlines() if "params:" in line]


def counts(model):
    trainable = int(sum(w.size for w in model.trainable_weights))
    non_trainable = int(sum(w.size for w in model.non_trainable_weights))
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_predictions_equal_keras(case, tmp_path):
    entry = CASES[case]
    model = build(entry, weights=weights_path(case, entry, tmp_path))
    got, expected = predict(model, entry, case)
    assert got.shape == expected.shape
    assert relative_difference(got, expected) < TOLERANCE


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c]["legacy"]))
def test_legacy_h5_loads_to_the_same_predictions(case):
    entry = CASES[case]
    model = build(entry, weights=FIXTURES / f"{case}.h5")
    got, expected = predict(model, entry, case)
    assert relative_difference(got, expected) < TOLERANCE


@pytest.mark.parametrize("case", sorted(CASES))
def test_names_counts_and_summary_equal_keras(case):
    entry = CASES[case]
    model = build(entry)
    assert model.name == entry["name"]
    assert [layer.name for layer in model.layers] == entry["layers"]
    assert [type(layer).__name__ for layer in model.layers] == entry["classes"]
    assert counts(model) == entry["counts"]
    assert model.count_params() == entry["counts"]["total"]
    assert summary_totals(model) == entry["summary_totals"]
    assert list(model.output_shape) == [
        d if d is not None else None for d in entry["output_shape"]
    ]


@pytest.mark.parametrize(
    "entry",
    DATA["counts"],
    ids=[
        f"{e['function']}-{'-'.join(f'{k}={v}' for k, v in e['kwargs'].items()) or 'default'}"
        for e in DATA["counts"]
    ],
)
def test_default_configurations_count_as_keras(entry):
    model = build(entry)
    assert model.name == entry["name"]
    assert [layer.name for layer in model.layers] == entry["layers"]
    assert counts(model) == entry["counts"]
    assert summary_totals(model) == entry["summary_totals"]


@pytest.mark.parametrize("qualified", sorted(DATA["signatures"]))
def test_arguments_and_defaults_are_keras(qualified):
    module, function = qualified.split(".")
    signature = inspect.signature(getattr(getattr(applications, module), function))
    got = [[p.name, repr(p.default)] for p in signature.parameters.values()]
    assert got == DATA["signatures"][qualified]


def test_keras_namespace_holds_every_function():
    from cnnlab import keras

    for qualified in DATA["signatures"]:
        module, function = qualified.split(".")
        ours = getattr(getattr(applications, module), function)
        assert getattr(getattr(keras.applications, module), function) is ours
        if function[0].isupper():
            assert getattr(keras.applications, function) is ours
    assert keras.applications.resnet50.ResNet50 is applications.ResNet50


@pytest.mark.parametrize(
    "case", ["mobilenet_notop", "resnet50_notop", "resnet50v2_notop"]
)
def test_without_the_top_any_image_size_predicts_as_the_fixed_size(case, tmp_path):
    """Keras's default ``input_shape=None`` leaves height and width open, (None, None, 3); the same
    weights give the same predictions as the model built for the images' size (these architectures
    pad the same whatever the size; MobileNetV2's stride-2 padding follows the size when it is known,
    in Keras as here)."""
    entry = CASES[case]
    model = build(entry, input_shape=None, weights=weights_path(case, entry, tmp_path))
    assert model.input_shape == (None, None, None, 3)
    assert model.output_shape[1:-1] in ((None, None), ())
    got, expected = predict(model, entry, case)
    assert relative_difference(got, expected) < TOLERANCE


def test_the_brief_figures_for_mobilenet_v2():
    """The published counts (Keras's documentation table): with and without the top."""
    from cnnlab.applications import MobileNetV2

    assert MobileNetV2(weights=None).count_params() == 3_538_984
    assert (
        MobileNetV2(
            weights=None, include_top=False, input_shape=(224, 224, 3)
        ).count_params()
        == 2_257_984
    )


def test_the_fixture_predictions_are_not_trivial():
    """The comparison is meaningful: outputs vary across samples and units and are far from zero."""
    for case in CASES:
        y = np.load(FIXTURES / f"{case}_io.npz", allow_pickle=False)["y"]
        assert np.abs(y).max() > 0.1 and np.std(y) > 1e-3, case
        assert not np.allclose(y[0], y[1]), case
