"""The graph model: building (symbolic tensors, nodes, Keras's layer order), errors,
numeric gradients through fan-out, freezing, explain on graphs, FitState, subclass mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cnnlab
from cnnlab import keras
from cnnlab.errors import ShapeError
from cnnlab.keras import layers


def to_float64(model):
    """Every weight as float64, so that central differences are exact enough for 1e-6."""
    for layer in model._all_leaves():
        for key in list(getattr(layer, "_weights", {})):
            layer._weights[key] = layer._weights[key].astype(np.float64)


def numeric(f, arr, eps=1e-6):
    g = np.zeros(arr.size)
    flat = arr.reshape(-1)
    for i in range(arr.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        g[i] = (up - down) / (2 * eps)
    return g.reshape(arr.shape)


def rel_error(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(a)), np.max(np.abs(b))))


def fanout_dense_model():
    inp = keras.Input((3,))
    h = layers.Dense(4, activation="tanh", bias_initializer="random_normal")(inp)
    a = layers.Dense(4, activation="sigmoid")(h)  # h feeds three readers
    b = layers.Dense(4)(h)
    m = layers.add([layers.multiply([a, h]), b, h])
    return keras.Model(
        inp, layers.Dense(2)(layers.maximum([m, layers.average([a, b])]))
    )


def fanout_conv_model():
    inp = keras.Input((7, 7, 2))
    c = layers.Conv2D(3, 3, activation="relu", bias_initializer="random_normal")(inp)
    p = layers.MaxPooling2D()(
        c
    )  # c also goes to a second reader: no pooling-first rewrite
    q = layers.AveragePooling2D(2)(c)
    d = layers.Conv2D(3, 1, activation="elu")(p)
    h = layers.concatenate([d, q, p], axis=-1)
    return keras.Model(inp, layers.Dense(2)(layers.Flatten()(h)))


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize(
    "build, shape", [(fanout_dense_model, (3, 3)), (fanout_conv_model, (2, 7, 7, 2))]
)
def test_numeric_gradients_through_fan_out(build, shape, fast):
    keras.utils.set_random_seed(7)
    cnnlab.backend.set_fast_path(fast)
    try:
        model = build()
        to_float64(model)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape)
        y, trace = model.forward(x, training=True)
        r = rng.standard_normal(y.shape)
        grads = model.backward(r, trace)
        dx, _ = model._backward_by_layer(r, trace, need_dx=True)
        loss = lambda: float((model.forward(x)[0] * r).sum())  # noqa: E731
        weights = model.trainable_weights
        assert len(grads) == len(weights) > 0
        for w, g in zip(weights, grads):
            assert rel_error(g, numeric(loss, w)) < 1e-6
        assert rel_error(dx, numeric(loss, x)) < 1e-6
    finally:
        cnnlab.backend.set_fast_path(None)


def test_symbolic_tensors_nodes_and_layer_attributes():
    inp = keras.Input((4,), name="x", batch_size=8)
    assert inp.shape == (8, 4)
    dense = layers.Dense(3, name="d")
    out = dense(inp)
    assert isinstance(out, keras.KerasTensor) and out.shape == (8, 3)
    assert dense.input is inp and dense.output is out
    assert dense.input_shape == (None, 4) and dense.output_shape == (None, 3)
    assert out._keras_history == (dense, 0, 0)
    model = keras.models.Model(inp, out, name="m")
    assert model.name == "m" and model.inputs == [inp] and model.outputs == [out]
    assert model.get_layer("d") is dense and model.get_layer(index=0).name == "x"
    assert [layer.name for layer in model.layers] == ["x", "d"]
    node = model.layer_nodes(dense)[0]
    assert node.inbound == [(inp.node.layer, 0, 0)]
    with pytest.raises(AttributeError, match="never been called"):
        _ = layers.Dense(2).output


def test_dict_inputs_and_outputs():
    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    h = layers.concatenate([a, b])
    model = keras.Model(
        {"a": a, "b": b},
        {"sum": layers.Dense(1, name="s")(h), "prob": layers.Dense(2, name="p")(h)},
    )
    xa, xb = np.ones((4, 2)), np.ones((4, 3))
    out = model.predict({"a": xa, "b": xb}, verbose=0)
    assert (
        set(out) == {"sum", "prob"}
        and out["sum"].shape == (4, 1)
        and out["prob"].shape == (4, 2)
    )
    with pytest.raises(cnnlab.errors.CnnlabError, match="lacks \\['b'\\]"):
        model.predict({"a": xa}, verbose=0)


def test_disconnected_graph_names_the_missing_input():
    a, b = keras.Input((2,), name="first"), keras.Input((2,), name="second")
    out = layers.Dense(1)(layers.add([a, b]))
    with pytest.raises(ShapeError, match="disconnected.*'second'.*first"):
        keras.Model(a, out)


def test_tensor_from_another_graph_is_refused():
    other = keras.Input((2,), name="other_input")
    out = layers.Dense(1)(other)
    mine = keras.Input((2,), name="mine")
    with pytest.raises(ShapeError, match="other_input"):
        keras.Model(mine, out)


def test_merge_shape_errors_name_layer_and_shapes():
    a, b = keras.Input((4,)), keras.Input((5,))
    with pytest.raises(ShapeError, match=r"'bad_add'.*\(None, 4\) and \(None, 5\)"):
        layers.Add(name="bad_add")([a, b])
    c, d = keras.Input((4, 4, 3)), keras.Input((5, 5, 3))
    with pytest.raises(
        ShapeError,
        match=r"Concatenate.*matching shapes.*\(None, 4, 4, 3\), \(None, 5, 5, 3\)",
    ):
        layers.Concatenate()([c, d])
    with pytest.raises(ShapeError, match="list of inputs"):
        layers.Add()(a)
    with pytest.raises(ShapeError, match="exactly 2"):
        layers.Subtract()([a, a, a])


def test_merge_layers_eagerly():
    x, y = np.array([[1.0, 5.0]]), np.array([[3.0, 2.0]])
    np.testing.assert_allclose(layers.Add()([x, y]), [[4, 7]])
    np.testing.assert_allclose(layers.subtract([x, y]), [[-2, 3]])
    np.testing.assert_allclose(layers.maximum([x, y]), [[3, 5]])
    np.testing.assert_allclose(layers.minimum([x, y]), [[1, 2]])
    np.testing.assert_allclose(layers.average([x, y]), [[2, 3.5]])
    np.testing.assert_allclose(layers.multiply([x, y]), [[3, 10]])
    np.testing.assert_allclose(layers.concatenate([x, y]), [[1, 5, 3, 2]])
    np.testing.assert_allclose(layers.dot([x, y], axes=1), [[13]])


def test_sequential_is_a_linear_graph():
    model = keras.Sequential([keras.Input((5,)), layers.Dense(3), layers.Dense(2)])
    assert [type(s.layer).__name__ for s in model._program.steps] == ["Dense", "Dense"]
    assert model.inputs[0].shape == (None, 5) and model.outputs[0].shape == (None, 2)
    first = model.layers[0]
    model.add(layers.Dense(4))  # each rebuild drops the previous build's nodes
    assert len(first._inbound_nodes) == 1
    assert model.layers[-1].output is model.outputs[0]


def test_functional_model_freezing_and_recompile_semantics():
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    first = layers.Dense(5, name="first")
    middle = layers.Dense(5, name="middle")
    out = layers.Dense(2, name="last")(middle(first(inp)))
    model = keras.Model(inp, out)
    x, y = (
        np.random.default_rng(0).standard_normal((16, 4)),
        np.random.default_rng(1).standard_normal((16, 2)),
    )
    middle.trainable = False  # a layer in the middle (crashed before)
    model.compile("adam", "mse")
    before = middle.get_weights()
    first_before = first.get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(middle.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(first.get_weights()[0], first_before[0])
    assert len(model.trainable_weights) == 4 and len(model.non_trainable_weights) == 2
    assert sum(s.size for slot in model.optimizer._slots for s in slot) == 2 * (
        4 * 5 + 5 + 5 * 2 + 2
    )
    # Unfreeze without compile(): no effect, and fit warns, as Keras 3 does.
    middle.trainable = True
    with pytest.warns(UserWarning, match="trainable.*has changed.*middle"):
        model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(middle.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    model.compile("adam", "mse")  # now it takes effect
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, epochs=1, verbose=0)
    assert not np.allclose(middle.get_weights()[0], before[0])
    # model.trainable = False freezes every layer.
    model.trainable = False
    assert model.trainable_weights == [] and all(
        not layer.trainable for layer in model.layers
    )
    assert len(model.non_trainable_weights) == 6


def test_frozen_weights_are_non_trainable_in_summary(capsys):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4), layers.Dense(2)])
    model.layers[0].trainable = False
    model.summary()
    text = capsys.readouterr().out
    assert "Trainable params: 10 " in text and "Non-trainable params: 16 " in text


def test_grad_cam_at_any_layer_of_a_graph_matches_the_same_sequential():
    from cnnlab.explain.gradcam import grad_cam

    keras.utils.set_random_seed(3)
    seq = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(3, 3, activation="relu", name="c1"),
            layers.Conv2D(2, 3, activation="relu", name="c2"),
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    inp = keras.Input((8, 8, 1))
    x = inp
    for layer in seq.layers:
        x = layer(x)
    graph = keras.Model(inp, x)
    img = np.random.default_rng(0).random((8, 8, 1)).astype(np.float32)
    for name in ("c1", "c2"):
        a = grad_cam(seq, img, layer=name)
        b = grad_cam(graph, img, layer=name)
        np.testing.assert_allclose(a.heatmap, b.heatmap, rtol=1e-6, atol=1e-7)
    # Through a residual connection: the gradient at the conv is what the executor gives.
    inp = keras.Input((8, 8, 1))
    c = layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(inp)
    r = layers.add([c, layers.Conv2D(2, 3, padding="same", name="res")(c)])
    res = keras.Model(
        inp, layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(r))
    )
    cam = grad_cam(res, img, layer="conv")
    assert cam.heatmap.shape == (8, 8) and np.isfinite(cam.heatmap).all()


def test_callbacks_read_fit_state():
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            s = self.model.fit_state
            seen.append(
                (
                    s.epoch,
                    s.step,
                    s.seen,
                    round(s.loss_sum / s.seen, 6) == round(logs["loss"], 6),
                )
            )

    model = keras.Sequential([keras.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(
        np.ones((10, 2)),
        np.ones((10, 1)),
        batch_size=4,
        epochs=2,
        verbose=0,
        callbacks=[Probe()],
    )
    assert seen == [
        (0, 0, 4, True),
        (0, 1, 8, True),
        (0, 2, 10, True),
        (1, 0, 4, True),
        (1, 1, 8, True),
        (1, 2, 10, True),
    ]


class Scale(keras.Model):
    """A subclassed model with explicit forward/backward (until the op tape runs call())."""

    def __init__(self):
        super().__init__()
        self.w = np.array([0.5], np.float32)
        self._weights["w"] = self.w

    def call(self, x):
        return x * self._weights["w"]

    def _forward(self, x, training):
        return x * self._weights["w"], x

    def _backward(self, dz, x, need_dx=True):
        return dz * self._weights["w"], [np.array([(dz * x).sum()], np.float32)]


def test_subclassed_model_trains_as_one_layer_node():
    model = Scale()
    x = np.array([[1.0], [2.0]], np.float32)
    np.testing.assert_allclose(model(x), [[0.5], [1.0]])
    assert model.trainable_weights[0] is model._weights["w"]
    model.compile(keras.optimizers.SGD(0.1), "mse")
    y = 2 * x
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    grad = np.mean(2 * (0.5 * x - y) * x)  # d/dw mean((w x - y)^2)
    np.testing.assert_allclose(model._weights["w"], [0.5 - 0.1 * grad], rtol=1e-6)


def test_needs_whole_batch_is_never_split(monkeypatch):
    from cnnlab.model import engine, parallel

    assert layers.Dense(1).needs_whole_batch is False
    monkeypatch.setattr(
        parallel,
        "split",
        lambda n, whole=False: (
            [slice(0, n)] if whole else [slice(0, n // 2), slice(n // 2, n)]
        ),
    )

    class WholeBatch(layers.Dense):
        needs_whole_batch = True

    plain = [layers.Dense(1)]
    assert len(engine.batch_parts(64, plain, training=True)) == 2
    assert engine.batch_parts(64, plain + [WholeBatch(1)], training=True) == [
        slice(0, 64)
    ]
    assert len(engine.batch_parts(64, plain + [WholeBatch(1)], training=False)) == 2


def two_output_model_with_nested_base(seed=0):
    keras.utils.set_random_seed(seed)
    cnnlab.layers.clear_session()
    base = keras.Sequential(
        [layers.Dense(6, activation="relu"), layers.Dropout(0.2)], name="base"
    )
    inp = keras.Input((4,), name="x")
    h = base(inp)
    model = keras.Model(
        inp,
        [
            layers.Dense(3, activation="softmax", name="cls")(h),
            layers.Dense(1, name="reg")(h),
        ],
    )
    model.compile(
        "adam",
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
        metrics=[["accuracy"], ["mae"]],
    )
    return model


def test_exact_resume_of_a_two_output_model_with_a_nested_base(tmp_path):
    pytest.importorskip("safetensors")
    rng = np.random.default_rng(0)
    x, yc, yr = (
        rng.standard_normal((40, 4)),
        rng.integers(0, 3, 40),
        rng.standard_normal((40, 1)),
    )
    fit = dict(batch_size=8, epochs=2, verbose=0)
    straight = two_output_model_with_nested_base()
    hist = straight.fit(x, [yc, yr], **fit).history

    class Stop(Exception):
        pass

    class StopAfter(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.fit_state.epoch == 1 and batch == 1:
                raise Stop

    backup = keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)
    first = two_output_model_with_nested_base()
    with pytest.raises(Stop):
        first.fit(x, [yc, yr], callbacks=[backup, StopAfter()], **fit)
    again = two_output_model_with_nested_base(
        seed=5
    )  # other weights: all must come back
    resumed = again.fit(
        x,
        [yc, yr],
        callbacks=[keras.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)],
        **fit,
    ).history
    for a, b in zip(again.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    for key in hist:
        assert resumed[key][-1] == pytest.approx(hist[key][-1], rel=1e-12), key


def test_a_graph_is_never_written_as_a_stack(tmp_path):
    inp = keras.Input((3,))
    model = keras.Model(inp, layers.add([layers.Dense(2)(inp), layers.Dense(2)(inp)]))
    try:
        config = model.get_config()
    except cnnlab.errors.CnnlabError as e:
        assert "functional" in str(e)
        with pytest.raises(cnnlab.errors.CnnlabError):
            model.save(tmp_path / "m.keras")
    else:  # once the serializer writes graphs: a graph config, not a stack
        assert "input_layers" in config and "output_layers" in config


def test_names_and_order_of_logs_as_real_keras_3():
    """tests/fixtures/keras/multi_output_names.json, written by scripts/make_keras_multioutput_fixture.py."""
    import json
    from pathlib import Path

    fx = json.loads(
        (
            Path(__file__).parents[1] / "fixtures/keras/multi_output_names.json"
        ).read_text()
    )
    cnnlab.layers.clear_session()
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = layers.concatenate(
        [layers.Dense(5, name="da")(a), layers.Dense(5, name="db")(b)]
    )
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = keras.Model([a, b], [cls, reg])
    assert [layer.name for layer in model.layers] == fx["layers"]
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
    assert list(hist.history) == fx["history_keys"]
    as_dict = model.evaluate([xa, xb], [yc, yr], verbose=0, return_dict=True)
    as_list = model.evaluate([xa, xb], [yc, yr], verbose=0)
    assert list(as_dict) == fx["evaluate_dict_keys"]
    keras_dict = dict(zip(fx["evaluate_dict_keys"], fx["evaluate_dict_values"]))
    keras_order = [
        next(k for k, v in keras_dict.items() if v == value)
        for value in fx["evaluate_list_matches"]
    ]
    assert as_list == [as_dict[k] for k in keras_order]
    assert (
        isinstance(model.predict([xa, xb], verbose=0), list)
        and fx["predict_type"] == "list"
    )
    model2 = keras.Model([a, b], [cls, reg])
    model2.compile("sgd", loss="mse", metrics=[["mae"], ["mse"]])
    h2 = model2.fit(
        [xa, xb], [keras.utils.to_categorical(yc, 3), yr], epochs=1, verbose=0
    )
    assert list(h2.history) == fx["history2_keys"]
    m3 = keras.Model(a, layers.Dense(2, name="only")(a))
    m3.compile("sgd", loss="mse", metrics=["mae"])
    assert (
        list(m3.fit(xa, rng.standard_normal((16, 2)), epochs=1, verbose=0).history)
        == fx["history3_keys"]
    )


def test_sequential_takes_its_input_from_a_built_model_and_pop_keeps_working():
    base = keras.Sequential([keras.Input((6,)), layers.Dense(4)], name="pre")
    model = keras.Sequential([base, layers.Dense(2)])
    assert (
        model.built
        and model.input_shape == (None, 6)
        and model.output_shape == (None, 2)
    )
    model.pop()
    assert model.output_shape == (None, 4) and model.predict(
        np.ones((3, 6)), verbose=0
    ).shape == (3, 4)
    model.pop()
    assert model.layers == [] and model.output_shape == (None, 6)


def test_trace_conv_reads_a_branch_input_through_the_graph():
    from cnnlab.explain.trace import trace_conv

    keras.utils.set_random_seed(2)
    inp = keras.Input((6, 6, 1))
    a = layers.Conv2D(2, 3, padding="same", name="a")(inp)
    b = layers.Conv2D(1, 3, name="b")(
        layers.Activation("relu", name="act")(inp)
    )  # b's input is act's output
    model = keras.Model(
        inp,
        layers.Flatten()(layers.Concatenate()([layers.Conv2D(1, 3, name="c")(a), b])),
    )
    img = np.random.default_rng(0).standard_normal((6, 6, 1)).astype(np.float32)
    outputs, _ = model.layer_outputs(img[None])
    i = [layer.name for layer in model.layers].index("b")
    np.testing.assert_array_equal(outputs.inputs[i], np.maximum(img[None], 0))
    tr = trace_conv(model, img, layer="b")
    assert (tr.window >= 0).all()  # the window comes from act's (ReLU) output
    assert tr.value == pytest.approx(tr.feature_map_value, rel=1e-5, abs=1e-6)


def test_a_frozen_base_with_batch_normalization_stays_as_it_was():
    keras.utils.set_random_seed(4)
    base = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            layers.Conv2D(3, 3),
            layers.BatchNormalization(),
            layers.Activation("relu"),
            layers.GlobalAveragePooling2D(),
        ],
        name="base",
    )
    inp = keras.Input((6, 6, 2))
    head = layers.Dense(2, activation="softmax")
    model = keras.Model(inp, head(base(inp)))
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [w.copy() for w in base.get_weights()]
    head_before = head.get_weights()[0].copy()
    rng = np.random.default_rng(0)
    model.fit(
        rng.standard_normal((32, 6, 6, 2)),
        rng.integers(0, 2, 32),
        epochs=2,
        batch_size=16,
        verbose=0,
    )
    for a, b in zip(
        base.get_weights(), before
    ):  # kernel, bias, gamma, beta, moving stats
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(head.get_weights()[0], head_before)
    assert len(model.trainable_weights) == 2


def test_training_given_at_the_call_is_fixed_in_the_node():
    inp = keras.Input((50,))
    base = keras.Sequential([keras.Input((50,)), layers.Dropout(0.9)], name="noisy")
    frozen_mode = keras.Model(
        inp, base(inp, training=False)
    )  # Keras's transfer-learning idiom
    free = keras.Model(inp, base(inp))
    x = np.ones((4, 50), np.float32)
    np.testing.assert_array_equal(frozen_mode.forward(x, training=True)[0], x)
    assert (free.forward(x, training=True)[0] == 0).mean() > 0.5
    assert frozen_mode.layer_nodes(base)[0].training is False


def test_node_indices_are_counted_within_the_model():
    shared = layers.Dense(2, name="shared_dense")
    elsewhere = keras.Input((3,))
    shared(elsewhere)  # node 0 of the layer, in another graph
    inp = keras.Input((3,), name="inp")
    out = layers.Dense(1, name="top")(shared(inp))
    model = keras.Model(inp, out)
    top_node = model.layer_nodes(model.get_layer("top"))[0]
    assert top_node.inbound == [(shared, 1, 0)]
    assert model.node_inbound(top_node) == [(shared, 0, 0)]


class Doubler(keras.Model):
    """call() only: runs for inference; training it must be refused until call() can be
    differentiated (never trained as the identity)."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1, kernel_initializer="ones", use_bias=False)

    def call(self, x):
        return 2 * self.dense(x)


def test_a_subclass_with_only_call_predicts_and_refuses_to_train_silently():
    model = Doubler()
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(model(x), [[6.0], [6.0]])
    assert model.layers == [model.dense] and len(model.weights) == 1
    model.compile("sgd", "mse")
    if getattr(keras.layers.Layer, "call", None) is None:
        with pytest.raises(cnnlab.errors.CnnlabError, match="cannot differentiate"):
            model.fit(x, np.zeros((2, 1)), verbose=0)


def test_a_nested_model_ending_in_softmax_fuses_with_the_loss_like_a_layer():
    """The loss reads the logits behind a nested model's final softmax (as Keras does during
    fit), so a stack with a nested head trains exactly as the same stack written flat."""
    keras.utils.set_random_seed(1)
    flat = keras.Sequential(
        [keras.Input((5,)), layers.Dense(4), layers.Dense(3, activation="softmax")]
    )
    head = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softmax")])
    nested = keras.Sequential([keras.Input((5,)), layers.Dense(4), head])
    nested.set_weights(flat.get_weights())
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((16, 5)) * 100,
        rng.integers(0, 3, 16),
    )  # saturated softmax: clipping would show
    for model in (flat, nested):
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    assert nested._run_program().output_step(0) is not None
    for a, b in zip(flat.get_weights(), nested.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("frozen", [0, 1, 2])
def test_issue12_freezing_any_layer_of_a_sequential(frozen):
    """Issue 12, item 2: freezing a layer but the last crashed fit with a broadcast error, and
    freezing the last one left its weights changing. Now: frozen weights stay, the rest train."""
    keras.utils.set_random_seed(frozen)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            layers.Conv2D(2, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(4, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ]
    )
    trained = [layer for layer in model.layers if layer.weights]
    trained[frozen].trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = [layer.get_weights() for layer in trained]
    rng = np.random.default_rng(0)
    model.fit(
        rng.random((32, 6, 6, 1)),
        rng.integers(0, 3, 32),
        epochs=2,
        batch_size=16,
        verbose=0,
    )
    for i, (layer, old) in enumerate(zip(trained, before)):
        same = all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), old))
        assert same == (i == frozen), layer.name
    n_frozen = sum(w.size for w in trained[frozen].weights)
    assert sum(w.size for w in model.non_trainable_weights) == n_frozen
    assert sum(s.size for slot in model.optimizer._slots for s in slot) == 2 * (
        model.count_params() - n_frozen
    )
