"""Issue 16: learning-rate schedules, value by value against Keras's formulas computed by hand (float64),
their serialization, and schedules inside saved models."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from cnnlab import keras

S = keras.optimizers.schedules
STEPS = range(0, 40)


def exponential(step, lr0=0.1, d=7, r=0.5, staircase=False):
    p = step / d
    return lr0 * r ** (math.floor(p) if staircase else p)


def piecewise(step, boundaries=(5, 12), values=(1.0, 0.5, 0.1)):
    if step <= boundaries[0]:
        return values[0]
    if step <= boundaries[1]:
        return values[1]
    return values[2]


def polynomial(step, lr0=0.1, d=10, end=0.01, power=2.0, cycle=False):
    if cycle:
        d = d * (1 if step == 0 else math.ceil(step / d))
    else:
        step = min(step, d)
    return (lr0 - end) * (1 - step / d) ** power + end


def inverse_time(step, lr0=0.1, d=5, r=0.5, staircase=False):
    p = step / d
    return lr0 / (1 + r * (math.floor(p) if staircase else p))


def cosine(step, lr0=0.1, d=20, alpha=0.1, target=None, warmup=0):
    if target is None:
        s = min(step, d)
        return lr0 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / d)) + alpha)
    s = min(step, d + warmup)
    if s < warmup:
        return (target - lr0) * s / warmup + lr0
    return target * (
        (1 - alpha) * 0.5 * (1 + math.cos(math.pi * (s - warmup) / d)) + alpha
    )


def restarts(step, lr0=0.1, first=5, t_mul=2.0, m_mul=0.5, alpha=0.0):
    # Walk the periods one by one (the library uses the closed form).
    start, length, i = 0.0, float(first), 0
    while step >= start + length:
        start, length, i = start + length, length * t_mul, i + 1
    fraction = (step - start) / length
    return lr0 * (
        (1 - alpha) * 0.5 * m_mul**i * (1 + math.cos(math.pi * fraction)) + alpha
    )


CASES = [
    (lambda: S.ExponentialDecay(0.1, 7, 0.5), exponential),
    (
        lambda: S.ExponentialDecay(0.1, 7, 0.5, staircase=True),
        lambda s: exponential(s, staircase=True),
    ),
    (lambda: S.PiecewiseConstantDecay([5, 12], [1.0, 0.5, 0.1]), piecewise),
    (lambda: S.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=2.0), polynomial),
    (
        lambda: S.PolynomialDecay(
            0.1, 10, end_learning_rate=0.01, power=2.0, cycle=True
        ),
        lambda s: polynomial(s, cycle=True),
    ),
    (lambda: S.InverseTimeDecay(0.1, 5, 0.5), inverse_time),
    (
        lambda: S.InverseTimeDecay(0.1, 5, 0.5, staircase=True),
        lambda s: inverse_time(s, staircase=True),
    ),
    (lambda: S.CosineDecay(0.1, 20, alpha=0.1), cosine),
    (
        lambda: S.CosineDecay(0.0, 20, alpha=0.1, warmup_target=0.2, warmup_steps=8),
        lambda s: cosine(s, lr0=0.0, target=0.2, warmup=8),
    ),
    (lambda: S.CosineDecayRestarts(0.1, 5, t_mul=2.0, m_mul=0.5), restarts),
    (
        lambda: S.CosineDecayRestarts(0.1, 5, t_mul=1.0, m_mul=0.5, alpha=0.1),
        lambda s: restarts(s, t_mul=1.0, alpha=0.1),
    ),
]


@pytest.mark.parametrize("make, formula", CASES)
def test_schedule_values_match_keras_formula(make, formula):
    schedule = make()
    ours = np.array([float(schedule(s)) for s in STEPS])
    expected = np.array([formula(s) for s in STEPS])
    np.testing.assert_allclose(ours, expected, rtol=2e-6, atol=1e-8)
    assert len(set(np.round(expected, 9))) > 2, (
        "the formula must vary over the steps tested"
    )
    # A reference read one step late disagrees: the step the schedule sees matters.
    assert not np.allclose(ours, [formula(s + 1) for s in STEPS], rtol=1e-4)


def test_piecewise_keeps_a_value_while_step_equals_its_boundary():
    schedule = S.PiecewiseConstantDecay([3], [1.0, 0.1])
    assert [float(schedule(s)) for s in (2, 3, 4)] == pytest.approx([1.0, 1.0, 0.1])


def test_cosine_warmup_rises_linearly_then_decays_then_holds():
    schedule = S.CosineDecay(
        0.0, decay_steps=10, alpha=0.0, warmup_target=1.0, warmup_steps=4
    )
    assert [float(schedule(s)) for s in range(5)] == pytest.approx(
        [0.0, 0.25, 0.5, 0.75, 1.0]
    )
    assert float(schedule(9)) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert float(schedule(14)) == pytest.approx(0.0, abs=1e-7) and float(
        schedule(100)
    ) == float(schedule(14))


def test_bad_arguments_are_refused_as_keras():
    with pytest.raises(ValueError, match="decay_steps"):
        S.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="boundaries"):
        S.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="first_decay_steps"):
        S.CosineDecayRestarts(0.1, -1)


@pytest.mark.parametrize("make, _", CASES)
def test_serialize_round_trip_in_keras_form(make, _):
    schedule = make()
    data = S.serialize(schedule)
    assert (
        data["module"] == "keras.optimizers.schedules"
        and data["class_name"] == type(schedule).__name__
    )
    assert data["registered_name"] is None
    back = S.deserialize(json.loads(json.dumps(data)))
    assert type(back) is type(schedule) and back.get_config() == schedule.get_config()


def test_keras_serialized_config_is_read():
    # keras.optimizers.schedules.serialize(ExponentialDecay(0.1, 10, 0.5)) as Keras 3.15 prints it.
    data = {
        "module": "keras.optimizers.schedules",
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": False,
            "name": "ExponentialDecay",
        },
        "registered_name": None,
    }
    assert float(S.deserialize(data)(10)) == pytest.approx(0.05)
    assert S.serialize(S.deserialize(data)) == data


def small_model():
    keras.backend.clear_session()
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    return model


def test_a_model_with_a_schedule_saves_and_continues_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 32)
    schedule = S.CosineDecay(0.05, decay_steps=12, warmup_target=0.1, warmup_steps=3)
    model = small_model()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=schedule),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        config = json.loads(z.read("config.json"))
    lr_config = config["compile_config"]["optimizer"]["config"]["learning_rate"]
    assert lr_config == S.serialize(schedule)
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer._learning_rate, S.CosineDecay)
    assert loaded.optimizer.iterations == 4
    assert loaded.optimizer.learning_rate == pytest.approx(float(schedule(4)))
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.optimizers.Nadam(0.01),
        lambda: keras.optimizers.Adam(0.01, amsgrad=True, use_ema=True),
        lambda: keras.optimizers.Ftrl(0.1, gradient_accumulation_steps=3),
        lambda: keras.optimizers.AdamW(0.01),
        lambda: keras.optimizers.Lion(0.001),
        lambda: keras.optimizers.Adadelta(1.0),
        lambda: keras.optimizers.Adamax(0.01),
    ],
)
def test_new_optimizers_state_round_trips_through_keras_files_and_backups(
    tmp_path, make
):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 6, 6, 1)).astype(np.float32), rng.integers(0, 3, 40)
    model = small_model()
    model.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [np.asarray(v).tolist() for v in loaded.optimizer.variables] == [
        np.asarray(v).tolist() for v in model.optimizer.variables
    ]
    # ...and a run interrupted by BackupAndRestore continues as one that was not.
    resumed = small_model()
    resumed.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    backup = keras.callbacks.BackupAndRestore(
        tmp_path / "backup", delete_checkpoint=False
    )
    resumed.fit(
        x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[backup]
    )
    again = small_model()
    again.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    again.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[backup]
    )
    uninterrupted = small_model()
    uninterrupted.compile(optimizer=make(), loss="sparse_categorical_crossentropy")
    uninterrupted.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(uninterrupted.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
