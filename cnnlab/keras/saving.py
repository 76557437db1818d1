"""``keras.saving``: save and load models, and register the user's own classes."""

from ..saving import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    load_model,
    load_weights,
    register_keras_serializable,
    save_model,
    save_weights,
)
