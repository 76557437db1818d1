"""Reference values of Keras 3 for fit/evaluate on generators, PyDataset, steps_per_epoch,
class_weight and sample_weight (tests/model/test_data_adapter.py reads them).

    PYTHONPATH=/tmp/kpkgs KERAS_BACKEND=torch python scripts/make_data_adapter_fixtures.py

Writes tests/fixtures/keras/data_adapter.json (numbers only).
"""

import json
import os
import warnings

import keras
import numpy as np

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "tests",
    "fixtures",
    "keras",
    "data_adapter.json",
)

X = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
Y = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2])
W_SAMPLE = np.array(
    [1.0, 2.0, 0.5, 0.0, 3.0, 1.0, 1.0, 0.25, 2.0, 1.0, 0.0, 1.5], "float32"
)
CLASS_WEIGHT = {0: 1.0, 1: 3.0}  # class 2 not named: weight 1.0
KERNEL = np.random.default_rng(1).normal(size=(3, 3)).astype("float32")
BIAS = np.array([0.1, -0.2, 0.05], "float32")


def model(
    loss="sparse_categorical_crossentropy",
    units=3,
    activation="softmax",
    weighted_metrics=None,
):
    m = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(units, activation=activation)]
    )
    m.layers[0].set_weights([KERNEL[:, :units], BIAS[:units]])
    m.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=loss,
        metrics=["accuracy"],
        weighted_metrics=weighted_metrics,
    )
    return m


class Steps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


def count_steps(data, **fit):
    m = model()
    cb = Steps()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = m.fit(data, verbose=0, callbacks=[cb], **fit)
    ran_out = sum("ran out of data" in str(w.message) for w in caught)
    return {
        "steps": cb.per_epoch,
        "ran_out_warnings": ran_out,
        "loss": history.history["loss"],
    }


def gen(n):
    for i in range(n):
        j = (2 * i) % 12
        yield X[j : j + 2], Y[j : j + 2]


class Batches(keras.utils.PyDataset):
    def __init__(self, n, **kw):
        super().__init__(**kw)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        j = (2 * i) % 12
        return X[j : j + 2], Y[j : j + 2]


def main():
    out = {
        "x": X.tolist(),
        "y": Y.tolist(),
        "sample_weight": W_SAMPLE.tolist(),
        "class_weight": {str(k): v for k, v in CLASS_WEIGHT.items()},
        "kernel": KERNEL.tolist(),
        "bias": BIAS.tolist(),
        "keras": keras.__version__,
    }
    out["steps"] = {
        "generator_7_steps_3_epochs_4": count_steps(
            gen(7), steps_per_epoch=3, epochs=4
        ),
        "generator_5_no_steps_epochs_3": count_steps(gen(5), epochs=3),
        "pydataset_5_steps_2_epochs_4": count_steps(
            Batches(5), steps_per_epoch=2, epochs=4, shuffle=False
        ),
        "pydataset_5_steps_7_epochs_2": count_steps(
            Batches(5), steps_per_epoch=7, epochs=2, shuffle=False
        ),
    }
    m, cb = model(), Steps()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(
            X,
            Y,
            epochs=3,
            steps_per_epoch=2,
            batch_size=4,
            shuffle=False,
            verbose=0,
            callbacks=[cb],
        )
    out["steps"]["arrays_12_batch_4_steps_2_epochs_3"] = {
        "steps": cb.per_epoch,
        "ran_out_warnings": sum("ran out" in str(w.message) for w in caught),
    }
    m, cb = model(), Steps()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m.fit(
            X,
            Y,
            epochs=3,
            steps_per_epoch=2,
            batch_size=5,
            shuffle=False,
            verbose=0,
            callbacks=[cb],
        )
    out["steps"]["arrays_12_batch_5_steps_2_epochs_3"] = {
        "steps": cb.per_epoch,
        "ran_out_warnings": sum("ran out" in str(w.message) for w in caught),
    }

    weighted = {}
    for name, loss, units, act, y in [
        ("sparse", "sparse_categorical_crossentropy", 3, "softmax", Y),
        (
            "categorical",
            "categorical_crossentropy",
            3,
            "softmax",
            np.eye(3, dtype="float32")[Y],
        ),
        (
            "binary",
            "binary_crossentropy",
            1,
            "sigmoid",
            (Y == 1).astype("float32")[:, None],
        ),
        ("mse", "mse", 3, None, np.eye(3, dtype="float32")[Y]),
    ]:
        case = {}
        m = model(loss, units, act)
        case["evaluate_plain"] = m.evaluate(
            X, y, batch_size=12, verbose=0, return_dict=True
        )
        case["evaluate_sample_weight"] = m.evaluate(
            X, y, sample_weight=W_SAMPLE, batch_size=12, verbose=0, return_dict=True
        )
        m = model(loss, units, act, weighted_metrics=["accuracy"])
        case["evaluate_weighted_metrics"] = m.evaluate(
            X, y, sample_weight=W_SAMPLE, batch_size=5, verbose=0, return_dict=True
        )
        m = model(loss, units, act, weighted_metrics=["accuracy"])
        h = m.fit(
            X,
            y,
            class_weight=CLASS_WEIGHT,
            batch_size=5,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        case["fit_class_weight_weighted_metrics"] = {
            k: v[0] for k, v in h.history.items()
        }
        m = model(loss, units, act)
        h = m.fit(
            X,
            y,
            sample_weight=W_SAMPLE,
            batch_size=12,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        case["fit_sample_weight_loss"] = h.history["loss"]
        case["fit_sample_weight_kernel"] = m.layers[0].get_weights()[0].tolist()
        m = model(loss, units, act)
        h = m.fit(
            X,
            y,
            class_weight=CLASS_WEIGHT,
            batch_size=12,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
        case["fit_class_weight_loss"] = h.history["loss"]
        case["fit_class_weight_accuracy"] = h.history["accuracy"]
        case["fit_class_weight_kernel"] = m.layers[0].get_weights()[0].tolist()
        m = model(loss, units, act)
        h = m.fit(
            X,
            y,
            class_weight=CLASS_WEIGHT,
            batch_size=5,
            epochs=2,
            shuffle=False,
            verbose=0,
        )
        case["fit_class_weight_batch5_loss"] = h.history["loss"]
        weighted[name] = case
    out["weighted"] = weighted
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out["steps"], indent=1))


if __name__ == "__main__":
    main()
