"""cnnlab optimizer state <-> the list of variables Keras 3 saves under ``optimizer/vars``.

Keras's optimizer writes ``store[str(i)] = v`` for ``v`` in ``optimizer.variables``
(keras/src/optimizers/base_optimizer.py, ``save_own_variables``), in creation order:

* ``0``: ``iterations`` (int64; int32 under JAX), ``1``: ``learning_rate`` (float32),
  both created in ``BaseOptimizer.__init__``;
* then what ``build(var_list)`` adds for the model's trainable variables:
  Adam creates ``momentum`` and ``velocity`` *per variable*, interleaved
  (m0, v0, m1, v1, ...: keras/src/optimizers/adam.py; ``add_optimizer_variables``
  "interleaves adding variables for backward-compatibility"); RMSprop all
  ``velocity`` then all ``momentum`` (rmsprop.py: two separate calls); SGD
  ``momentum`` and Adagrad ``accumulator``, one per variable.

Before them, with ``use_ema``, the moving ``average`` of every weight, then with
``gradient_accumulation_steps`` every ``gradient_accumulator``; after them any scalar state
(Nadam's ``u_product``). A learning-rate schedule is not a variable: ``learning_rate`` is then
absent. An optimizer that has not been built yet saves only ``iterations`` (and ``learning_rate``).
"""

from __future__ import annotations

import numpy as np

from ..errors import CnnlabError


def _slot_order(optimizer, n_params):
    """``(slot index, param index)`` in Keras's order (the optimizer knows how Keras creates its variables)."""
    return optimizer.keras_order(n_params)


def _head(optimizer):
    """``iteration`` and, when the rate is a number (not a schedule), ``learning_rate``."""
    return [("iterations", (), "i")] + (
        [("learning_rate", (), "f")] if optimizer.learning_rate_is_variable else []
    )


def unbuilt_count(optimizer):
    """How many variables Keras saves for an optimizer that has not been built yet."""
    return len(_head(optimizer))


def to_keras_vars(optimizer):
    """The arrays Keras would save, in Keras's order."""
    return [np.asarray(v) for v in optimizer.variables]


def expected_specs(optimizer, params):
    """``[(what, shape, kind)]`` of a built optimizer's variables for ``params``, in Keras's order;
    ``kind`` is the NumPy dtype kind ("i" integer, "f" float) or an exact dtype."""
    specs = list(_head(optimizer))
    for s, p in _slot_order(optimizer, len(params)):
        specs.append(
            (
                f"{optimizer.slot_names[s]} of weight {p}",
                tuple(params[p].shape),
                params[p].dtype,
            )
        )
    for name, value in optimizer.scalar_variables():
        specs.append((name, (), value.dtype))
    return specs


def restore(optimizer, params, values):
    """Set ``optimizer``'s state from Keras-ordered ``values`` (already checked against ``expected_specs``)."""
    iterations = int(values[0])
    if iterations < 0:
        raise CnnlabError(
            f"Optimizer '{optimizer.name}': the saved iteration count is negative. "
            f"Received: iterations={iterations}"
        )
    head = unbuilt_count(optimizer)
    if head == 2:
        optimizer._restore_learning_rate(float(values[1]))
    if len(values) == head:
        optimizer.iterations = iterations
        return
    n_slots = len(optimizer.slot_names)
    slots = [[None] * len(params) for _ in range(n_slots)]
    order = _slot_order(optimizer, len(params))
    for (s, p), value in zip(order, values[head:]):
        slots[s][p] = np.asarray(value, dtype=params[p].dtype)
    optimizer.set_state({"iterations": iterations, "slots": slots})
    optimizer.set_scalar_variables([np.asarray(v) for v in values[head + len(order) :]])
