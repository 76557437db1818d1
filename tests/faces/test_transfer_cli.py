"""``cnnlab train --data DIR --base NAME``: a frozen keras.applications base and a new head from the
command line, saved like any ``cnnlab train`` run; then ``predict`` and ``explain`` (Grad-CAM inside the
base) on the saved model, fine-tuning with ``--fine-tune N``, and the errors a user can make."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("h5py")
from cnnlab import cli, keras  # noqa: E402
from cnnlab.data import synthetic_photos  # noqa: E402
from cnnlab.layers import clear_session  # noqa: E402

ALPHA, SIZE = 0.35, 32


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer_cli")
    folder = synthetic_photos.write_folder(str(root / "photos"), per_class=6, size=40)
    keras.utils.set_random_seed(3)
    base = keras.applications.MobileNetV2(
        alpha=ALPHA, include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)
    )
    weights = str(root / "base.weights.h5")
    base.save_weights(weights)
    clear_session()
    return root, folder, weights


def train(capsys, folder, out, *extra):
    code = cli.main(
        ["train", "--data", folder, "--base", "mobilenet_v2", "--alpha", str(ALPHA), "--image-size", str(SIZE),
         "--epochs", "1", "--batch-size", "8", "--out", out, "--quiet", *extra]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def base_of(model):
    (base,) = [layer for layer in model.layers if layer.name.startswith("mobilenetv2")]
    return base


def test_train_with_a_frozen_base_then_predict_and_explain(setting, capsys, tmp_path):
    root, folder, weights = setting
    out = str(tmp_path / "run")
    printed = train(capsys, folder, out, "--weights", weights)
    assert (
        "Base: mobilenet_v2 (keras.applications.MobileNetV2(include_top=False, alpha=0.35, "
        "input_shape=(32, 32, 3)), 154 layers), weights: " + weights in printed
    )
    # 52 convolutions and 52 BN layers hold weights; the head is Dense(1280 -> 3): 3,843 parameters.
    assert "Frozen: 104 of 104 base layers with weights" in printed
    assert "trainable params: 3,843 of 414,051 (the head)" in printed
    assert sorted(os.listdir(out)) == [
        "history.json",
        "model.keras",
        "preprocessing.json",
        "training_curves.png",
    ]
    info = json.load(open(os.path.join(out, "preprocessing.json")))
    assert (
        info["scale"] == 1.0
        and info["image_size"] == [SIZE, SIZE]
        and info["class_names"] == sorted(synthetic_photos.TARGET)
    )
    model = keras.models.load_model(os.path.join(out, "model.keras"))
    saved_base = base_of(model)
    assert (
        saved_base.trainable is False
        and model.layer_nodes(saved_base)[0].training is False
    )
    reference = keras.applications.MobileNetV2(
        alpha=ALPHA, include_top=False, weights=weights, input_shape=(SIZE, SIZE, 3)
    )
    for got, expected in zip(saved_base.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(
            got, expected
        )  # training left the base bit-identical

    image = os.path.join(folder, "grid", "000.png")
    assert cli.main(["predict", os.path.join(out, "model.keras"), image]) == 0
    assert "(top 3: " in capsys.readouterr().out
    assert (
        cli.main(
            [
                "explain",
                os.path.join(out, "model.keras"),
                image,
                "--out",
                str(tmp_path / "ex"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"at layer '{saved_base.name}/out_relu'" in printed
    assert (tmp_path / "ex" / "grad_cam.png").is_file()
    code = cli.main(
        ["explain", os.path.join(out, "model.keras"), image, "--layer", "block_13_expand_relu",
         "--out", str(tmp_path / "ex2")]
    )  # fmt: skip
    assert (
        code == 0
        and f"'{saved_base.name}/block_13_expand_relu'" in capsys.readouterr().out
    )


def test_fine_tune_unfreezes_the_top_layers_and_keeps_bn_statistics(
    setting, capsys, tmp_path
):
    _, folder, weights = setting
    out = str(tmp_path / "tuned")
    printed = train(capsys, folder, out, "--weights", weights, "--fine-tune", "4")
    # The top 4 layers: block_16_project_BN, Conv_1, Conv_1_bn, out_relu: 3 with weights.
    assert (
        "Fine-tuning: the top 4 layers of the base unfrozen (3 of 104 with weights now train"
        in printed
    )
    assert "learning rate 1e-05" in printed
    # + Conv_1 (112 x 1280 kernel) and the gammas and betas of two BN layers (112 and 1280 channels).
    assert f"trainable params: {3843 + 112 * 1280 + 2 * 112 + 2 * 1280:,}" in printed
    history = json.load(open(os.path.join(out, "history.json")))
    assert len(history["loss"]) == 2  # one epoch for the head, one fine-tuning
    model = keras.models.load_model(os.path.join(out, "model.keras"))
    tuned = base_of(model)
    reference = keras.applications.MobileNetV2(
        alpha=ALPHA, include_top=False, weights=weights, input_shape=(SIZE, SIZE, 3)
    )
    changed = {
        layer.name
        for layer in tuned.layers[1:]
        for got, expected in zip(
            layer.get_weights(), reference.get_layer(layer.name).get_weights()
        )
        if not np.array_equal(got, expected)
    }
    assert changed == {"block_16_project_BN", "Conv_1", "Conv_1_bn"}
    for name in (
        "block_16_project_BN",
        "Conv_1_bn",
    ):  # statistics frozen: the base runs with training=False
        for got, expected in zip(
            tuned.get_layer(name).get_weights()[2:],
            reference.get_layer(name).get_weights()[2:],
        ):
            np.testing.assert_array_equal(got, expected)


def test_random_weights_and_the_errors(setting, capsys, tmp_path, monkeypatch):
    _, folder, _ = setting
    monkeypatch.setenv(
        "CNNLAB_OFFLINE", "1"
    )  # --weights imagenet: the lookup's offline error, no download
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    assert "weights: random (weights=None)" in train(
        capsys, folder, str(tmp_path / "random")
    )
    cases = [
        (
            ["--base", "nope"],
            "--base must be one of the architectures in keras.applications: mobilenet_v2",
        ),
        (["--weights", "w.h5"], "give --base NAME too"),
        (["--base", "mobilenet_v2", "--color-mode", "grayscale"], "read RGB images"),
        (["--base", "vgg16x"], "Received: --base vgg16x"),
        (
            ["--base", "mobilenet_v2", "--weights", "imagenet", "--image-size", "96"],
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5",
        ),
    ]
    for extra, message in cases:
        code = cli.main(
            [
                "train",
                "--data",
                folder,
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "bad"),
                *extra,
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and message in err, (extra, err)
    code = cli.main(["train", "--base", "mobilenet_v2", "--out", str(tmp_path / "bad")])
    assert code == 2 and "a folder of your own images" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
def test_the_in_model_preprocessing_is_keras_preprocess_input(mode):
    from cnnlab.applications import imagenet_utils
    from cnnlab.faces import transfer

    pixels = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype(np.float32)
    x = inp = keras.Input((5, 4, 3))
    for layer, weights in transfer.preprocessing(mode):
        x = layer(x)
        if weights is not None:
            layer.set_weights(weights)
    got = keras.Model(inp, x).predict(pixels, verbose=0)
    expected = imagenet_utils.preprocess_input(pixels.copy(), mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_each_base_name_uses_its_modules_preprocess_input():
    from cnnlab import applications
    from cnnlab.faces import transfer

    assert "mobilenet_v2" in transfer.available_bases()
    pixels = np.random.default_rng(1).uniform(0, 255, (1, 4, 4, 3)).astype(np.float32)
    for name in transfer.available_bases():
        info = transfer.BASES[name]
        module = getattr(applications, info.module)
        expected = module.preprocess_input(pixels.copy())
        mode = next(
            m
            for m in ("tf", "torch", "caffe", None)
            if np.allclose(
                expected,
                pixels
                if m is None
                else applications.imagenet_utils.preprocess_input(
                    pixels.copy(), mode=m
                ),
                atol=1e-4,
            )
        )
        assert info.mode == mode, name
