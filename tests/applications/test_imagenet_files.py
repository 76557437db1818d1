"""``weights="imagenet"`` and the class index: the Keras cache, then $CNNLAB_DATA, then a checked
download; offline, an error that lists every place looked and says how to put the file there."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from app_fixtures import FIXTURES

from cnnlab.applications import MobileNetV2, imagenet_utils, mobilenet_v2
from cnnlab.errors import CnnlabError
from cnnlab.keras import applications as keras_applications

pytest.importorskip("h5py")
NAME = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + NAME
)


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty Keras cache and an empty cnnlab data folder."""
    home, data = tmp_path / "keras_home", tmp_path / "data"
    home.mkdir()
    data.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("CNNLAB_DATA", str(data))
    return home, data


@pytest.fixture(scope="module")
def legacy_weights(tmp_path_factory):
    """A weights file of the architecture Keras's file NAME holds (legacy layout, random weights)."""
    model = MobileNetV2(
        weights=None, alpha=0.35, include_top=False, input_shape=(96, 96, 3)
    )
    path = tmp_path_factory.mktemp("w") / "random.h5"
    model.save_weights(str(path))
    return path, model.get_weights()


def imagenet_base():
    return MobileNetV2(
        weights="imagenet", alpha=0.35, include_top=False, input_shape=(96, 96, 3)
    )


def test_offline_with_empty_places_names_every_place_and_the_fix(places):
    home, data = places
    with pytest.raises(CnnlabError) as info:
        imagenet_base()
    message = str(info.value)
    assert f"{home}/models/{NAME}: not there" in message
    assert (
        f"{data}/{NAME}: not there" in message
        and f"{data}/models/{NAME}: not there" in message
    )
    assert (
        f"the download from {URL} failed" in message and "network is blocked" in message
    )
    assert f"put it at {home}/models/{NAME}" in message and "CNNLAB_DATA" in message
    assert message.endswith(f"Received: fname='{NAME}'")


def test_cnnlab_offline_tries_no_download(places, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.delenv("CNNLAB_DATA")
    with pytest.raises(
        CnnlabError,
        match=r"no download was tried because CNNLAB_OFFLINE is set(.|\n)*CNNLAB_DATA: not set",
    ):
        imagenet_base()


@pytest.mark.parametrize("where", ["cache", "data", "data/models"])
def test_the_file_is_found_in_each_place(where, places, legacy_weights):
    home, data = places
    target = {"cache": home / "models", "data": data, "data/models": data / "models"}[
        where
    ] / NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(legacy_weights[0], target)
    model = imagenet_base()
    assert all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), legacy_weights[1])
    )


def test_a_hashed_file_with_the_wrong_hash_is_not_used(places, monkeypatch):
    """ResNet/VGG files carry Keras's MD5; the class index too: a wrong copy is refused, and said so."""
    home, _ = places
    (home / "models").mkdir()
    shutil.copy(
        FIXTURES / "class_index.json", home / "models" / imagenet_utils.CLASS_INDEX_FILE
    )
    with pytest.raises(CnnlabError) as info:
        imagenet_utils.decode_predictions(np.zeros((1, 1000), np.float32))
    message = str(info.value)
    md5 = hashlib.md5((FIXTURES / "class_index.json").read_bytes()).hexdigest()
    assert (
        f"present, but its md5 is {md5}, not Keras's {imagenet_utils.CLASS_INDEX_HASH}"
        in message
    )
    assert "the ImageNet class index" in message


def test_decode_predictions_equals_keras(places, monkeypatch):
    home, _ = places
    index = FIXTURES / "class_index.json"
    (home / "models").mkdir()
    shutil.copy(index, home / "models" / imagenet_utils.CLASS_INDEX_FILE)
    # The made-up index stands in for Keras's file: the check expects its hash instead of Keras's.
    monkeypatch.setattr(
        imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(index.read_bytes()).hexdigest()
    )
    expected = json.loads((FIXTURES / "decode.json").read_text())
    preds = np.asarray(expected["preds"], np.float32)
    for top, key in ((5, "top5"), (3, "top3")):
        for decode in (
            imagenet_utils.decode_predictions,
            mobilenet_v2.decode_predictions,
        ):
            got = decode(preds, top=top)
            assert [
                [[a, b, pytest.approx(float(c))] for a, b, c in row] for row in got
            ] == expected[key]
    with pytest.raises(
        CnnlabError, match=r"\(samples, 1000\).*Received array with shape: \(2, 10\)"
    ):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


def test_keras_namespace():
    assert keras_applications.MobileNetV2 is MobileNetV2
    assert (
        keras_applications.mobilenet_v2.preprocess_input
        is mobilenet_v2.preprocess_input
    )
    assert (
        keras_applications.imagenet_utils.decode_predictions
        is imagenet_utils.decode_predictions
    )


@pytest.mark.parametrize(
    "function, kwargs, fname, file_hash",
    [
        (
            "VGG16",
            {},
            "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
            "64373286793e3c8b2b4e3219cbf3544b",
        ),
        (
            "VGG16",
            {"include_top": False, "input_shape": (64, 64, 3)},
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "6d6bbae143d832006294945121d1f1fc",
        ),
        (
            "ResNet50",
            {},
            "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
            "2cb95161c43110f7111970584f804107",
        ),
        (
            "ResNet152",
            {"include_top": False, "input_shape": (64, 64, 3)},
            "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "ee4c566cf9a93f14d82f913c2dc6dd0c",
        ),
        (
            "ResNet50V2",
            {"include_top": False, "input_shape": (64, 64, 3)},
            "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "fac2f116257151a9d068a22e544a4917",
        ),
        (
            "ResNet101V2",
            {},
            "resnet101v2_weights_tf_dim_ordering_tf_kernels.h5",
            "6343647c601c52e1368623803854d971",
        ),
        (
            "MobileNet",
            {"alpha": 0.5, "input_shape": (160, 160, 3)},
            "mobilenet_5_0_160_tf.h5",
            None,
        ),
        (
            "MobileNet",
            {"alpha": 0.25, "include_top": False, "input_shape": (128, 128, 3)},
            "mobilenet_2_5_128_tf_no_top.h5",
            None,
        ),
        (
            "MobileNetV2",
            {"alpha": 1.4},
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224.h5",
            None,
        ),
    ],
)
def test_imagenet_file_names_and_hashes_are_keras(
    function, kwargs, fname, file_hash, monkeypatch
):
    """The name, URL and MD5 each architecture asks for (Keras's source: WEIGHTS_PATH, WEIGHTS_HASHES)."""
    from cnnlab import applications
    from cnnlab.applications import common

    asked = []

    def fake(name, origin, digest, what):
        asked.append((name, origin, digest))
        raise CnnlabError("stop here")

    monkeypatch.setattr(common, "keras_file", fake)
    with pytest.raises(CnnlabError, match="stop here"):
        getattr(applications, function)(weights="imagenet", **kwargs)
    ((name, origin, digest),) = asked
    assert (name, digest) == (fname, file_hash)
    assert origin.startswith(
        "https://storage.googleapis.com/tensorflow/keras-applications/"
    )
    assert origin.endswith("/" + fname)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"depth_multiplier": 2},
            r"depth multiplier must be 1.  Received depth_multiplier=2",
        ),
        ({"alpha": 0.35}, r"alpha can be one of.*Received alpha=0.35"),
    ],
)
def test_mobilenet_imagenet_checks(kwargs, message):
    from cnnlab.applications import MobileNet

    with pytest.raises(CnnlabError, match=message):
        MobileNet(weights="imagenet", **kwargs)
