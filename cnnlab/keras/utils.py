"""``keras.utils``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike

from ..data.dataset import Dataset  # noqa: F401  (what image_dataset_from_directory returns)
from ..data.directory import image_dataset_from_directory
from ..data.download import get_file
from ..data.images import array_to_img, img_to_array, load_img, save_img
from ..data.py_dataset import PyDataset
from ..layers.graph import get_source_inputs
from ..random import set_seed as set_random_seed

if TYPE_CHECKING:
    from ..model import Model


def to_categorical(x: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Integer labels ``(N,)`` -> one-hot ``(N, num_classes)`` float32, as Keras."""
    x = np.asarray(x, dtype=np.int64)
    if x.ndim > 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    num_classes = int(x.max()) + 1 if num_classes is None else int(num_classes)
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(
            f"to_categorical: labels must be in [0, {num_classes}). "
            f"Received: labels in [{x.min()}, {x.max()}]"
        )
    out = np.zeros(x.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, x[..., None], 1.0, axis=-1)
    return out


def plot_model(
    model: Model, to_file: str = "model.png", *args: Any, **kwargs: Any
) -> NoReturn:
    """Keras draws the graph with pydot and Graphviz; cnnlab does not: say so, and where to look instead."""
    from ..errors import CnnlabError

    raise CnnlabError(
        f"keras.utils.plot_model is not available in cnnlab (it needs pydot and Graphviz). "
        f"model.summary() lists every layer with its inputs ('Connected to'), and "
        f"`cnnlab explain MODEL` draws the shapes and what each layer computes. "
        f"Received: to_file={to_file!r}"
    )
