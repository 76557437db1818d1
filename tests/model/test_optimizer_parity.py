"""Training trajectories against PyTorch autograd, optimizer by optimizer.

The same small CNN is built twice: in cnnlab (channels_last, Keras layouts) and
in PyTorch (channels_first). The initial weights are copied across layouts, both
see the same batches in the same order (``shuffle=False``), and after two epochs
the weights must agree.

Where Keras's update rule is not PyTorch's (Adam's epsilon outside a bias-
corrected step, RMSprop's epsilon inside the root, Adagrad's 0.1 start, Keras's
momentum/Nesterov form), the torch optimizer is not used: torch only computes
the gradients, and the Keras rule is applied by hand below (in float64, so the
reference is the exact rule and cnnlab's float32 arithmetic is what is tested).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from cnnlab import keras  # noqa: E402

N, BATCH, EPOCHS, CLASSES = 64, 16, 2, 5
TOL = 1e-4


# --------------------------------------------------------------------------- the data and the two models


def make_data():
    rng = np.random.default_rng(1234)
    x = rng.normal(size=(N, 8, 8, 1)).astype(np.float32)
    # labels that depend on the input, so the gradients carry signal
    y = (np.abs(x[:, 2:6, 2:6, 0]).sum(axis=(1, 2)) * 7).astype(np.int64) % CLASSES
    return x, y


def make_keras_model(seed=7):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )


def keras_to_torch(weights, dtype=torch.float64):
    """[conv kernel (kh,kw,cin,cout), conv bias, dense kernel (in,out), dense bias]
    -> torch leaf tensors in torch layouts: (cout,cin,kh,kw), (cout,), (out,in), (out,)."""
    ck, cb, dk, db = weights
    out = [ck.transpose(3, 2, 0, 1), cb, dk.T, db]
    return [
        torch.tensor(np.ascontiguousarray(w), dtype=dtype, requires_grad=True)
        for w in out
    ]


def torch_to_keras(params):
    ck, cb, dk, db = (p.detach().numpy() for p in params)
    return [ck.transpose(2, 3, 1, 0), cb, dk.T, db]


def torch_loss(params, xb, yb):
    """The same network in torch; the activation is permuted to NHWC before
    flattening, because Keras flattens (H, W, C) row-major."""
    ck, cb, dk, db = params
    h = F.relu(F.conv2d(xb, ck, cb))
    h = F.max_pool2d(h, 2)
    h = h.permute(0, 2, 3, 1).reshape(len(xb), -1)
    logits = h @ dk.T + db
    return F.cross_entropy(
        logits, yb
    )  # mean of -log softmax: Keras's fused softmax + sparse CE


def torch_batches(x, y, dtype=torch.float64):
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), dtype=dtype)
    yt = torch.tensor(y)
    for _ in range(EPOCHS):
        for s in range(0, N, BATCH):
            yield xt[s : s + BATCH], yt[s : s + BATCH]


# --------------------------------------------------------------------------- Keras's update rules, by hand


def sgd_rule(lr):
    def step(params, state, t):
        for p in params:
            p -= lr * p.grad

    return step


def momentum_rule(lr, mu, nesterov):
    def step(params, state, t):
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
        for p, m in zip(params, state["m"]):
            g = p.grad
            m.mul_(mu).sub_(lr * g)  # m = mu m - lr g
            if nesterov:
                p += mu * m - lr * g  # w += mu m - lr g
            else:
                p += m  # w += m

    return step


def adam_rule(lr, b1=0.9, b2=0.999, eps=1e-7):
    def step(params, state, t):
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
            state["v"] = [torch.zeros_like(p) for p in params]
        lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for p, m, v in zip(params, state["m"], state["v"]):
            g = p.grad
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            p -= lr_t * m / (torch.sqrt(v) + eps)

    return step


def rmsprop_rule(lr, rho=0.9, eps=1e-7):
    def step(params, state, t):
        if not state:
            state["v"] = [torch.zeros_like(p) for p in params]
        for p, v in zip(params, state["v"]):
            g = p.grad
            v.mul_(rho).add_((1 - rho) * g * g)
            p -= lr * g / torch.sqrt(v + eps)

    return step


def adagrad_rule(lr, init=0.1, eps=1e-7):
    def step(params, state, t):
        if not state:
            state["acc"] = [torch.full_like(p, init) for p in params]
        for p, acc in zip(params, state["acc"]):
            g = p.grad
            acc += g * g
            p -= lr * g / torch.sqrt(acc + eps)

    return step


def run_reference(initial, x, y, rule):
    params = keras_to_torch(initial)
    state = {}
    for t, (xb, yb) in enumerate(torch_batches(x, y), start=1):
        for p in params:
            p.grad = None
        torch_loss(params, xb, yb).backward()
        with torch.no_grad():
            rule(params, state, t)
    return torch_to_keras(params)


def run_torch_sgd(initial, x, y, lr):
    """Plain SGD is the same rule in both libraries: use torch.optim.SGD itself."""
    params = keras_to_torch(initial)
    opt = torch.optim.SGD(params, lr=lr)
    for xb, yb in torch_batches(x, y):
        opt.zero_grad()
        torch_loss(params, xb, yb).backward()
        opt.step()
    return torch_to_keras(params)


def run_cnnlab(optimizer):
    x, y = make_data()
    model = make_keras_model()
    initial = model.get_weights()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    return initial, model.get_weights(), x, y


def assert_trajectory(initial, ours, ref):
    names = ["conv kernel", "conv bias", "dense kernel", "dense bias"]
    moved = max(float(np.max(np.abs(r - i))) for r, i in zip(ref, initial))
    assert moved > 100 * TOL, (
        f"the reference weights barely moved ({moved:.2e}): the test could not fail"
    )
    for name, o, r, i in zip(names, ours, ref, initial):
        assert o.shape == r.shape == i.shape
        assert o.dtype == np.float32
        err = float(np.max(np.abs(o - r)))
        assert err < TOL, (
            f"{name}: max |cnnlab - reference| = {err:.3e} (weights moved {moved:.3e})"
        )


# --------------------------------------------------------------------------- the tests


def test_plain_sgd_matches_torch_optim_sgd():
    lr = 0.05
    initial, ours, x, y = run_cnnlab(keras.optimizers.SGD(learning_rate=lr))
    assert_trajectory(initial, ours, run_torch_sgd(initial, x, y, lr))


def test_plain_sgd_matches_hand_written_rule():
    lr = 0.05
    initial, ours, x, y = run_cnnlab(keras.optimizers.SGD(learning_rate=lr))
    assert_trajectory(initial, ours, run_reference(initial, x, y, sgd_rule(lr)))


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
def test_sgd_momentum_keras_rule(nesterov):
    lr, mu = 0.05, 0.9
    initial, ours, x, y = run_cnnlab(
        keras.optimizers.SGD(learning_rate=lr, momentum=mu, nesterov=nesterov)
    )
    assert_trajectory(
        initial, ours, run_reference(initial, x, y, momentum_rule(lr, mu, nesterov))
    )


def test_nesterov_differs_from_plain_momentum():
    """The two momentum variants must not collapse into one rule."""
    _, a, _, _ = run_cnnlab(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    _, b, _, _ = run_cnnlab(
        keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)
    )
    assert max(float(np.max(np.abs(p - q))) for p, q in zip(a, b)) > 100 * TOL


def test_adam_keras_rule():
    lr = 0.01
    initial, ours, x, y = run_cnnlab(keras.optimizers.Adam(learning_rate=lr))
    assert_trajectory(initial, ours, run_reference(initial, x, y, adam_rule(lr)))


def test_rmsprop_keras_rule():
    lr = 0.01
    initial, ours, x, y = run_cnnlab(keras.optimizers.RMSprop(learning_rate=lr))
    assert_trajectory(initial, ours, run_reference(initial, x, y, rmsprop_rule(lr)))


def test_adagrad_keras_rule():
    lr = 0.05
    initial, ours, x, y = run_cnnlab(keras.optimizers.Adagrad(learning_rate=lr))
    assert_trajectory(initial, ours, run_reference(initial, x, y, adagrad_rule(lr)))


def test_optimizer_given_by_name_uses_keras_defaults():
    """compile(optimizer='adam') is Adam(0.001, 0.9, 0.999, 1e-7): same trajectory as the hand rule."""
    initial, ours, x, y = run_cnnlab("adam")
    ref = run_reference(initial, x, y, adam_rule(0.001))
    for o, r in zip(ours, ref):
        assert float(np.max(np.abs(o - r))) < TOL
    assert max(float(np.max(np.abs(r - i))) for r, i in zip(ref, initial)) > 10 * TOL


# --------------------------------------------------------------------------- defaults and the summary


def test_optimizer_defaults_match_keras():
    sgd = keras.optimizers.SGD()
    assert sgd.learning_rate == pytest.approx(0.01)
    assert sgd.momentum == 0.0 and sgd.nesterov is False

    adam = keras.optimizers.Adam()
    assert adam.learning_rate == pytest.approx(0.001)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == pytest.approx((0.9, 0.999, 1e-7))

    rms = keras.optimizers.RMSprop()
    assert rms.learning_rate == pytest.approx(0.001)
    assert rms.rho == pytest.approx(0.9)
    assert rms.momentum == 0.0 and rms.epsilon == pytest.approx(1e-7)

    ada = keras.optimizers.Adagrad()
    assert ada.learning_rate == pytest.approx(0.001)
    assert ada.initial_accumulator_value == pytest.approx(0.1)
    assert ada.epsilon == pytest.approx(1e-7)


@pytest.mark.parametrize(
    "name, cls, lr",
    [
        ("sgd", "SGD", 0.01),
        ("adam", "Adam", 0.001),
        ("rmsprop", "RMSprop", 0.001),
        ("adagrad", "Adagrad", 0.001),
    ],
)
def test_optimizer_names_resolve_with_defaults(name, cls, lr):
    opt = keras.optimizers.get(name)
    assert type(opt).__name__ == cls
    assert opt.learning_rate == pytest.approx(lr)


def test_compile_default_optimizer_is_rmsprop():
    model = make_keras_model()
    model.compile(loss="sparse_categorical_crossentropy")
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model.optimizer.learning_rate == pytest.approx(0.001)


def summary_lines(model):
    captured = []
    model.summary(line_length=88, print_fn=captured.append)
    return "\n".join(captured).splitlines()


def footer(lines, label):
    found = [line for line in lines if line.strip().startswith(label)]
    assert len(found) == 1, f"expected one '{label}' line in:\n" + "\n".join(lines)
    return found[0]


def test_summary_counts_adam_variables_after_fit(seed004_model):
    keras.utils.set_random_seed(0)
    model = seed004_model()
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )

    before = summary_lines(model)
    assert not any("Optimizer params" in layer for layer in before), (
        "no optimizer line before the optimizer is built"
    )
    assert re.search(
        r"Total params: 225,034 \(879\.04 KB\)", footer(before, "Total params:")
    )

    x = np.zeros((4, 28, 28, 1), dtype=np.float32)
    model.fit(x, np.arange(4), batch_size=4, epochs=1, verbose=0)
    after = summary_lines(model)
    # Adam: momentum + velocity per weight (2 * 225,034) + iterations + learning_rate
    assert re.search(
        r"Optimizer params: 450,070 \(1\.72 MB\)", footer(after, "Optimizer params:")
    )
    assert re.search(
        r"Total params: 675,104 \(2\.58 MB\)", footer(after, "Total params:")
    )
    assert re.search(
        r"Trainable params: 225,034 \(879\.04 KB\)", footer(after, "Trainable params:")
    )
    assert re.search(
        r"Non-trainable params: 0 \(0\.00 B\)", footer(after, "Non-trainable params:")
    )
    assert all(
        len(layer) <= 88 for layer in after if layer.startswith(("┏", "│", "└", "┃"))
    )


@pytest.mark.parametrize(
    "optimizer, extra",
    [
        ("sgd", 0),
        (keras.optimizers.SGD(momentum=0.9), 1),
        ("rmsprop", 1),
        ("adagrad", 1),
        ("adam", 2),
    ],
)
def test_summary_optimizer_params_per_optimizer(optimizer, extra):
    """Keras counts iterations + learning_rate, plus one slot per weight per state variable."""
    model = make_keras_model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    x, y = make_data()
    model.fit(x[:16], y[:16], batch_size=16, epochs=1, verbose=0)
    n = model.count_params()
    line = footer(summary_lines(model), "Optimizer params:")
    assert f"Optimizer params: {extra * n + 2:,} " in line
