"""One lookup for the name tables: layers, activations, initializers, losses, optimizers, metrics.

Keras 3 does not treat case the same for every kind, and cnnlab follows it
(``keras/src/<kind>/__init__.py``, ``get`` and ``deserialize``):

* optimizers ignore case: ``deserialize`` lowers a class name it knows
  (``"Adam"``, ``"ADAM"`` and ``"adam"`` are one optimizer);
* everything else is exact: activations (``"relu"``, not ``"ReLU"``), initializers
  (``"he_normal"`` or ``"HeNormal"``), losses and metrics (their function names, class
  names and Keras's aliases such as ``"mse"`` / ``"MSE"``), and layer class names;
* one exception, in ``compile()``: the metric ``"accuracy"`` / ``"acc"`` in any case
  (``trainers/compile_utils.py`` compares ``str(identifier).lower()``), which
  ``cnnlab.model.metrics.get`` resolves before asking the table.

A table is a plain ``{name: object}`` dict; only names found in it are ever used
(nothing named in a file or by a user is imported).
"""

from __future__ import annotations

from .errors import CnnlabError

#: Keras's case rule for each kind of table.
IGNORES_CASE = {
    "layer": False,
    "activation": False,
    "initializer": False,
    "loss": False,
    "metric": False,
    "optimizer": True,
}


def key_for(kind, name):
    """The key ``name`` is looked up under in a ``kind`` table (its lower case for optimizers)."""
    return name.lower() if IGNORES_CASE[kind] and isinstance(name, str) else name


def find(kind, name, table):
    """``table``'s entry for ``name`` by Keras's rule for ``kind``, or None."""
    if not isinstance(name, str):
        return None
    return table.get(key_for(kind, name))


def lookup(kind, name, table, argument=None):
    """``table``'s entry for ``name``, or a clear error naming the kind, the known names and the argument."""
    found = find(kind, name, table)
    if found is None:
        hint = (
            " (names are case-sensitive, as in Keras)"
            if not IGNORES_CASE[kind]
            and isinstance(name, str)
            and any(k.lower() == name.lower() for k in table)
            else ""
        )
        raise CnnlabError(
            f"Unknown {kind} {name!r}{hint}. Known: {sorted(table)}. "
            f"Received: {argument or kind}={name!r}"
        )
    return found
