"""Functional models train as PyTorch trains the same network: same initial weights
copied in, SGD with momentum (the same rule in both), full-batch steps; the weights
agree within 1e-5 after several steps. Covers: a residual block with Add, two
branches joined by Concatenate, two inputs, two outputs with a loss dict and
loss_weights, a nested Sequential, a shared layer, a frozen base."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnnlab import keras
from cnnlab.keras import layers

STEPS, LR, MOMENTUM = 5, 0.05, 0.9


def t(a, grad=True):
    return torch.tensor(np.asarray(a, np.float32), requires_grad=grad)


def conv(x_nhwc, kernel, bias, padding="same"):
    """Keras's Conv2D on NHWC through PyTorch's NCHW conv (3x3, stride 1: 'same' is symmetric)."""
    y = F.conv2d(
        x_nhwc.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1), bias, padding=padding
    )
    return y.permute(0, 2, 3, 1)


def torch_sgd(params, loss_fn, steps=STEPS):
    """Keras's SGD with momentum: m = mu*m - lr*g; w += m (PyTorch's SGD is the same rule)."""
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def fit(model, x, y, loss, **compile_kwargs):
    model.compile(
        keras.optimizers.SGD(LR, momentum=MOMENTUM), loss=loss, **compile_kwargs
    )
    n = (
        len(x[0])
        if isinstance(x, (list, tuple))
        else len(next(iter(x.values())))
        if isinstance(x, dict)
        else len(x)
    )
    model.fit(x, y, batch_size=n, epochs=STEPS, shuffle=False, verbose=0)


def assert_weights(model_weights, torch_weights):
    assert len(model_weights) == len(torch_weights)
    for a, b in zip(model_weights, torch_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return {
        "img": rng.random((12, 6, 6, 2)).astype(np.float32),
        "vec": rng.standard_normal((12, 5)).astype(np.float32),
        "cls": rng.integers(0, 3, 12),
        "reg": rng.standard_normal((12, 1)).astype(np.float32),
    }


def test_residual_block_with_add(data):
    keras.utils.set_random_seed(1)
    inp = keras.Input((6, 6, 2))
    h = layers.Conv2D(
        4, 3, padding="same", activation="relu", bias_initializer="random_normal"
    )(inp)
    r = layers.Conv2D(4, 3, padding="same", bias_initializer="random_normal")(h)
    h2 = layers.Activation("relu")(
        layers.Add()([h, r])
    )  # h fans out: into the conv and the shortcut
    out = layers.Dense(3, activation="softmax")(
        layers.Flatten()(layers.MaxPooling2D()(h2))
    )
    model = keras.Model(inp, out)
    w = [t(a) for a in model.get_weights()]

    def loss():
        x = t(data["img"], False)
        h = torch.relu(conv(x, w[0], w[1]))
        h2 = torch.relu(h + conv(h, w[2], w[3]))
        p = (
            F.max_pool2d(h2.permute(0, 3, 1, 2), 2)
            .permute(0, 2, 3, 1)
            .reshape(len(x), -1)
        )
        return F.cross_entropy(p @ w[4] + w[5], torch.tensor(data["cls"]))

    expected = torch_sgd(w, loss)
    fit(model, data["img"], data["cls"], "sparse_categorical_crossentropy")
    assert_weights(model.get_weights(), expected)


def test_two_branches_concatenated(data):
    keras.utils.set_random_seed(2)
    inp = keras.Input((6, 6, 2))
    a = layers.Conv2D(3, 3, padding="same", activation="tanh")(inp)
    b = layers.Conv2D(2, 1, activation="relu", bias_initializer="random_normal")(inp)
    h = layers.Concatenate()([a, b])
    out = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    w = [t(v) for v in model.get_weights()]

    def loss():
        x = t(data["img"], False)
        h = torch.cat(
            [torch.tanh(conv(x, w[0], w[1])), torch.relu(conv(x, w[2], w[3], "valid"))],
            -1,
        )
        return F.cross_entropy(
            h.mean(dim=(1, 2)) @ w[4] + w[5], torch.tensor(data["cls"])
        )

    expected = torch_sgd(w, loss)
    fit(model, data["img"], data["cls"], "sparse_categorical_crossentropy")
    assert_weights(model.get_weights(), expected)


def test_two_inputs_two_outputs_loss_dict_and_weights(data):
    keras.utils.set_random_seed(3)
    img, vec = keras.Input((6, 6, 2), name="img"), keras.Input((5,), name="vec")
    f = layers.Flatten()(layers.Conv2D(2, 3, activation="relu")(img))
    h = layers.concatenate([f, layers.Dense(4, activation="tanh")(vec)])
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = keras.Model([img, vec], [cls, reg])
    w = [t(v) for v in model.get_weights()]
    names = [layer.name for layer in model.layers]
    # Keras's order: by depth from the outputs (img 4, conv 3, vec 3, ...), ties as first met from the outputs.
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "InputLayer",
        "Conv2D",
        "InputLayer",
        "Flatten",
        "Dense",
        "Concatenate",
        "Dense",
        "Dense",
    ]
    assert names[0] == "img" and names[2] == "vec" and names[-2:] == ["cls", "reg"]

    def loss():
        f = torch.relu(conv(t(data["img"], False), w[0], w[1], "valid")).reshape(12, -1)
        h = torch.cat([f, torch.tanh(t(data["vec"], False) @ w[2] + w[3])], -1)
        ce = F.cross_entropy(h @ w[4] + w[5], torch.tensor(data["cls"]))
        mse = F.mse_loss(h @ w[6] + w[7], t(data["reg"], False))
        return 1.0 * ce + 0.25 * mse

    expected = torch_sgd(w, loss)
    fit(
        model,
        {"img": data["img"], "vec": data["vec"]},
        {"cls": data["cls"], "reg": data["reg"]},
        {"cls": "sparse_categorical_crossentropy", "reg": "mse"},
        loss_weights={"cls": 1.0, "reg": 0.25},
        metrics={"cls": ["accuracy"], "reg": ["mae"]},
    )
    assert_weights(model.get_weights(), expected)
    hist = list(model.history.history)
    assert hist == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    logs = model.evaluate(
        [data["img"], data["vec"]],
        [data["cls"], data["reg"]],
        verbose=0,
        return_dict=True,
    )
    assert logs["loss"] == pytest.approx(
        logs["cls_loss"] + 0.25 * logs["reg_loss"], rel=1e-6
    )


def test_nested_sequential_inside_sequential_and_a_model_called_on_a_tensor(data):
    keras.utils.set_random_seed(4)
    base = keras.Sequential(
        [layers.Conv2D(3, 3, activation="relu"), layers.MaxPooling2D()], name="base"
    )
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            base,
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    assert model.layers[0] is base and base.built
    w = [t(v) for v in model.get_weights()]

    def loss():
        h = torch.relu(conv(t(data["img"], False), w[0], w[1], "valid"))
        p = F.max_pool2d(h.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).reshape(12, -1)
        return F.cross_entropy(p @ w[2] + w[3], torch.tensor(data["cls"]))

    expected = torch_sgd(w, loss)
    fit(model, data["img"], data["cls"], "sparse_categorical_crossentropy")
    assert_weights(model.get_weights(), expected)
    # The same trained base, called on a tensor inside a functional model: one node, same numbers.
    inp = keras.Input((6, 6, 2))
    outer = keras.Model(inp, layers.Flatten()(base(inp)))
    assert base in outer.layers and len(base._inbound_nodes) >= 1
    np.testing.assert_allclose(
        outer.predict(data["img"], verbose=0),
        base.predict(data["img"], verbose=0).reshape(12, -1),
        rtol=1e-6,
    )


def test_shared_layer_gradients_add_up(data):
    keras.utils.set_random_seed(5)
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    out = layers.Dense(1, name="out")(layers.subtract([shared(a), shared(b)]))
    model = keras.Model([a, b], out)
    assert len(shared._inbound_nodes) == 2 and len(model.layer_nodes(shared)) == 2
    assert len(model.weights) == 4  # the shared weights count once
    rng = np.random.default_rng(9)
    xb = rng.standard_normal((12, 5)).astype(np.float32)
    w = [t(v) for v in model.get_weights()]

    def loss():
        d = torch.tanh(t(data["vec"], False) @ w[0] + w[1]) - torch.tanh(
            t(xb, False) @ w[0] + w[1]
        )
        return F.mse_loss(d @ w[2] + w[3], t(data["reg"], False))

    expected = torch_sgd(w, loss)
    fit(model, [data["vec"], xb], data["reg"], "mse")
    assert_weights(model.get_weights(), expected)


def test_frozen_base_keeps_its_weights_and_the_head_trains_as_torch(data):
    keras.utils.set_random_seed(6)
    base = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            layers.Conv2D(3, 3, activation="relu"),
            layers.Flatten(),
        ],
        name="base",
    )
    base.trainable = False
    inp = keras.Input((6, 6, 2))
    model = keras.Model(inp, layers.Dense(3, activation="softmax")(base(inp)))
    frozen = [v.copy() for v in base.get_weights()]
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    w = [t(v) for v in model.get_weights()]
    k, b = w[0].detach(), w[1].detach()

    def loss():
        h = torch.relu(conv(t(data["img"], False), k, b, "valid")).reshape(12, -1)
        return F.cross_entropy(h @ w[2] + w[3], torch.tensor(data["cls"]))

    expected = torch_sgd(w[2:], loss)
    fit(model, data["img"], data["cls"], "sparse_categorical_crossentropy")
    for a, f in zip(base.get_weights(), frozen):
        np.testing.assert_array_equal(a, f)
    assert_weights(model.get_weights()[2:], expected)
    assert (
        sum(s.size for slot in model.optimizer._slots for s in slot) == 48 * 3 + 3
    )  # no state for the base
