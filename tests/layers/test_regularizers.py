"""Regularizers and constraints: Keras 3's formulas, names and defaults pinned by hand-computed
cases, the penalties' gradients against central differences, the penalties in the loss that fit,
evaluate and val_loss report, the constraints after each update, and clear errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ops"))
from test_gradients import assert_grad  # noqa: E402

R, C = keras.regularizers, keras.constraints


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


W = np.array([[1.0, -2.0], [3.0, 0.0]], dtype="float32")


def test_penalties_by_hand():
    assert R.L2(0.01)(W) == pytest.approx(0.01 * 14)  # l2 * sum(w^2): no 1/2
    assert R.L1(0.5)(W) == pytest.approx(0.5 * 6)
    assert R.L1L2(l1=0.1, l2=0.2)(W) == pytest.approx(0.1 * 6 + 0.2 * 14)
    assert R.L1L2()(W) == 0.0  # both factors default to 0
    np.testing.assert_allclose(R.L1L2(0.1, 0.2).gradient(W), 0.1 * np.sign(W) + 0.4 * W)


def test_names_and_configs_are_keras_s():
    assert R.get("l2").get_config() == {"l2": 0.01}
    assert R.get("l1").get_config() == {
        "l1": 0.009999999776482582
    }  # Keras keeps it in float32
    assert R.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}
    with pytest.raises(CnnlabError, match='no "l1_l2" name: use L1L2'):
        R.get("l1_l2")  # Keras 3.15 refuses it too
    assert R.l1_l2 is R.L1L2 and C.max_norm is C.MaxNorm
    assert R.serialize(R.L2(0.5)) == {
        "module": "keras.regularizers",
        "class_name": "L2",
        "config": {"l2": 0.5},
        "registered_name": None,
    }
    assert R.get(R.serialize(R.L1L2(0.25, 0.5))).get_config() == {"l1": 0.25, "l2": 0.5}
    assert C.get("max_norm").get_config() == {"max_value": 2, "axis": 0}
    assert C.get("min_max_norm").get_config() == {
        "min_value": 0.0,
        "max_value": 1.0,
        "rate": 1.0,
        "axis": 0,
    }
    assert (
        C.get("unit_norm").get_config() == {"axis": 0}
        and C.get("non_neg").get_config() == {}
    )


@pytest.mark.parametrize("reg", [R.L1(0.3), R.L2(0.7), R.L1L2(0.2, 0.4)], ids=repr)
def test_penalty_gradients_match_numerical(reg):
    w = (
        np.random.default_rng(0).standard_normal((3, 4)) + 0.05
    )  # away from |w|'s kink at 0
    assert_grad(reg.gradient(w), lambda: reg(w), w, repr(reg))


def test_constraints_by_hand():
    w = np.array([[3.0, 0.0], [4.0, 0.1]], dtype="float32")  # column norms 5 and 0.1
    eps = 1e-7
    np.testing.assert_allclose(
        C.MaxNorm(2)(w), w * [2 / (5 + eps), 0.1 / (0.1 + eps)], rtol=1e-6
    )
    row_norms = np.array([[3.0], [np.hypot(4, 0.1)]])
    np.testing.assert_allclose(
        C.MaxNorm(2, axis=1)(w),
        w * (np.clip(row_norms, 0, 2) / (row_norms + eps)),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        C.NonNeg()(np.array([-1.0, 2.0], dtype="float32")), [0.0, 2.0]
    )
    np.testing.assert_allclose(
        C.UnitNorm()(w), w / ([5, 0.1] + np.float32(eps)), rtol=1e-6
    )
    # rate 0.5: halfway from the norm to its clipped value: 5 -> (0.5*1 + 0.5*5) = 3; 0.1 -> 0.5*0.2 + 0.05 = 0.15
    np.testing.assert_allclose(
        C.MinMaxNorm(0.2, 1.0, rate=0.5)(w),
        w * [3 / (5 + eps), 0.15 / (0.1 + eps)],
        rtol=1e-6,
    )
    conv = np.random.default_rng(1).standard_normal((3, 3, 2, 4)).astype("float32")
    per_filter = C.UnitNorm(axis=[0, 1, 2])(conv)
    np.testing.assert_allclose(
        np.sqrt((per_filter**2).sum(axis=(0, 1, 2))), 1.0, rtol=1e-5
    )


def dense_model(**kwargs):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, **kwargs), keras.layers.Dense(2)]
    )
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.random((n, 4)).astype("float32"), rng.random((n, 2)).astype("float32")


def test_penalties_are_in_the_loss_fit_evaluate_and_val_loss_report():
    x, y = data()
    plain = dense_model()
    regularized = dense_model(
        kernel_regularizer=R.L2(0.5),
        bias_initializer="ones",
        bias_regularizer=R.L1(0.25),
        activity_regularizer=R.L2(0.125),
    )
    regularized.set_weights(
        plain.get_weights()[:1] + [np.ones(3, "float32")] + plain.get_weights()[2:]
    )
    plain.set_weights(regularized.get_weights())
    kernel = regularized.layers[0].get_weights()[0]
    hidden = x @ kernel + 1.0
    penalty = 0.5 * np.sum(kernel**2) + 0.25 * 3 + 0.125 * np.sum(hidden**2) / len(x)
    assert regularized.evaluate(x, y, verbose=0) == pytest.approx(
        plain.evaluate(x, y, verbose=0) + penalty, rel=1e-6
    )
    assert regularized.evaluate(x, y, verbose=0, batch_size=3) == pytest.approx(
        plain.evaluate(x, y, verbose=0, batch_size=3)
        + 0.5 * np.sum(kernel**2)
        + 0.75
        + 0.125
        * sum(
            np.sum(hidden[i : i + 3] ** 2)
            / len(hidden[i : i + 3])
            * len(hidden[i : i + 3])
            for i in range(0, 8, 3)
        )
        / 8,
        rel=1e-6,
    )
    history = regularized.fit(
        x, y, epochs=1, batch_size=8, verbose=0, validation_data=(x, y)
    ).history
    assert history["loss"][0] == pytest.approx(
        plain.evaluate(x, y, verbose=0) + penalty, rel=1e-6
    )
    assert history["val_loss"][0] == pytest.approx(
        regularized.evaluate(x, y, verbose=0), rel=1e-6
    )


def test_penalty_gradients_reach_the_update():
    """One SGD step with only a penalty: the kernel moves by -lr * 2 * l2 * w on top of the data gradient."""
    x, y = data()
    plain, regularized = dense_model(), dense_model(kernel_regularizer=R.L2(0.5))
    regularized.set_weights(plain.get_weights())
    kernel = plain.layers[0].get_weights()[0]
    plain.train_on_batch(x, y)
    regularized.train_on_batch(x, y)
    np.testing.assert_allclose(
        regularized.layers[0].get_weights()[0],
        plain.layers[0].get_weights()[0] - 0.1 * 2 * 0.5 * kernel,
        rtol=1e-5,
        atol=1e-7,
    )
    np.testing.assert_allclose(
        regularized.layers[1].get_weights()[0],
        plain.layers[1].get_weights()[0],
        rtol=1e-6,
    )


def test_constraints_hold_after_every_update():
    x, y = data()
    model = dense_model(kernel_constraint=C.MaxNorm(0.1), bias_constraint="non_neg")
    model.fit(x, y * 50 - 25, epochs=3, batch_size=4, verbose=0)
    kernel, bias = model.layers[0].get_weights()
    assert np.sqrt((kernel**2).sum(axis=0)).max() <= 0.1 + 1e-6 and (bias >= 0).all()


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: R.L2(-1),
            r"L2: `l2` must be a non-negative finite number.*Received: l2=-1",
        ),
        (lambda: R.L1("big"), r"`l1` must be a non-negative finite number"),
        (lambda: R.L1L2(l2=float("nan")), r"`l2` must be a non-negative finite number"),
        (lambda: R.L2(True), r"Received: l2=True"),
        (
            lambda: keras.layers.Dense(2, name="d", kernel_regularizer="l3"),
            r"Dense 'd': `kernel_regularizer`: Unknown regularizer 'l3'",
        ),
        (
            lambda: keras.layers.Conv2D(
                2,
                3,
                name="c",
                bias_regularizer={"class_name": "L2", "config": {"l2": -0.5}},
            ),
            r"Conv2D 'c': `bias_regularizer`: L2: `l2` must be",
        ),
        (
            lambda: keras.layers.BatchNormalization(name="b", gamma_constraint="max"),
            r"BatchNormalization 'b': `gamma_constraint`: Unknown constraint 'max'",
        ),
        (
            lambda: keras.layers.Dense(2, name="d", activity_regularizer=3.0),
            r"Dense 'd': `activity_regularizer`",
        ),
        (lambda: C.MaxNorm(axis="rows"), r"MaxNorm: `axis` must be an integer"),
        (
            lambda: keras.Sequential(
                [
                    keras.Input((4, 4, 1)),
                    keras.layers.Conv2D(
                        2, 3, name="c", kernel_constraint=C.MaxNorm(axis=4)
                    ),
                ]
            ),
            r"Conv2D 'c', kernel_constraint: MaxNorm's axis 4 does not exist in a weight of shape \(3, 3, 1, 2\)",
        ),
    ],
)
def test_nonsense_arguments_are_clear_errors(make, match):
    with pytest.raises(CnnlabError, match=match):
        make()


@pytest.mark.parametrize(
    "key, value, match",
    [
        (
            "kernel_regularizer",
            {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": -3}},
            r"'dense'.*`kernel_regularizer`.*`l2` must be a non-negative",
        ),
        (
            "kernel_regularizer",
            {
                "module": "keras.regularizers",
                "class_name": "L2",
                "config": {"l2": "x", "z": 1},
            },
            r"'dense'.*Regularizer L2 takes \['l2'\]",
        ),
        (
            "bias_constraint",
            {"module": "evil", "class_name": "MaxNorm", "config": {}},
            r"'dense'.*comes from module",
        ),
        (
            "kernel_constraint",
            {
                "module": "keras.constraints",
                "class_name": "MaxNorm",
                "config": {"max_value": "a"},
            },
            r"'dense'.*`max_value` must be a finite number",
        ),
    ],
)
def test_nonsense_rules_in_a_file_are_clear_errors(tmp_path, key, value, match):
    dense_model(kernel_regularizer="l2").save(tmp_path / "m.keras")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))
    from hostile_cases import keras_config, with_config

    data = (tmp_path / "m.keras").read_bytes()
    config = keras_config(data)
    entry = next(
        e for e in config["config"]["layers"] if e["config"].get("name") == "dense"
    )
    entry["config"][key] = value
    (tmp_path / "bad.keras").write_bytes(
        with_config(data, json.loads(json.dumps(config)))
    )
    with pytest.raises(CnnlabError, match=match):
        keras.models.load_model(tmp_path / "bad.keras")


def test_config_round_trip_keeps_the_rules(tmp_path):
    model = dense_model(
        kernel_regularizer=R.L1L2(0.25, 0.5),
        bias_constraint=C.MinMaxNorm(0.5, 2.0, 0.5, 0),
        activity_regularizer="l1",
    )
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert again.layers[0].get_config() == model.layers[0].get_config()
    x, y = data()
    assert again.evaluate(x, y, verbose=0) == pytest.approx(
        model.evaluate(x, y, verbose=0), rel=1e-7
    )
