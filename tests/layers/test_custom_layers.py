"""Custom layers as Keras 3 writes them: ``build``/``add_weight``/``call`` with keras.ops, sub-layers,
non-trainable weights, the explicit backward form, and a clear refusal where no gradient exists.

Gradients are checked against float64 central differences at the layer level (the
``forward``/``backward`` protocol every model uses) and, through ``fit``, by one SGD step.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.keras import layers, ops
from cnnlab.ops.tape import TapeError

TOL = 1e-6


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(a)), np.max(np.abs(b))))


def to_float64(layer):
    for owner, key in layer.weight_slots():
        owner._weights[key] = owner._weights[key].astype(np.float64)


def check_layer_gradients(layer, x, training=True, seed=0):
    """``layer.backward`` against central differences of ``sum(forward(x) * R)``, for the input
    and every trainable weight (float64)."""
    layer(x.astype(np.float32))  # build
    to_float64(layer)
    y, cache = layer.forward(x, training)
    r = np.random.default_rng(seed).standard_normal(y.shape)
    dx, grads = layer.backward(r, cache)
    assert len(grads) == len(layer.trainable_weights)

    def loss():
        return float(np.sum(layer.forward(x, training)[0] * r))

    for name, analytic, target in [("x", dx, x)] + [
        (f"{owner.name}/{key}", g, owner._weights[key])
        for (owner, key), g in zip(layer.trainable_slots(), grads)
    ]:
        numeric = np.zeros(target.shape)
        flat, out = target.reshape(-1), numeric.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + 1e-6
            up = loss()
            flat[i] = old - 1e-6
            down = loss()
            flat[i] = old
            out[i] = (up - down) / 2e-6
        err = rel_error(analytic, numeric)
        assert err < TOL, f"{name}: relative error {err:.3g}"


class Linear(layers.Layer):
    """Keras's guide example: a Dense written with add_weight and keras.ops."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer="random_normal",
            trainable=True,
        )
        self.b = self.add_weight(
            shape=(self.units,),
            initializer="random_normal",
            trainable=True,
            name="bias",
        )

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Double(layers.Layer):
    def call(self, x):
        return 2 * x


def small_x(shape=(4, 5), seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------- call runs (issue 12 item 1)


def test_call_runs_inside_a_model_not_the_identity():
    """Before: a subclass's call was ignored and the layer passed x through."""
    model = keras.Sequential([keras.Input((3,)), Double()])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(model.predict(x, verbose=0), 2 * x)
    assert np.array_equal(model(x), 2 * x)
    assert np.array_equal(Double()(x), 2 * x)


def test_add_weight_keras3_forms():
    class Forms(layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(
                shape=(2, 3), initializer="ones"
            )  # keyword, no name
            self.b = self.add_weight((3,), "zeros")  # positional
            self.c = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(4.0), name="c"
            )
            self.d = self.add_weight("legacy", (1,), "ones")  # Keras 2 / cnnlab form
            self.e = self.add_weight(
                shape=(2,), trainable=False, name="counts", initializer="zeros"
            )

        def call(self, x):
            return x

    layer = Forms()
    layer(np.zeros((1, 2), np.float32))
    assert layer.weight_names == ["variable", "variable_1", "c", "legacy", "counts"]
    assert [w.shape for w in layer.weights] == [(2, 3), (3,), (), (1,), (2,)]
    assert all(w.dtype == np.float32 for w in layer.weights)
    assert float(layer.c.value) == 4.0 and layer.c.path == f"{layer.name}/c"
    assert len(layer.trainable_weights) == 4 and len(layer.non_trainable_weights) == 1
    assert layer.e.trainable is False
    assert np.array_equal(layer.weights[0], np.ones((2, 3)))
    # the default initializer for floats is glorot_uniform, as Keras
    glorot = Forms().add_weight(shape=(50, 50))
    assert 0 < np.abs(glorot.value).max() <= np.sqrt(6 / 100)


def test_add_weight_takes_regularizers_and_constraints_and_refuses_bad_forms():
    class Reg(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(
                2, kernel_regularizer="l2", kernel_initializer="ones"
            )

        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(2,),
                initializer="ones",
                regularizer=keras.regularizers.L1(0.5),
                constraint=keras.constraints.NonNeg(),
            )

        def call(self, x):
            return self.inner(x) * self.w

    layer = Reg()
    model = keras.Sequential([keras.Input((3,)), layer])
    # L1(0.5) on w (two ones) and L2(0.01) on the sub-layer's kernel (six ones): both in the loss
    assert np.isclose(layer.weight_penalty(), 0.5 * 2 + 0.01 * 6)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32)
    assert np.isclose(
        model.evaluate(x, y, verbose=0),
        np.mean(model.predict(x, verbose=0) ** 2) + 1.06,
        atol=1e-5,
    )
    layer.w.assign([-1.0, 2.0])
    layer.apply_constraints()
    assert layer.w.value.tolist() == [0.0, 2.0]
    plain = layers.Layer()
    with pytest.raises(TypeError, match="at most 3 positional"):
        plain.add_weight((2,), "zeros", "float32", True)
    with pytest.raises(TypeError, match="`shape` was passed both"):
        plain.add_weight((2,), shape=(3,))


def test_variable_follows_the_models_flat_buffer():
    """Training moves weights into the optimizer's flat buffer; the Variable a layer keeps must
    read the moved array (else call would compute with stale weights)."""
    layer = Linear(2)
    model = keras.Sequential([keras.Input((3,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((4, 3), np.float32)
    before = layer.w.numpy()
    model.train_on_batch(x, np.zeros((4, 2), np.float32))
    assert layer.w.value is layer._weights["variable"]
    if model._setup.flat is not None:
        assert np.shares_memory(layer.w.value, model._setup.flat)
    assert not np.allclose(before, layer.w.value)
    assert np.allclose(
        model.predict(x, verbose=0), x @ layer.w.value + layer.b.value, atol=1e-6
    )
    layer.w.assign(np.ones((3, 2)))
    assert np.array_equal(model.get_weights()[0], np.ones((3, 2)))


# --------------------------------------------------------------------------- gradients from the tape


def test_keras_ops_layer_gradients_match_numeric():
    check_layer_gradients(Linear(3), small_x())


def test_operators_indexing_and_fan_out_gradients():
    class Mixed(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(
                shape=(input_shape[-1],), initializer="random_normal"
            )

        def call(self, x):
            h = ops.tanh(x * self.scale)  # h is used three times: gradients add up
            first = h[:, 0:1]
            return ops.concatenate(
                [h * first, ops.sum(h**2, axis=-1, keepdims=True) - x[:, -1:]], axis=-1
            )

    layer = Mixed()
    check_layer_gradients(layer, small_x())
    assert layer(np.zeros((2, 5), np.float32)).shape == (
        2,
        6,
    ) and layer.output_shape == (None, 6)


def test_keras_activations_inside_call_train_as_keras_ops_do():
    """keras-io's subclassing guide writes ``keras.activations.relu(x)`` inside ``call``: it records
    on the tape (before, training refused it), and a layer still knows the function by its name."""
    from cnnlab.keras import activations

    class Block(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1], 4), initializer="random_normal"
            )

        def call(self, x):
            h = ops.matmul(x, self.w)
            return ops.concatenate(
                [
                    activations.relu(h),
                    activations.relu(h, negative_slope=0.1, threshold=0.05),
                    activations.gelu(h),
                    activations.softmax(h),
                ],
                axis=-1,
            )

    check_layer_gradients(Block(), small_x())
    assert layers.Dense(2, activation=activations.relu).activation_name == "relu"
    assert (
        layers.Dense(2, activation=activations.gelu).get_config()["activation"]
        == "gelu"
    )
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    assert np.array_equal(activations.relu(x, threshold=0.5), np.where(x > 0.5, x, 0))


def test_sub_layers_are_tracked_and_run_their_own_backward():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(4, activation="tanh")
            self.heads = [layers.Dense(2), Linear(2)]
            self.by_name = {"gate": layers.Dense(2, activation="sigmoid")}

        def call(self, x, training=None):
            h = self.inner(x)
            h2 = self.inner(ops.sin(x))  # a shared sub-layer: its gradients add up
            return self.heads[0](h) * self.by_name["gate"](h2) + self.heads[1](h)

    block = Block()
    block(np.zeros((1, 5), np.float32))
    assert len(block.weights) == 8 and len(block.trainable_weights) == 8
    assert block.count_params() == (5 * 4 + 4) + 2 * (4 * 2 + 2) + (4 * 2 + 2)
    y, cache = block.forward(small_x().astype(np.float32), True)
    # a built-in layer is one tape entry with its own backward, not the tape's per-op path
    names = [e.name for e in cache.tape.entries]
    assert names.count(f"layer '{block.inner.name}'") == 2 and "matmul" not in names
    check_layer_gradients(block, small_x())


def test_a_subclass_of_a_builtin_layer_may_call_super_call():
    class ScaledDense(layers.Dense):
        def build(self, input_shape):
            super().build(input_shape)
            self.gain = self.add_weight(shape=(), initializer="ones", name="gain")

        def call(self, x):
            return super().call(x) * self.gain

    layer = ScaledDense(3, activation="tanh")
    check_layer_gradients(layer, small_x())
    assert len(layer.trainable_weights) == 3


def test_non_trainable_weights_stay_out_of_gradients_and_training():
    class Shift(layers.Layer):
        def build(self, input_shape):
            self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones")
            self.offset = self.add_weight(
                shape=(input_shape[-1],), initializer="ones", trainable=False
            )

        def call(self, x):
            return x * self.k + self.offset

    layer = Shift()
    model = keras.Sequential([keras.Input((3,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = np.ones((8, 3), np.float32), np.zeros((8, 3), np.float32)
    model.fit(x, y, epochs=2, verbose=0)
    assert np.array_equal(layer.offset.value, np.ones(3))
    assert not np.allclose(layer.k.value, 1.0)
    assert len(model.trainable_weights) == 1 and len(model.non_trainable_weights) == 1
    check_layer_gradients(layer, small_x((4, 3)))


def test_training_flag_reaches_call_and_sub_layers():
    class Noisy(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop = layers.Dropout(0.5, seed=1)

        def call(self, x, training=None):
            return self.drop(x) + (1.0 if training else 0.0)

    layer = Noisy()
    x = np.ones((4, 10), np.float32)
    assert np.array_equal(layer(x), x)
    trained = layer(x, training=True)
    assert set(np.unique(trained).tolist()) <= {1.0, 3.0} and (trained == 1.0).any()


def test_fit_trains_a_custom_layer_and_one_step_matches_the_numeric_gradient():
    keras.utils.set_random_seed(3)
    custom = Linear(3)
    model = keras.Sequential([keras.Input((5,)), custom, layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x, y = (
        small_x((16, 5)).astype(np.float32),
        small_x((16, 2), seed=2).astype(np.float32),
    )
    before = [w.astype(np.float64) for w in model.get_weights()]

    def loss_at(weights):
        h = x.astype(np.float64) @ weights[0] + weights[1]
        return float(np.mean((h @ weights[2] + weights[3] - y) ** 2))

    numeric = []
    for i, w in enumerate(before):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            up = [v.copy() for v in before]
            down = [v.copy() for v in before]
            up[i][idx] += 1e-6
            down[i][idx] -= 1e-6
            g[idx] = (loss_at(up) - loss_at(down)) / 2e-6
        numeric.append(g)
    model.train_on_batch(x, y)
    for w0, w1, g in zip(before, model.get_weights(), numeric):
        assert rel_error((w0 - w1) / 0.5, g) < 1e-5  # float32 training step
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]


# --------------------------------------------------------------------------- the explicit form


def test_a_layer_with_its_own_backward_trains_with_it():
    class Cube(layers.Layer):
        def call(self, x):
            return x**3

        def backward(self, dy, x):
            return 3 * x**2 * dy, []

    check_layer_gradients(Cube(), small_x())
    model = keras.Sequential([keras.Input((5,)), layers.Dense(5), Cube()])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(
        small_x((8, 5)).astype(np.float32), np.zeros((8, 5), np.float32), verbose=0
    )


def test_a_forward_without_a_backward_refuses_to_train():
    class ForwardOnly(layers.Layer):
        def forward(self, x, training=False, crop_to=None):
            return x * 2, None

    model = keras.Sequential([keras.Input((3,)), layers.Dense(3), ForwardOnly()])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(
        CnnlabError,
        match=r"'forward_only' \(ForwardOnly\) defines its forward but no backward",
    ):
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 3), np.float32), verbose=0)


# --------------------------------------------------------------------------- refusing to train


def test_a_numpy_layer_predicts_but_refuses_to_train_naming_layer_and_line():
    class NumpyTanh(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return np.tanh(x) * self.w

    model = keras.Sequential(
        [keras.Input((3,)), layers.Dense(3), NumpyTanh(name="np_tanh")]
    )
    x = np.ones((4, 3), np.float32)
    dense_out = model.layers[0](x)
    assert np.allclose(
        model.predict(x, verbose=0), np.tanh(dense_out)
    )  # inference works
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(TapeError) as info:
        model.fit(x, np.zeros((4, 3), np.float32), verbose=0)
    message = str(info.value)
    assert "Layer 'np_tanh' (NumpyTanh) cannot be trained" in message
    assert (
        "numpy.tanh" in message
        and "test_custom_layers.py" in message
        and "np.tanh(x) * self.w" in message
    )
    assert "Received:" in message
    for w0, w1 in zip(before, model.get_weights()):
        assert np.array_equal(w0, w1)  # nothing was updated


def test_a_weight_read_as_a_numpy_array_breaks_the_chain():
    class ReadsWeight(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="ones")

        def call(self, x):
            return ops.matmul(x, np.asarray(self.w))

    layer = ReadsWeight()
    layer(np.ones((2, 3), np.float32))
    y, cache = layer.forward(np.ones((2, 3), np.float32), True)
    with pytest.raises(TapeError, match=r"turned into a NumPy array"):
        layer.backward(np.ones_like(y), cache)


# --------------------------------------------------------------------------- shapes and config


def test_output_shape_is_inferred_by_running_call_and_summary_shows_it():
    class Halve(layers.Layer):
        def call(self, x):
            return ops.reshape(x, (-1, x.shape[1] // 2, 2))[:, :, 0]

    model = keras.Sequential([keras.Input((6,)), Halve(name="halve"), layers.Dense(2)])
    assert model.layers[0].output_shape == (None, 3)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 3)" in lines[0] and "halve (Halve)" in lines[0]

    class Declared(Halve):
        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[1] // 2)

    assert keras.Sequential([keras.Input((8,)), Declared()]).output_shape == (None, 4)


def test_get_config_and_from_config_round_trip():
    layer = Linear(7, name="lin", trainable=False)
    config = layer.get_config()
    assert (
        config["units"] == 7
        and config["name"] == "lin"
        and config["trainable"] is False
    )
    again = Linear.from_config(config)
    assert again.units == 7 and again.name == "lin" and again.trainable is False


def test_a_sub_layer_built_lazily_in_call_is_trained_by_the_model():
    class Lazy(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(2)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 2)

        def call(self, x):
            return self.dense(x)

    lazy = Lazy()
    model = keras.Sequential([keras.Input((3,)), lazy])
    assert len(model.trainable_weights) == 2
    model.compile(optimizer="sgd", loss="mse")
    before = lazy.dense.get_weights()
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    assert not np.allclose(before[0], lazy.dense.get_weights()[0])
    if (
        model._setup.flat is not None
    ):  # the fast path keeps the sub-layer's weights in its buffer too
        assert np.shares_memory(lazy.dense._weights["kernel"], model._setup.flat)


def test_frozen_custom_layer_freezes_its_sub_layers():
    class Holder(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    holder = Holder()
    holder(np.ones((1, 3), np.float32))
    holder.trainable = False
    assert holder.trainable_weights == [] and len(holder.non_trainable_weights) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, cache = holder.forward(np.ones((2, 3), np.float32), True)
    dx, grads = holder.backward(np.ones_like(y), cache)
    assert grads == [] and dx.shape == (2, 3)


def test_add_loss_and_plot_model_say_they_are_not_supported():
    class Penalised(layers.Layer):
        def call(self, x):
            self.add_loss(ops.sum(x))
            return x

    with pytest.raises(CnnlabError, match=r"add_loss\(\) yet.*regularizer.*Received"):
        Penalised()(np.ones((2, 3), np.float32))
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    with pytest.raises(CnnlabError, match="plot_model is not available.*summary"):
        keras.utils.plot_model(model, "m.png")
