"""The user's own classes in files: ``keras.saving.register_keras_serializable(package=, name=)``
and ``custom_objects=``. A file still never makes cnnlab import or run anything it names: a
class nobody registered in this process is a clear error that says how to register it."""

from __future__ import annotations

import json
import sys
import zipfile

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session
from cnnlab.saving import registration

pytest.importorskip("h5py")


class ScaledDense(keras.layers.Dense):
    """A user's layer: Dense with a fixed output scale (its own config key)."""

    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = scale

    def _forward(self, x, *args, **kwargs):
        y, cache = super()._forward(x, *args, **kwargs)
        return y * np.float32(self.scale), cache

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@pytest.fixture(autouse=True)
def clean_registry():
    saved = (
        dict(registration.GLOBAL_CUSTOM_OBJECTS),
        dict(registration.GLOBAL_CUSTOM_NAMES),
    )
    clear_session()
    yield
    registration.GLOBAL_CUSTOM_OBJECTS.clear()
    registration.GLOBAL_CUSTOM_OBJECTS.update(saved[0])
    registration.GLOBAL_CUSTOM_NAMES.clear()
    registration.GLOBAL_CUSTOM_NAMES.update(saved[1])
    clear_session()


def small(layer_cls):
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [keras.Input(shape=(4,)), layer_cls(3, scale=0.5, name="mine")]
    )


def config_of(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def test_a_registered_class_is_written_under_its_name_and_built_from_it(tmp_path):
    cls = keras.saving.register_keras_serializable(package="my_pkg", name="Scaled")(
        type("ScaledDenseA", (ScaledDense,), {})
    )
    assert keras.saving.get_registered_name(cls) == "my_pkg>Scaled"
    assert keras.saving.get_registered_object("my_pkg>Scaled") is cls
    model = small(cls)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    model.save(tmp_path / "m.keras")
    entry = config_of(tmp_path / "m.keras")["config"]["layers"][1]
    assert (
        entry["registered_name"] == "my_pkg>Scaled"
        and entry["class_name"] == "ScaledDenseA"
    )
    assert entry["module"] == __name__ and entry["config"]["scale"] == 0.5
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is cls and loaded.layers[0].scale == 0.5
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )


def test_custom_objects_and_the_scope_find_an_unregistered_class(tmp_path):
    model = small(ScaledDense)
    model.save(tmp_path / "m.keras")
    assert (
        config_of(tmp_path / "m.keras")["config"]["layers"][1]["registered_name"]
        == "ScaledDense"
    )
    with pytest.raises(
        CnnlabError,
        match=r"'ScaledDense' is not a built-in class.*register_keras_serializable"
        r".*custom_objects=\{'ScaledDense'",
    ):
        keras.models.load_model(tmp_path / "m.keras")
    loaded = keras.models.load_model(
        tmp_path / "m.keras", custom_objects={"ScaledDense": ScaledDense}
    )
    assert type(loaded.layers[0]) is ScaledDense
    with keras.saving.custom_object_scope({"ScaledDense": ScaledDense}):
        assert (
            type(keras.models.load_model(tmp_path / "m.keras").layers[0]) is ScaledDense
        )
    clone = keras.Sequential.from_config(
        model.get_config(), custom_objects={"ScaledDense": ScaledDense}
    )
    assert type(clone.layers[0]) is ScaledDense


def test_a_file_naming_a_module_never_imports_it(tmp_path, monkeypatch):
    model = small(ScaledDense)
    model.save(tmp_path / "m.keras")
    config = config_of(tmp_path / "m.keras")
    config["config"]["layers"][1].update(
        module="cnnlab_never_imported_mod", registered_name="evil>Thing"
    )
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "bad.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(CnnlabError, match="'evil>Thing' is not a built-in class"):
        keras.models.load_model(
            tmp_path / "bad.keras", custom_objects={"ScaledDense": ScaledDense}
        )
    assert "cnnlab_never_imported_mod" not in sys.modules
