"""Issue 16: the Keras 3 optimizers beyond the seeds' four, and the base options of every optimizer.

Same set-up as ``test_optimizer_parity.py`` (whose helpers are used): one small CNN in cnnlab
and in PyTorch, the same batches, the weights compared after 8 updates. Where PyTorch has
Keras's rule, ``torch.optim`` itself is the reference; elsewhere Keras's rule is written out
by hand (float64). Each group also checks that a deliberately wrong reference (PyTorch's
variant, the decay at the wrong place, the schedule read one step late) is far from cnnlab,
so the comparison can fail.
"""

from __future__ import annotations

import math
import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).parent))
import test_optimizer_parity as P  # noqa: E402

from cnnlab import keras  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402

K = keras.optimizers


def distance(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def check(optimizer, reference, wrong=None):
    """cnnlab's trajectory matches ``reference(initial, x, y)``, and not ``wrong``."""
    initial, ours, x, y = P.run_cnnlab(optimizer)
    P.assert_trajectory(initial, ours, reference(initial, x, y))
    if wrong is not None:
        assert distance(ours, wrong(initial, x, y)) > 10 * P.TOL, (
            "the wrong reference agrees: the test cannot fail"
        )


def torch_run(make_opt, clip=None):
    """A reference driven by a torch optimizer, optionally with a torch clipping function."""

    def run(initial, x, y):
        params = P.keras_to_torch(initial)
        opt = make_opt(params)
        for xb, yb in P.torch_batches(x, y):
            opt.zero_grad()
            P.torch_loss(params, xb, yb).backward()
            if clip is not None:
                clip(params)
            opt.step()
        return P.torch_to_keras(params)

    return run


def hand(rule):
    return lambda initial, x, y: P.run_reference(initial, x, y, rule)


# --------------------------------------------------------------------------- Keras's rules, by hand


def adam_family(
    lr,
    b1=0.9,
    b2=0.999,
    eps=1e-7,
    wd=None,
    amsgrad=False,
    decay_after=False,
    skip_bias=False,
):
    """Keras's Adam; ``wd``: AdamW's decay of every weight before the step (``decay_after``/``skip_bias``: wrong)."""

    def step(params, state, t):
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
            state["v"] = [torch.zeros_like(p) for p in params]
            state["vh"] = [torch.zeros_like(p) for p in params]
        for p, m, v, vh in zip(params, state["m"], state["v"], state["vh"]):
            g = p.grad
            decays = wd is not None and not (skip_bias and p.ndim == 1)
            if decays and not decay_after:
                p *= 1 - wd * lr
            m += (g - m) * (1 - b1)
            v += (g * g - v) * (1 - b2)
            if amsgrad:
                torch.maximum(vh, v, out=vh)
            alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
            p -= alpha * m / (torch.sqrt(vh if amsgrad else v) + eps)
            if decays and decay_after:
                p *= 1 - wd * lr

    return step


def adamax_rule(lr, b1=0.9, b2=0.999, eps=1e-7):
    def step(params, state, t):
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
            state["u"] = [torch.zeros_like(p) for p in params]
        for p, m, u in zip(params, state["m"], state["u"]):
            g = p.grad
            m += (g - m) * (1 - b1)
            u.copy_(torch.maximum(b2 * u, g.abs()))
            p -= lr * m / ((1 - b1**t) * (u + eps))

    return step


def lion_rule(lr, b1=0.9, b2=0.99, swapped=False):
    def step(params, state, t):
        if not state:
            state["m"] = [torch.zeros_like(p) for p in params]
        for p, m in zip(params, state["m"]):
            g = p.grad
            if swapped:  # wrong: the momentum updated before it is used
                m.mul_(b2).add_((1 - b2) * g)
            p -= lr * torch.sign(b1 * m + (1 - b1) * g)
            if not swapped:
                m.mul_(b2).add_((1 - b2) * g)

    return step


def ftrl_rule(lr, power=-0.5, init=0.1, l1=0.0, l2=0.0, l2s=0.0, beta=0.0):
    def step(params, state, t):
        if not state:
            state["n"] = [torch.full_like(p, init) for p in params]
            state["z"] = [torch.zeros_like(p) for p in params]
        for p, n, z in zip(params, state["n"], state["z"]):
            g = p.grad
            new_n = n + g * g
            z += g + 2 * l2s * p - (new_n**-power - n**-power) / lr * p
            quadratic = new_n**-power / lr + 2 * (l2 + beta / (2 * lr))
            p.copy_((torch.clamp(z, -l1, l1) - z) / quadratic)
            n.copy_(new_n)

    return step


def rmsprop_centered_rule(lr, rho=0.9, eps=1e-7, momentum=0.0):
    def step(params, state, t):
        if not state:
            for k in "vam":
                state[k] = [torch.zeros_like(p) for p in params]
        for p, v, a, m in zip(params, state["v"], state["a"], state["m"]):
            g = p.grad
            v.mul_(rho).add_((1 - rho) * g * g)
            a.mul_(rho).add_((1 - rho) * g)
            inc = lr * g / torch.sqrt(v - a * a + eps)
            if momentum:
                m.mul_(momentum).add_(inc)
                p -= m
            else:
                p -= inc

    return step


def sgd_options_rule(lr_at, wd=None, accumulate=None, ema=None, overwrite=None):
    """Keras's base options around plain SGD: accumulation, weight decay, the EMA (with its overwrite)."""

    def step(params, state, t):
        raw = state.setdefault("raw", 0)
        if not state.get("init"):
            state["init"] = True
            state["acc"] = [torch.zeros_like(p) for p in params]
            state["avg"] = [torch.zeros_like(p) for p in params]
        done = raw // accumulate if accumulate else raw  # Keras's `iterations`
        if accumulate and (raw + 1) % accumulate:
            for acc, p in zip(state["acc"], params):
                acc += p.grad
        else:
            lr = lr_at(raw)
            for i, p in enumerate(params):
                g = p.grad
                if accumulate:
                    g = (g + state["acc"][i]) / accumulate
                    state["acc"][i].zero_()
                if wd is not None:
                    p *= 1 - wd * lr
                p -= lr * g
        if ema is not None:
            mom = ema if done != 0 else 0.0
            for avg, p in zip(state["avg"], params):
                avg.mul_(mom).add_((1 - mom) * p)
                if overwrite and (done + 1) % overwrite == 0:
                    p.copy_(avg)
        state["raw"] = raw + 1

    return step


# --------------------------------------------------------------------------- against torch.optim


def test_adamw_matches_torch_adamw_and_keras_rule():
    lr, wd = 0.01, 0.05
    # torch's AdamW puts epsilon after the bias correction of v; with a negligible epsilon both rules agree.
    check(
        K.AdamW(learning_rate=lr, weight_decay=wd, epsilon=1e-12),
        torch_run(lambda ps: torch.optim.AdamW(ps, lr=lr, weight_decay=wd, eps=1e-12)),
    )
    wd = 2.0  # large enough that decaying the (small) biases or not makes a visible difference
    check(
        K.AdamW(learning_rate=lr, weight_decay=wd),
        hand(adam_family(lr, wd=wd)),
        wrong=hand(adam_family(lr, wd=wd, skip_bias=True)),
    )
    check(
        K.AdamW(learning_rate=lr, weight_decay=wd),
        hand(adam_family(lr, wd=wd)),
        wrong=hand(adam_family(lr, wd=wd, decay_after=True)),
    )


def test_adamw_defaults_and_weight_decay_required():
    opt = K.AdamW()
    assert (
        opt.learning_rate,
        opt.weight_decay,
        opt.beta_1,
        opt.beta_2,
        opt.epsilon,
    ) == pytest.approx((0.001, 0.004, 0.9, 0.999, 1e-7))
    with pytest.raises(ValueError, match="weight_decay"):
        K.AdamW(weight_decay=None)


def test_nadam_matches_torch_nadam_with_keras_momentum_schedule():
    lr = 0.01
    # torch's NAdam: mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras's schedule is momentum_decay = 1.
    check(
        K.Nadam(learning_rate=lr),
        torch_run(
            lambda ps: torch.optim.NAdam(ps, lr=lr, eps=1e-7, momentum_decay=1.0)
        ),
        wrong=torch_run(lambda ps: torch.optim.NAdam(ps, lr=lr, eps=1e-7)),
    )


def test_adamax_matches_torch_and_keras_epsilon_placement():
    lr = 0.01
    # torch adds epsilon inside the running max; with a negligible epsilon the two rules agree.
    check(
        K.Adamax(learning_rate=lr, epsilon=1e-12),
        torch_run(lambda ps: torch.optim.Adamax(ps, lr=lr, eps=1e-12)),
    )
    check(
        K.Adamax(learning_rate=lr, epsilon=0.05),
        hand(adamax_rule(lr, eps=0.05)),
        wrong=hand(adamax_rule(lr, b1=0.8, eps=0.05)),
    )


def test_adadelta_matches_torch_adadelta():
    check(
        K.Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-4),
        torch_run(lambda ps: torch.optim.Adadelta(ps, lr=1.0, rho=0.9, eps=1e-4)),
        wrong=torch_run(
            lambda ps: torch.optim.Adadelta(ps, lr=1.0, rho=0.95, eps=1e-4)
        ),
    )


def test_adam_amsgrad_matches_torch_and_keras_rule():
    lr = 0.01
    check(
        K.Adam(learning_rate=lr, amsgrad=True, epsilon=1e-12),
        torch_run(lambda ps: torch.optim.Adam(ps, lr=lr, amsgrad=True, eps=1e-12)),
    )
    # A short memory (beta_2 = 0.5) makes v fall often, so that the running maximum matters.
    check(
        K.Adam(learning_rate=lr, beta_2=0.5, amsgrad=True),
        hand(adam_family(lr, b2=0.5, amsgrad=True)),
        wrong=hand(adam_family(lr, b2=0.5)),
    )


@pytest.mark.parametrize("kind", ["clipnorm", "global_clipnorm", "clipvalue"])
def test_clipping_matches_torch_clipping(kind):
    lr, c = 2.0, {"clipnorm": 0.05, "global_clipnorm": 0.05, "clipvalue": 0.002}[kind]

    def clip(params):
        if kind == "clipnorm":  # each weight's gradient on its own
            for p in params:
                torch.nn.utils.clip_grad_norm_([p], c)
        elif kind == "global_clipnorm":
            torch.nn.utils.clip_grad_norm_(params, c)
        else:
            torch.nn.utils.clip_grad_value_(params, c)

    check(
        K.SGD(learning_rate=lr, **{kind: c}),
        torch_run(lambda ps: torch.optim.SGD(ps, lr=lr), clip=clip),
        wrong=torch_run(lambda ps: torch.optim.SGD(ps, lr=lr)),
    )


def test_only_one_clipping_option_and_unsupported_options_are_refused():
    with pytest.raises(ValueError, match="Only one of"):
        K.Adam(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(
        CnnlabError, match="loss_scale_factor.*Received: loss_scale_factor=128"
    ):
        K.Adam(loss_scale_factor=128.0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        K.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="not recognized"):
        K.Adam(momentum=0.9)


# --------------------------------------------------------------------------- Keras's rule by hand


def test_lion_keras_rule():
    lr = 0.01
    check(
        K.Lion(learning_rate=lr),
        hand(lion_rule(lr)),
        wrong=hand(lion_rule(lr, swapped=True)),
    )
    with pytest.raises(ValueError, match="beta_1"):
        K.Lion(beta_1=0.0)


def test_ftrl_keras_rule():
    kw = dict(l1=0.001, l2=0.01, l2s=0.02, beta=0.5)
    check(
        K.Ftrl(
            learning_rate=0.5,
            l1_regularization_strength=kw["l1"],
            l2_regularization_strength=kw["l2"],
            l2_shrinkage_regularization_strength=kw["l2s"],
            beta=kw["beta"],
        ),
        hand(ftrl_rule(0.5, **kw)),
        wrong=hand(ftrl_rule(0.5, **{**kw, "l2s": 0.0})),
    )


def test_rmsprop_centered_keras_rule():
    check(
        K.RMSprop(learning_rate=0.01, centered=True),
        hand(rmsprop_centered_rule(0.01)),
        wrong=hand(P.rmsprop_rule(0.01)),
    )
    check(
        K.RMSprop(learning_rate=0.01, centered=True, momentum=0.5),
        hand(rmsprop_centered_rule(0.01, momentum=0.5)),
    )


def test_weight_decay_on_sgd_is_decoupled_and_before_the_step():
    lr, wd = 0.1, 0.5
    check(
        K.SGD(learning_rate=lr, weight_decay=wd),
        hand(sgd_options_rule(lambda s: lr, wd=wd)),
        wrong=hand(P.sgd_rule(lr)),
    )


def test_gradient_accumulation_averages_k_batches_and_counts_updates():
    lr = 0.2
    opt = K.SGD(learning_rate=lr, gradient_accumulation_steps=2)
    check(
        opt,
        hand(sgd_options_rule(lambda s: lr, accumulate=2)),
        wrong=hand(P.sgd_rule(lr)),
    )
    assert (
        opt._iterations == 8 and opt.iterations == 4
    )  # Keras: iterations counts real updates


def test_gradient_accumulation_with_adam_uses_the_update_count_for_bias_correction():
    lr = 0.01
    initial, ours, x, y = P.run_cnnlab(
        K.Adam(learning_rate=lr, gradient_accumulation_steps=2)
    )
    params = P.keras_to_torch(initial)
    acc, state, calls, t = None, {}, 0, 0
    rule = adam_family(lr)
    for xb, yb in P.torch_batches(x, y):
        for p in params:
            p.grad = None
        P.torch_loss(params, xb, yb).backward()
        calls += 1
        if calls % 2:
            acc = [p.grad.clone() for p in params]
            continue
        for p, a in zip(params, acc):
            p.grad = (p.grad + a) / 2
        t += 1
        with torch.no_grad():
            rule(params, state, t)
    P.assert_trajectory(initial, ours, P.torch_to_keras(params))


def ema_reference(lr, momentum, overwrite=None):
    """The hand rule's trajectory; at the end of fit the weights take their averages (finalize_variable_values)."""

    def run(initial, x, y):
        params = P.keras_to_torch(initial)
        state, rule = (
            {},
            sgd_options_rule(lambda s: lr, ema=momentum, overwrite=overwrite),
        )
        for t, (xb, yb) in enumerate(P.torch_batches(x, y), start=1):
            for p in params:
                p.grad = None
            P.torch_loss(params, xb, yb).backward()
            with torch.no_grad():
                rule(params, state, t)
        return P.torch_to_keras(state["avg"])

    return run


def test_ema_averages_weights_overwrites_and_finalizes_at_the_end_of_fit():
    lr = 0.2
    check(
        K.SGD(
            learning_rate=lr, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=3
        ),
        ema_reference(lr, 0.5, overwrite=3),
        wrong=ema_reference(lr, 0.5),
    )
    check(
        K.SGD(learning_rate=lr, use_ema=True, ema_momentum=0.9),
        ema_reference(lr, 0.9),
        wrong=hand(P.sgd_rule(lr)),
    )


# --------------------------------------------------------------------------- schedules drive the rate


def test_schedule_is_read_at_the_step_count_before_the_update():
    schedule = K.schedules.ExponentialDecay(0.3, decay_steps=2, decay_rate=0.5)
    rate = lambda s: 0.3 * 0.5 ** (s / 2)  # noqa: E731
    opt = K.SGD(learning_rate=schedule)
    check(
        opt,
        hand(sgd_options_rule(rate)),
        wrong=hand(sgd_options_rule(lambda s: rate(s + 1))),
    )
    assert opt.learning_rate == pytest.approx(
        rate(8), rel=1e-6
    )  # the rate of the next update


def test_learning_rate_property_and_assignment_as_keras():
    opt = K.Adam(learning_rate=0.01)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    scheduled = K.Adam(
        learning_rate=K.schedules.PiecewiseConstantDecay([1], [0.1, 0.01])
    )
    assert scheduled.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="not settable"):
        scheduled.learning_rate = 0.5
    called = K.SGD(
        learning_rate=lambda: 0.25
    )  # Keras calls a plain callable without arguments
    assert called.learning_rate == 0.25
    with pytest.raises(ValueError, match="learning_rate"):
        K.SGD(learning_rate="fast")


# --------------------------------------------------------------------------- defaults and names


@pytest.mark.parametrize(
    "cls, defaults",
    [
        ("Nadam", dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
        ("Adamax", dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)),
        ("Adadelta", dict(learning_rate=0.001, rho=0.95, epsilon=1e-7)),
        ("Lion", dict(learning_rate=0.001, beta_1=0.9, beta_2=0.99)),
        (
            "Ftrl",
            dict(
                learning_rate=0.001,
                learning_rate_power=-0.5,
                initial_accumulator_value=0.1,
                l1_regularization_strength=0.0,
                l2_regularization_strength=0.0,
                l2_shrinkage_regularization_strength=0.0,
                beta=0.0,
            ),
        ),
    ],
)
def test_new_optimizer_defaults_and_names(cls, defaults):
    opt = getattr(K, cls)()
    config = opt.get_config()
    for key, value in defaults.items():
        assert config[key] == pytest.approx(value), key
    for key, value in dict(
        weight_decay=None,
        clipnorm=None,
        global_clipnorm=None,
        clipvalue=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
    ).items():
        assert config[key] == value, key
    assert type(K.get(cls.lower())) is type(opt)
    assert type(K.get({"class_name": cls, "config": config})) is type(opt)


@pytest.mark.parametrize(
    "make, names",
    [
        (
            lambda: K.Adam(amsgrad=True),
            [
                "momentum",
                "velocity",
                "momentum",
                "velocity",
                "velocity_hat",
                "velocity_hat",
            ],
        ),
        (
            lambda: K.Nadam(),
            ["momentum", "velocity", "momentum", "velocity", "u_product"],
        ),
        (lambda: K.Adamax(), ["momentum", "norm", "momentum", "norm"]),
        (lambda: K.Adadelta(), ["accumulated_grad", "accumulated_delta_var"] * 2),
        (lambda: K.Lion(), ["momentum", "momentum"]),
        (lambda: K.Ftrl(), ["accumulator", "linear", "accumulator", "linear"]),
        (
            lambda: K.RMSprop(momentum=0.5, centered=True),
            [
                "velocity",
                "velocity",
                "momentum",
                "momentum",
                "average_gradient",
                "average_gradient",
            ],
        ),
        (
            lambda: K.Adam(use_ema=True, gradient_accumulation_steps=2),
            [
                "average",
                "average",
                "gradient_accumulator",
                "gradient_accumulator",
                "momentum",
                "velocity",
                "momentum",
                "velocity",
            ],
        ),
        (
            lambda: K.SGD(momentum=0.9, use_ema=True),
            ["average", "average", "momentum", "momentum"],
        ),
    ],
)
def test_variable_order_is_keras_order(make, names):
    """Keras 3.15's ``optimizer.variables`` after build([kernel (2, 3), bias (3,)]) (printed from real Keras)."""
    opt = make()
    params = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]
    opt.build(params)
    order = [opt.slot_names[s] for s, _ in opt.keras_order(2)] + [
        n for n, _ in opt.scalar_variables()
    ]
    assert order == names
    shapes = [tuple(v.shape) for v in opt.variables]
    assert shapes[:2] == [(), ()] and len(shapes) == 2 + len(names)
    scheduled = K.Adam(learning_rate=K.schedules.ExponentialDecay(0.1, 10, 0.5))
    scheduled.build(params)
    assert (
        len(scheduled.variables) == 1 + 4
    )  # no learning_rate variable under a schedule
