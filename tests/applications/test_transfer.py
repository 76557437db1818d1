"""Keras 3's transfer-learning semantics (keras-io's transfer-learning guide), on a small functional base.

A frozen base (``base.trainable = False``) called as ``base(x, training=False)`` inside a new model with a
new head: ``fit`` leaves every base weight bit-identical, BN moving statistics included. Fine-tuning: set
``base.trainable = True``, freeze all but the top layers, recompile with a low learning rate: the unfrozen
layers train, the BN layers stay in inference mode (the base was called with ``training=False``), and a BN
layer with ``trainable=False`` runs in inference mode even when called in training mode.
"""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.keras import layers
from cnnlab.layers import clear_session
from cnnlab.model import parallel


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


def small_base(seed=0):
    """A functional "pretrained" base: conv, BN, ReLU twice, with BN statistics that are not the
    initial ones (so that a reset or an update would show)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, 3))
    x = layers.Conv2D(6, 3, padding="same", name="conv1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", name="conv2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.ReLU(name="relu2")(x)
    base = keras.Model(inp, x, name="base")
    rng = np.random.default_rng(seed)
    for name in ("bn1", "bn2"):
        bn = base.get_layer(name)
        gamma, beta, mean, var = bn.get_weights()
        bn.set_weights(
            [
                rng.uniform(0.5, 1.5, gamma.shape).astype("float32"),
                rng.normal(0, 0.3, beta.shape).astype("float32"),
                rng.normal(0, 0.5, mean.shape).astype("float32"),
                rng.uniform(0.5, 2.0, var.shape).astype("float32"),
            ]
        )
    return base


def data(n=48, seed=1):
    """Two classes a small head can tell apart after global pooling: red pictures against blue ones."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, 12, 12, 3)).astype("float32")
    y = rng.integers(0, 2, n)
    x[y == 0, ..., 0] += 1.5
    x[y == 1, ..., 2] += 1.5
    return x, y


def with_head(base, training=False):
    inputs = keras.Input((12, 12, 3))
    x = base(inputs, training=training) if training is not None else base(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(2, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def snapshot(layer):
    return {
        w_name: w.copy() for w_name, w in zip(layer.weight_names, layer.get_weights())
    }


def assert_bit_identical(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
        assert after[key].dtype == before[key].dtype


def test_a_frozen_base_keeps_every_weight_and_statistic_while_the_head_learns():
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.compile(
        keras.optimizers.Adam(0.05),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    # Only the head trains: Dense(8 -> 2) = 18 parameters; the base's 4 BN weights x 2 layers are frozen too.
    assert [w.shape for w in model.trainable_weights] == [(8, 2), (2,)]
    assert len(model.non_trainable_weights) == len(base.weights) == 12
    before, head_before = snapshot(base), snapshot(model.get_layer("head"))
    x, y = data()
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert_bit_identical(before, snapshot(base))
    head_after = snapshot(model.get_layer("head"))
    assert not np.array_equal(head_after["kernel"], head_before["kernel"])
    assert history.history["accuracy"][-1] > 0.9, history.history
    # The base runs in inference mode inside fit: the model's training-mode forward equals predict.
    np.testing.assert_allclose(
        model.forward(x, training=True)[0], model.predict(x, verbose=0), rtol=1e-6
    )


def test_the_summary_counts_the_frozen_base_as_non_trainable(capsys):
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.summary()
    text = capsys.readouterr().out
    base_params = base.count_params()  # conv1 168 + bn1 24 + conv2 440 + bn2 32
    assert base_params == 168 + 24 + 440 + 32
    assert "Trainable params: 18 " in text
    assert f"Non-trainable params: {base_params:,} " in text


def test_a_trainable_base_called_without_training_false_moves_its_statistics():
    # The contrast that makes the frozen tests meaningful: the same fit does change the base.
    base = small_base()
    model = with_head(base, training=None)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    before = snapshot(base.get_layer("bn1"))
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    after = snapshot(base.get_layer("bn1"))
    for key in ("gamma", "moving_mean", "moving_variance"):
        assert not np.array_equal(after[key], before[key]), key


def fine_tune(top_layers=3, epochs=3):
    """keras-io's recipe: train the head on a frozen base, then unfreeze the top of the base and
    recompile with a low learning rate."""
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    x, y = data()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    base.trainable = True
    for layer in base.layers[:-top_layers]:
        layer.trainable = False
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return base, model, x, y


def test_fine_tuning_trains_the_top_layers_and_keeps_bn_in_inference_mode():
    base, model, x, y = fine_tune(top_layers=3)  # conv2, bn2, relu2
    trainable_names = [
        layer.name for layer in base.layers if layer.trainable and layer.weights
    ]
    assert trainable_names == ["conv2", "bn2"]
    # conv2's kernel and bias, bn2's gamma and beta, the head's kernel and bias.
    assert [w.shape for w in model.trainable_weights] == [
        (3, 3, 6, 8),
        (8,),
        (8,),
        (8,),
        (8, 2),
        (2,),
    ]
    before = {layer.name: snapshot(layer) for layer in base.layers if layer.weights}
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    after = {layer.name: snapshot(layer) for layer in base.layers if layer.weights}
    assert_bit_identical(before["conv1"], after["conv1"])
    assert_bit_identical(before["bn1"], after["bn1"])
    assert not np.array_equal(after["conv2"]["kernel"], before["conv2"]["kernel"])
    assert not np.array_equal(after["bn2"]["gamma"], before["bn2"]["gamma"])
    # bn2 trains its scale and shift but, called with training=False, never its statistics.
    for key in ("moving_mean", "moving_variance"):
        np.testing.assert_array_equal(
            after["bn2"][key], before["bn2"][key], err_msg=key
        )
    np.testing.assert_allclose(
        model.forward(x, training=True)[0], model.predict(x, verbose=0), rtol=1e-6
    )


def test_a_frozen_bn_runs_in_inference_mode_even_in_a_training_call():
    # Keras 3: BatchNormalization with trainable=False uses its moving statistics whatever `training` says.
    base = small_base()
    base.get_layer("bn1").trainable = False
    base.get_layer("bn2").trainable = False
    model = with_head(
        base, training=None
    )  # no training=False: the base follows fit's training mode
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    stats = {n: snapshot(base.get_layer(n)) for n in ("bn1", "bn2")}
    conv_before = base.get_layer("conv1").get_weights()[0].copy()
    x, y = data()
    np.testing.assert_allclose(
        base(x, training=True), base(x, training=False), rtol=1e-6
    )
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for name, before in stats.items():
        assert_bit_identical(before, snapshot(base.get_layer(name)))
    assert not np.array_equal(
        base.get_layer("conv1").get_weights()[0], conv_before
    )  # the convs still train
    np.testing.assert_allclose(
        base(x, training=True), base(x, training=False), rtol=1e-6
    )


def test_changing_trainable_without_recompiling_warns_as_keras_does():
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    x, y = data(16)
    model.fit(x, y, epochs=1, verbose=0)
    base.trainable = True
    with pytest.warns(UserWarning, match="trainable"):
        model.fit(x, y, epochs=1, verbose=0)


def test_a_saved_transfer_model_reloads_frozen_and_with_training_false(tmp_path):
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    path = tmp_path / "transfer.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    loaded_base = loaded.get_layer("base")
    assert loaded_base.trainable is False and not any(
        layer.trainable for layer in loaded_base.layers
    )
    assert (
        loaded.layer_nodes(loaded_base)[0].training is False
    )  # Keras writes it in the node's kwargs
    assert [w.shape for w in loaded.trainable_weights] == [(8, 2), (2,)]
    x, y = data()
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    before = snapshot(loaded_base)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert_bit_identical(before, snapshot(loaded_base))


def test_fit_runs_no_backward_through_a_frozen_base(monkeypatch):
    # Only the head's weights need gradients: the frozen base's backward would be wasted work
    # (most of a transfer-learning step); fine-tuning runs it again, down to the unfrozen layers.
    # One thread: the calls are counted per step (a batch split across threads, BatchNormalization's
    # too since the parts add their statistics, runs each backward once per part).
    monkeypatch.setitem(parallel._settings, "threads", 1)
    base = small_base()
    base.trainable = False
    model = with_head(base)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    calls = []
    for layer in base.layers[1:]:
        original = layer.backward

        def counting(*args, _name=layer.name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(layer, "backward", counting)
    x, y = data(16)
    model.fit(x, y, epochs=1, verbose=0)
    assert calls == []
    base.trainable = True
    for layer in base.layers[:-3]:
        layer.trainable = False
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    # conv2 trains, so the gradient goes through relu2, bn2 and conv2 and stops there.
    assert calls == ["relu2", "bn2", "conv2"]
