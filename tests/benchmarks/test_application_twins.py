"""The applications benchmark compares like with like: the plain-torch.nn twin of a keras.applications
network (benchmarks/application_twins.py; torchvision does not load with this torch) holds the same
weights and gives the same predictions, in both memory formats, with TensorFlow's asymmetric "same"
padding at odd and even sizes; weights copied back from torch give the cnnlab model the same outputs."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the twins are PyTorch modules")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
import application_twins  # noqa: E402
import common  # noqa: E402

from cnnlab import keras  # noqa: E402
from cnnlab.layers import clear_session  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_names():
    clear_session()
    yield
    clear_session()


@pytest.mark.parametrize("channels_last", [False, True])
def test_mobilenet_v2_twin_predicts_as_cnnlab(channels_last):
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(
        alpha=0.35, weights=None, input_shape=(32, 32, 3), classes=10
    )
    common.randomize_batchnorm(model, seed=1)
    twin = application_twins.torch_twin(model, channels_last=channels_last)
    x = np.random.default_rng(2).uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    expected = model.predict_on_batch(x)
    got = application_twins.twin_outputs(twin, x, channels_last=channels_last)
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=1e-4)
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_feature_maps_at_an_odd_size_and_the_copy_back():
    # 35x35: every stride-2 layer pads asymmetrically in one size and symmetrically in the next.
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        alpha=0.35, include_top=False, weights=None, input_shape=(35, 35, 3)
    )
    common.randomize_batchnorm(base, seed=3)
    twin = application_twins.torch_twin(base)
    x = np.random.default_rng(4).uniform(-1, 1, (3, 35, 35, 3)).astype(np.float32)
    expected = base.predict_on_batch(x)
    np.testing.assert_allclose(
        application_twins.twin_outputs(twin, x), expected, atol=1e-5, rtol=1e-4
    )
    with (
        torch.no_grad()
    ):  # change the torch weights, copy them into cnnlab: the outputs follow
        for p in twin.parameters():
            p.mul_(0.9)
    application_twins.copy_weights_to_cnnlab(twin)
    moved = base.predict_on_batch(x)
    assert np.abs(moved - expected).max() > 1e-3
    np.testing.assert_allclose(
        application_twins.twin_outputs(twin, x), moved, atol=1e-5, rtol=1e-4
    )


def test_a_layer_without_a_twin_is_named():
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, keras.layers.LeakyReLU(name="leaky")(inp))
    with pytest.raises(ValueError, match="leaky"):
        application_twins.torch_twin(model)
    per_channel = keras.layers.Rescaling([1.0, 2.0, 3.0], name="per_channel")
    with pytest.raises(ValueError, match="per_channel"):
        application_twins.torch_twin(keras.Model(inp, per_channel(inp)))


@pytest.mark.parametrize(
    "name", ["mobilenet", "resnet50", "resnet50_v2", "vgg16", "densenet121"]
)
def test_the_benchmarks_pairs_agree(name):
    # build_pair (what the speed benchmark times) asserts the agreement of both memory formats.
    from cnnlab import applications

    if not hasattr(applications, application_twins.MODELS[name]):
        pytest.skip(f"{application_twins.MODELS[name]} is not in this build")
    model, twins = application_twins.build_pair(name, 32)
    assert set(twins) == {"nchw", "channels_last"}
    assert model.output_shape == (None, 1000)
