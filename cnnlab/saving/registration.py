"""Classes the user registers in their own process, as Keras 3 registers them
(``keras/src/saving/object_registration.py``).

``@keras.saving.register_keras_serializable(package="my_pkg")`` records a class under
``"my_pkg>ClassName"``; a file that names that ``registered_name`` (Keras writes it for
such classes) is then built with the class the user registered. ``custom_objects=``
(``load_model``, ``from_config``, ``model_from_json``) and ``custom_object_scope`` add
names for one call or one ``with`` block, looked up by the registered name or the
class name, as Keras does.

A name in a file is only ever *looked up* in these tables, which hold objects the user's
own code put there: nothing a file names is imported or run. A class the tables do not
hold is refused with an error that says how to register it.
"""

from __future__ import annotations

import inspect
import threading

from ..errors import CnnlabError

#: "package>name" -> class or function, and back.
GLOBAL_CUSTOM_OBJECTS: dict = {}
GLOBAL_CUSTOM_NAMES: dict = {}
_scope = threading.local()


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (with ``get_config``) or function under ``"package>name"``."""

    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                "Cannot register a class that does not have a get_config() method. "
                f"Received: {arg.__name__}"
            )
        GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj):
    """``"package>name"`` for a registered object, else its Python name."""
    return GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", str(obj)))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered as ``name``: the innermost ``custom_object_scope``, the global
    registry, ``custom_objects``, then ``module_objects`` (Keras's order); None if absent."""
    if not isinstance(name, str):
        return None
    for table in (
        getattr(_scope, "objects", None) or {},
        GLOBAL_CUSTOM_OBJECTS,
        custom_objects or {},
        module_objects or {},
    ):
        if name in table:
            return table[name]
    return None


def get_custom_objects():
    """The live global registry (``{"package>name": object}``), as Keras returns it."""
    return GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}): load_model(...)``."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(custom_objects or {})
        self._backup = None

    def __enter__(self):
        self._backup = getattr(_scope, "objects", None)
        _scope.objects = {**(self._backup or {}), **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _scope.objects = self._backup


custom_object_scope = CustomObjectScope


def check_custom_objects(custom_objects, where):
    """``custom_objects`` must map names to classes or functions the caller holds."""
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict) or not all(
        isinstance(k, str) for k in custom_objects
    ):
        raise CnnlabError(
            f"{where}: custom_objects must be a dict of names to classes or functions. "
            f"Received: custom_objects={custom_objects!r}"
        )
    return custom_objects


def resolve(entry, where, custom_objects=None):
    """The user's class for a serialized object that names one, or None for a Keras built-in.

    Raises a clear error for an object that is neither: a class from another module, or a
    registered name nobody registered in this process."""
    class_name, module, registered = (
        entry.get("class_name"),
        entry.get("module"),
        entry.get("registered_name"),
    )
    # Keras looks a class up by its registered name ("package>Name"; a class nobody registered is
    # written under its own name); files without one (older, legacy) by the class name.
    found = get_registered_object(
        registered if registered is not None else class_name, custom_objects
    )
    if found is not None:
        return found
    builtin_module = module is None or (
        isinstance(module, str) and module.split(".")[0] == "keras"
    )
    if builtin_module and registered in (None, class_name):
        return None
    shown = registered if isinstance(registered, str) else class_name
    raise CnnlabError(
        f"{where}: {shown!r} is not a built-in class (module {module!r}) and is not registered in this process. "
        f"cnnlab never imports code named in a file: define the class in your program and register it with "
        f"@keras.saving.register_keras_serializable(package=...), or pass custom_objects={{{str(class_name)!r}: "
        f"YourClass}} to load_model(). Received: class_name={class_name!r}, registered_name={registered!r}"
    )
