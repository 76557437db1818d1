"""Real Keras 3's names and order for a model with two inputs and two outputs.

Writes tests/fixtures/keras/multi_output_names.json: the history keys (in order)
after fit with validation, evaluate's list order (via metrics_names) and its
return_dict keys, for a loss dict with loss_weights and per-output metrics.
Run: PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch python scripts/make_keras_multioutput_fixture.py
"""

import json
import pathlib

import keras
import numpy as np
from keras import layers

keras.utils.set_random_seed(0)
a = keras.Input((4,), name="a")
b = keras.Input((3,), name="b")
h = layers.concatenate([layers.Dense(5, name="da")(a), layers.Dense(5, name="db")(b)])
cls = layers.Dense(3, activation="softmax", name="cls")(h)
reg = layers.Dense(1, name="reg")(h)
model = keras.Model([a, b], [cls, reg])
model.compile(
    "sgd",
    loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
    loss_weights={"cls": 1.0, "reg": 0.5},
    metrics={"cls": ["accuracy"], "reg": ["mae"]},
)
rng = np.random.default_rng(0)
xa, xb = rng.standard_normal((16, 4)), rng.standard_normal((16, 3))
yc, yr = rng.integers(0, 3, 16), rng.standard_normal((16, 1))
hist = model.fit(
    {"a": xa, "b": xb},
    {"cls": yc, "reg": yr},
    epochs=1,
    batch_size=8,
    verbose=0,
    validation_data=([xa, xb], [yc, yr]),
)
ev_list = model.evaluate([xa, xb], [yc, yr], verbose=0)
ev_dict = model.evaluate([xa, xb], [yc, yr], verbose=0, return_dict=True)
# The same model with one loss for both outputs and list metrics.
model2 = keras.Model([a, b], [cls, reg])
model2.compile("sgd", loss="mse", metrics=[["mae"], ["mse"]])
h2 = model2.fit([xa, xb], [keras.utils.to_categorical(yc, 3), yr], epochs=1, verbose=0)
# A single-output model: plain names.
m3 = keras.Model(a, layers.Dense(2, name="only")(a))
m3.compile("sgd", loss="mse", metrics=["mae"])
h3 = m3.fit(xa, rng.standard_normal((16, 2)), epochs=1, verbose=0)
ev = model.evaluate([xa, xb], [yc, yr], verbose=0, return_dict=True)
out = {
    "history_keys": list(hist.history),
    "metrics_names": model.metrics_names,
    "evaluate_len": len(ev_list),
    "evaluate_dict_keys": list(ev_dict),
    "evaluate_list_matches": [float(v) for v in ev_list],
    "evaluate_dict_values": [float(v) for v in ev_dict.values()],
    "history2_keys": list(h2.history),
    "history3_keys": list(h3.history),
    "predict_type": type(model.predict([xa, xb], verbose=0)).__name__,
    "layers": [layer.name for layer in model.layers],
}
path = (
    pathlib.Path(__file__).resolve().parents[1]
    / "tests/fixtures/keras/multi_output_names.json"
)
path.write_text(json.dumps(out, indent=1) + "\n")
print(json.dumps(out, indent=1))
