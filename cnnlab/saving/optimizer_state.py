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

An optimizer that has not been built yet saves only ``iterations`` and ``learning_rate``.
"""
from __future__ import annotations

import numpy as np

from ..errors import CnnlabError

#: Optimizers whose slots Keras creates interleaved per variable; the others slot by slot.
_INTERLEAVED = {"Adam"}


def _slot_order(optimizer, n_params):
    """``(slot index, param index)`` in Keras's order."""
    n_slots = len(optimizer.slot_names)
    if type(optimizer).__name__ in _INTERLEAVED:
        return [(s, p) for p in range(n_params) for s in range(n_slots)]
    return [(s, p) for s in range(n_slots) for p in range(n_params)]


def to_keras_vars(optimizer):
    """The arrays Keras would save, in Keras's order."""
    values = [np.array(optimizer.iterations, dtype=np.int64), np.array(optimizer.learning_rate, dtype=np.float32)]
    if not optimizer.built or not optimizer.slot_names:
        return values
    slots = optimizer.get_state()["slots"]
    n_params = len(slots[0]) if slots else 0
    return values + [slots[s][p] for s, p in _slot_order(optimizer, n_params)]


def expected_specs(optimizer, params):
    """``[(what, shape, kind)]`` of a built optimizer's variables for ``params``, in Keras's order;
    ``kind`` is the NumPy dtype kind ("i" integer, "f" float) or an exact dtype."""
    specs = [("iterations", (), "i"), ("learning_rate", (), "f")]
    for s, p in _slot_order(optimizer, len(params)):
        specs.append((f"{optimizer.slot_names[s]} of weight {p}", tuple(params[p].shape), params[p].dtype))
    return specs


def restore(optimizer, params, values):
    """Set ``optimizer``'s state from Keras-ordered ``values`` (already checked against ``expected_specs``)."""
    iterations, learning_rate = int(values[0]), float(values[1])
    if iterations < 0:
        raise CnnlabError(f"Optimizer '{optimizer.name}': the saved iteration count is negative. "
                          f"Received: iterations={iterations}")
    # The file holds float32; keep the configured value when it is the same number in float32, so that
    # training continues bit for bit.
    if np.float32(optimizer.learning_rate) != np.float32(learning_rate):
        optimizer.learning_rate = learning_rate
    if len(values) == 2:
        optimizer.iterations = iterations
        return
    n_slots = len(optimizer.slot_names)
    slots = [[None] * len(params) for _ in range(n_slots)]
    for (s, p), value in zip(_slot_order(optimizer, len(params)), values[2:]):
        slots[s][p] = np.asarray(value, dtype=params[p].dtype)
    optimizer.set_state({"iterations": iterations, "slots": slots})
