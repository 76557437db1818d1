"""``keras.models``."""

from __future__ import annotations

import os
from typing import Any, Callable

from ..model import Model, Sequential


def load_model(
    filepath: str | os.PathLike,
    custom_objects: dict[str, Any] | None = None,
    compile: bool = True,
    safe_mode: bool = True,
) -> Model:
    """``keras.models.load_model``: a model from a ``.keras`` file (or a legacy ``.h5`` file).
    ``custom_objects``: the user's own classes the file names; nothing named in a file is imported."""
    from ..saving import load_model as _load_model

    return _load_model(
        filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode
    )


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable[..., Any] | None = None,
    call_function: Callable[..., Any] | None = None,
    recursive: bool = False,
    **kwargs: Any,
) -> Model:
    """``keras.models.clone_model``: the same architecture and layer names, freshly drawn weights."""
    from ..saving import clone_model as _clone

    return _clone(
        model, input_tensors, clone_function, call_function, recursive, **kwargs
    )


def model_from_json(
    json_string: str, custom_objects: dict[str, Any] | None = None
) -> Model:
    """``keras.models.model_from_json``: the model that ``model.to_json()`` wrote."""
    from ..saving import model_from_json as _from_json

    return _from_json(json_string, custom_objects=custom_objects)


def model_from_config(
    config: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> Model:
    """``keras.models.model_from_config``: ``{"class_name": ..., "config": ...}`` -> a model."""
    from ..saving import model_config_from_dict

    return model_config_from_dict(config, custom_objects=custom_objects)
