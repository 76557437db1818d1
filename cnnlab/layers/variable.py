"""``Variable``: what ``add_weight`` returns, as Keras's ``KerasVariable``.

The array itself stays in the layer (``layer._weights[name]``), where the model
may swap it for a view into its flat parameter buffer; a Variable reads it from
there every time, so ``self.kernel`` in a custom ``call`` is always the weight the
optimizer updates. Inside a recorded ``call`` a Variable is a leaf of the tape:
the gradient that reaches it becomes the weight's gradient.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ops.tape import TensorLike, current


class Variable(TensorLike):
    """One weight of ``owner``, under the key ``name`` of ``owner._weights``."""

    def __init__(self, owner, name):
        self._owner = owner
        self.name = name

    @property
    def value(self):
        return self._owner._weights[self.name]

    @property
    def path(self):
        return f"{self._owner.name}/{self.name}"

    @property
    def grad_key(self):
        """How the tape files this weight's gradient: the layer that owns it and the name."""
        return (id(self._owner), self.name)

    @property
    def trainable(self):
        return self.name not in self._owner._non_trainable_names

    @trainable.setter
    def trainable(self, value):
        if value:
            self._owner._non_trainable_names.discard(self.name)
        else:
            self._owner._non_trainable_names.add(self.name)

    def _breaks_chain(self):
        # A trainable weight turned into a plain array inside a recorded call loses its gradient.
        return current() is not None and self.trainable and self._owner.trainable

    def assign(self, value):
        """Overwrite the weight's values in place (the optimizer's views stay valid)."""
        value = np.asarray(value.value if isinstance(value, TensorLike) else value)
        if value.shape != self.shape:
            raise ShapeError(
                f"Variable '{self.path}' has shape {self.shape}; the new value has shape {value.shape}. "
                f"Received: shape={value.shape}"
            )
        np.copyto(self.value, value, casting="same_kind")
        return self

    def assign_add(self, value):
        return self.assign(
            self.value
            + np.asarray(value.value if isinstance(value, TensorLike) else value)
        )

    def assign_sub(self, value):
        return self.assign(
            self.value
            - np.asarray(value.value if isinstance(value, TensorLike) else value)
        )

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"
