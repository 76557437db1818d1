"""Xception, EfficientNet and DenseNet against real Keras 3 (fixtures from
scripts/make_application_fixtures2.py; no Keras needed here): Keras-written weight files load and the
predictions, ``preprocess_input`` included, match Keras's within 1e-4 relative; parameter counts,
summary totals, layer names and classes are Keras's, with and without the top, for the whole families."""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path

import numpy as np
import pytest
from app_fixtures import relative_difference

from cnnlab import applications, keras
from cnnlab.applications import densenet, efficientnet, imagenet_utils, xception
from cnnlab.errors import CnnlabError
from cnnlab.layers import clear_session

pytest.importorskip("h5py")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras" / "applications2"
ARCHITECTURES = {
    # fixture name: (module, function, input side)
    "xception": (xception, "Xception", 71),
    "efficientnetb0": (efficientnet, "EfficientNetB0", 32),
    "densenet121": (densenet, "DenseNet121", 32),
}
CASES = [(name, top) for name in ARCHITECTURES for top in ("top", "notop")]
COUNTS = json.loads((FIXTURES / "counts.json").read_text())


def facts(name, top):
    return json.loads((FIXTURES / f"{name}.json").read_text())[top]


def keras_file(name, top, tmp_path):
    """The Keras-written weights file, decompressed (the fixture keeps it xz-compressed)."""
    path = tmp_path / f"{name}_{top}.weights.h5"
    path.write_bytes(
        lzma.decompress((FIXTURES / f"{name}_{top}.weights.h5.xz").read_bytes())
    )
    return path


def build(name, top, **kwargs):
    """cnnlab's model as the script built Keras's, in a fresh naming session."""
    module, function, side = ARCHITECTURES[name]
    clear_session()
    options = (
        {"include_top": True, "classes": 10} if top == "top" else {"include_top": False}
    )
    return getattr(module, function)(
        input_shape=(side, side, 3), **{"weights": None, **options, **kwargs}
    )


@pytest.mark.parametrize("name, top", CASES)
def test_keras_weights_load_and_predictions_match(name, top, tmp_path):
    module = ARCHITECTURES[name][0]
    with np.load(FIXTURES / f"{name}_{top}_io.npz", allow_pickle=False) as f:
        io = dict(f)
    model = build(name, top, weights=keras_file(name, top, tmp_path))
    x_pre = module.preprocess_input(io["x"].copy())
    np.testing.assert_allclose(x_pre, io["x_pre"], rtol=1e-6, atol=1e-6)
    y = model.predict(x_pre, verbose=0)
    assert (
        y.shape == io["y"].shape
        and list(model.output.shape) == facts(name, top)["output_shape"]
    )
    assert relative_difference(y, io["y"]) < 1e-4
    # the outputs are far from trivial: a wrong weight would show
    assert np.std(io["y"]) > 0.05 * np.abs(io["y"]).max()


@pytest.mark.parametrize("name, top", CASES)
def test_layers_parameters_and_summary_are_keras_s(name, top):
    model = build(name, top)
    expected = facts(name, top)
    assert [[layer.name, type(layer).__name__] for layer in model.layers] == expected[
        "layers"
    ]
    params = expected["params"]
    assert model.count_params() == params["total"]
    assert sum(w.size for w in model.trainable_weights) == params["trainable"]
    assert sum(w.size for w in model.non_trainable_weights) == params["non_trainable"]
    lines = []
    model.summary(
        line_length=100, print_fn=lambda line, line_break=True: lines.append(line)
    )
    totals = [line.strip() for line in "".join(lines).splitlines() if "params:" in line]
    assert totals == expected["summary_totals"]


FAMILY = [
    ("Xception", xception.Xception, 71),
    ("EfficientNetB0", efficientnet.EfficientNetB0, 32),
    ("EfficientNetB1", efficientnet.EfficientNetB1, 32),
    ("EfficientNetB2", efficientnet.EfficientNetB2, 32),
    ("EfficientNetB3", efficientnet.EfficientNetB3, 32),
    *[
        pytest.param(
            f"EfficientNetB{i}",
            getattr(efficientnet, f"EfficientNetB{i}"),
            32,
            marks=pytest.mark.skipif(
                not os.environ.get("CNNLAB_BIG_APPLICATIONS"),
                reason="17-66 M parameters take 15-50 s to draw here; CNNLAB_BIG_APPLICATIONS=1 runs them",
            ),
        )
        for i in range(4, 8)
    ],
    ("DenseNet121", densenet.DenseNet121, 32),
    ("DenseNet169", densenet.DenseNet169, 32),
    ("DenseNet201", densenet.DenseNet201, 32),
]


@pytest.mark.parametrize("label, function, side", FAMILY)
def test_the_whole_families_count_keras_s_parameters(label, function, side):
    for top in (True, False):
        clear_session()
        # with the top at the default size (1000 classes), without it at the smallest
        model = function(
            weights=None, include_top=top, input_shape=None if top else (side, side, 3)
        )
        expected = COUNTS[label]["top" if top else "notop"]
        assert model.count_params() == expected["total"], (label, top)
        assert (
            sum(w.size for w in model.non_trainable_weights)
            == expected["non_trainable"]
        )


ARCH_NAMES = {"EfficientNetB0", "Xception", "DenseNet121"}


def test_the_brief_s_totals_are_what_keras_counted():
    assert {
        k: (v["top"]["total"], v["notop"]["total"])
        for k, v in COUNTS.items()
        if k in ARCH_NAMES
    } == {
        "EfficientNetB0": (5_330_571, 4_049_571),
        "Xception": (22_910_480, 20_861_480),
        "DenseNet121": (8_062_504, 7_037_504),
    }


def test_registered_in_keras_applications_with_their_modules():
    for name in (
        "Xception",
        "DenseNet121",
        "DenseNet169",
        "DenseNet201",
        *[f"EfficientNetB{i}" for i in range(8)],
    ):
        assert getattr(keras.applications, name) is getattr(applications, name)
    assert keras.applications.xception.preprocess_input is xception.preprocess_input
    assert keras.applications.densenet.DenseNet121 is densenet.DenseNet121
    assert (
        keras.applications.efficientnet.decode_predictions
        is efficientnet.decode_predictions
    )
    assert efficientnet.EfficientNetB3.__name__ == "EfficientNetB3"
    clear_session()
    assert efficientnet.EfficientNetB0(
        weights=None, include_top=False, input_shape=(32, 32, 3)
    ).name == ("efficientnetb0")


def test_each_module_preprocesses_as_keras_s_mode():
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    assert efficientnet.preprocess_input(x) is x  # a pass-through: the model normalizes
    np.testing.assert_allclose(
        xception.preprocess_input(x.copy()), x / 127.5 - 1, rtol=1e-6
    )
    torch_mode = imagenet_utils.preprocess_input(x.copy(), mode="torch")
    np.testing.assert_array_equal(densenet.preprocess_input(x.copy()), torch_mode)


# ---- what Keras does beside the plain build -------------------------------------------------
def test_efficientnet_with_imagenet_weights_adds_keras_s_extra_rescaling(
    tmp_path, monkeypatch
):
    from cnnlab.applications import common

    path = keras_file("efficientnetb0", "notop", tmp_path)
    monkeypatch.setattr(common, "keras_file", lambda *args, **kwargs: str(path))
    clear_session()
    model = efficientnet.EfficientNetB0(
        weights="imagenet", include_top=False, input_shape=(32, 32, 3)
    )
    rescalings = [
        layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)
    ]
    assert [r.name for r in rescalings] == ["rescaling", "rescaling_1"]
    np.testing.assert_allclose(
        rescalings[1].scale, [1 / np.sqrt(s) for s in (0.229, 0.224, 0.225)]
    )
    plain = build("efficientnetb0", "notop")
    assert (
        len(model.layers) == len(plain.layers) + 1
        and model.count_params() == plain.count_params()
    )


def test_stochastic_depth_drops_whole_samples_in_training_only():
    model = build("efficientnetb0", "notop")
    drops = [layer for layer in model.layers if layer.name.endswith("_drop")]
    assert drops and all(d.noise_shape == (None, 1, 1, 1) for d in drops)
    # Keras's rate: 0.2 * block index / 16 blocks, the first block without dropout
    assert model.get_layer("block1a_project_bn") and "block1a_drop" not in {
        d.name for d in drops
    }
    assert drops[0].name == "block2b_drop" and drops[0].rate == pytest.approx(
        0.2 * 2 / 16
    )


def test_a_weights_file_of_another_architecture_names_the_layer(tmp_path):
    notop = keras_file("efficientnetb0", "notop", tmp_path)
    with pytest.raises(
        CnnlabError, match=r"no weights for layer 'predictions' \(Dense\)"
    ):
        build("efficientnetb0", "top", weights=notop)
    clear_session()
    with pytest.raises(
        CnnlabError
    ) as info:  # B1's second block is B0's, one stage deeper
        efficientnet.EfficientNetB1(
            weights=notop, include_top=False, input_shape=(32, 32, 3)
        )
    assert "'block1b_dwconv' (DepthwiseConv2D)" in str(info.value)
    assert "(3, 3, 16, 1) in the model but (3, 3, 96, 1) in the file" in str(info.value)
    truncated = tmp_path / "truncated.weights.h5"
    truncated.write_bytes(notop.read_bytes()[:100_000])
    with pytest.raises(CnnlabError, match="truncated"):
        build("efficientnetb0", "notop", weights=truncated)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (
            lambda: xception.Xception(
                weights=None, include_top=False, input_shape=(70, 71, 3)
            ),
            "71",
        ),
        (
            lambda: efficientnet.EfficientNetB0(weights="imagenet", classes=10),
            "classes",
        ),
        (lambda: densenet.DenseNet121(weights="no/such/file.h5"), "weights"),
        (
            lambda: densenet.DenseNet121(
                weights=None, include_top=False, input_shape=(32, 32, 3), pooling="mean"
            ),
            "pooling",
        ),
        (
            lambda: efficientnet.EfficientNet(
                1.0,
                1.0,
                32,
                blocks_args=[{**efficientnet.DEFAULT_BLOCKS_ARGS[0], "repeats": 0}],
                weights=None,
            ),
            "repeats",
        ),
        (
            lambda: densenet.DenseNet(
                [1, 1, 1, 1],
                weights="imagenet",
                include_top=False,
                input_shape=(32, 32, 3),
            ),
            "DenseNet121/169/201",
        ),
    ],
)
def test_keras_s_argument_checks(call, fragment):
    clear_session()
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


def test_pooling_without_the_top_gives_keras_s_named_vectors():
    clear_session()
    model = densenet.DenseNet121(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max"
    )
    assert model.layers[-1].name == "max_pool" and model.output.shape == (None, 1024)
    clear_session()
    model = xception.Xception(
        weights=None, include_top=False, input_shape=(71, 71, 3), pooling="avg"
    )
    assert model.layers[
        -1
    ].name == "global_average_pooling2d" and model.output.shape == (None, 2048)


def test_a_keras_2_int64_normalization_count_loads_and_a_float_one_is_refused(tmp_path):
    import h5py

    path = keras_file("efficientnetb0", "notop", tmp_path)
    with h5py.File(path, "r+") as f:
        group = f["layers/normalization/vars"]
        del group["2"]
        group["2"] = np.int64(7)  # as Keras 2 kept Normalization's count
    model = build("efficientnetb0", "notop", weights=path)
    assert model.get_layer("normalization").get_weights()[2] == 7
    assert model.get_layer("normalization").get_weights()[2].dtype == np.int32
    with h5py.File(path, "r+") as f:
        del f["layers/normalization/vars/2"]
        f["layers/normalization/vars/2"] = np.float32(7)
    with pytest.raises(
        CnnlabError, match=r"'normalization' \(Normalization\): weight 'count' is int32"
    ):
        build("efficientnetb0", "notop", weights=path)
