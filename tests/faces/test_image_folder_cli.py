"""cnnlab train | evaluate | predict on a folder of your own images: a few thousand generated
colour pictures of shapes (mixed sizes) train from the CLI to well above chance while the
data streams from disk (peak memory measured against the size of the decoded data set),
and the saved model predicts and evaluates with its class names."""

import json
import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

pytest.importorskip("PIL")
sys.path.insert(0, os.path.dirname(__file__))
from shape_images import CLASSES, write_shapes  # noqa: E402

from cnnlab import cli  # noqa: E402
from cnnlab.errors import CnnlabError  # noqa: E402

#: A small CNN: the test is about the data path, and the seed-004 CNN at 32x32x3 is slow on a shared machine.
SMALL_SPEC = {
    "input_shape": [32, 32, 3],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 8, "kernel_size": [3, 3], "activation": "relu"},
        },
        {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}},
        {
            "class_name": "Conv2D",
            "config": {"filters": 16, "kernel_size": [3, 3], "activation": "relu"},
        },
        {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2]}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": 3, "activation": "softmax"}},
    ],
    "optimizer": {"class_name": "Adam", "config": {"learning_rate": 0.003}},
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    folder = write_shapes(str(root / "shapes"), per_class=700, sizes=(40, 100))
    spec = root / "small.json"
    spec.write_text(json.dumps(SMALL_SPEC))
    return root, folder, str(spec)


def decoded_bytes(folder, image_size, channels):
    """What the decoded data set would take in memory: every image as float32 (H, W, C), as
    fit receives it, and the original pixels as uint8."""
    from PIL import Image

    n, original = 0, 0
    for root, _, files in os.walk(folder):
        for name in files:
            with Image.open(os.path.join(root, name)) as im:
                original += im.width * im.height * channels
            n += 1
    return n * image_size[0] * image_size[1] * channels * 4, original


@pytest.fixture(scope="module")
def trained(shapes):
    root, folder, spec = shapes
    out = str(root / "run")
    # the modules the run imports are loaded first, so that the trace measures the run's data
    import matplotlib.pyplot  # noqa: F401

    import cnnlab.plots  # noqa: F401
    import cnnlab.saving  # noqa: F401

    tracemalloc.start()
    try:
        code = cli.main(
            [
                "train",
                "--data",
                folder,
                "--spec",
                spec,
                "--epochs",
                "3",
                "--image-size",
                "32",
                "--validation-split",
                "0.2",
                "--out",
                out,
                "--quiet",
            ]
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0
    return out, peak


def test_trains_streamed_to_well_above_chance(shapes, trained, capsys):
    root, folder, _ = shapes
    out, peak = trained
    history = json.load(open(os.path.join(out, "history.json")))
    assert history["val_accuracy"][-1] > 0.8  # chance is 1/3
    as_float32, as_uint8 = decoded_bytes(folder, (32, 32), 3)
    assert (
        as_float32 > 20e6 and as_uint8 > 20e6
    )  # 2,100 images: 26 MB as float32 32x32x3
    print(
        f"peak traced memory {peak / 1e6:.1f} MB; decoded data set {as_float32 / 1e6:.1f} MB as float32, "
        f"{as_uint8 / 1e6:.1f} MB as uint8 pixels"
    )
    assert peak < as_uint8 and peak < as_float32, (peak, as_uint8, as_float32)


def test_preprocessing_and_class_names_are_saved_beside_a_keras_model(trained):
    out, _ = trained
    info = json.load(open(os.path.join(out, "preprocessing.json")))
    assert info["class_names"] == sorted(CLASSES)
    assert (
        info["image_size"] == [32, 32]
        and info["color_mode"] == "rgb"
        and info["scale"] == pytest.approx(1 / 255)
    )
    import zipfile

    with zipfile.ZipFile(
        os.path.join(out, "model.keras")
    ) as z:  # the .keras file is Keras's own
        assert sorted(z.namelist()) == [
            "config.json",
            "metadata.json",
            "model.weights.h5",
        ]


def test_predict_and_evaluate_with_class_names(shapes, trained, tmp_path, capsys):
    root, folder, _ = shapes
    out, _ = trained
    model = os.path.join(out, "model.keras")
    extra = write_shapes(
        str(tmp_path / "new"), per_class=12, seed=99, sizes=(20, 150)
    )  # other sizes
    images = [os.path.join(extra, c, "00000.png") for c in CLASSES]
    capsys.readouterr()
    assert cli.main(["predict", model, *images]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    right = sum(line.split(": ")[1].split()[0] == c for line, c in zip(lines, CLASSES))
    assert right >= 2 and all("read as rgb 32x32" in line for line in lines)
    assert cli.main(["evaluate", model, "--data", extra]) == 0
    text = capsys.readouterr().out
    accuracy = float(text.split("Accuracy: ")[1].split(",")[0])
    assert accuracy > 0.7 and "36 images" in text
    # a folder with only some of the classes keeps the model's label numbers
    os.rename(os.path.join(extra, "square"), str(tmp_path / "square_aside"))
    assert cli.main(["evaluate", model, "--data", extra]) == 0
    assert float(capsys.readouterr().out.split("Accuracy: ")[1].split(",")[0]) > 0.7


def test_clear_errors(shapes, tmp_path, capsys):
    root, folder, spec = shapes
    mixed = tmp_path / "mixed"
    write_shapes(str(mixed), per_class=3, classes=("a", "b"))
    from PIL import Image

    Image.new("L", (10, 10), 80).save(mixed / "a" / "gray.png")
    assert (
        cli.main(
            ["train", "--data", str(mixed), "--out", str(tmp_path / "o"), "--quiet"]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "mixes grayscale images (1" in err and "--color-mode rgb" in err
    assert (
        cli.main(
            [
                "train",
                "--data",
                folder,
                "--image-size",
                "0x4",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "--image-size" in capsys.readouterr().err
    bad = dict(
        SMALL_SPEC,
        layers=SMALL_SPEC["layers"][:-1]
        + [{"class_name": "Dense", "config": {"units": 5}}],
    )
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert (
        cli.main(
            [
                "train",
                "--data",
                folder,
                "--spec",
                str(tmp_path / "bad.json"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "5 units but the folder has 3 classes" in capsys.readouterr().err


def test_grayscale_folder_builds_a_one_channel_model(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, v in (("dark", 40), ("light", 200)):
        os.makedirs(tmp_path / "g" / c)
        for i in range(20):
            h, w = (int(s) for s in rng.integers(8, 30, 2))
            Image.fromarray(
                (np.full((h, w), v) + rng.integers(0, 30, (h, w))).astype(np.uint8)
            ).save(tmp_path / "g" / c / f"{i}.png")
    spec = dict(
        SMALL_SPEC,
        layers=SMALL_SPEC["layers"][:-1]
        + [{"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}],
    )
    (tmp_path / "s.json").write_text(json.dumps(spec))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (
            cli.main(
                [
                    "train",
                    "--data",
                    str(tmp_path / "g"),
                    "--spec",
                    str(tmp_path / "s.json"),
                    "--epochs",
                    "1",
                    "--image-size",
                    "16x12",
                    "--out",
                    str(tmp_path / "run"),
                    "--quiet",
                ]
            )
            == 0
        )
    from cnnlab import keras

    model = keras.models.load_model(str(tmp_path / "run" / "model.keras"))
    assert tuple(model.input_shape) == (None, 16, 12, 1)
    assert (
        json.load(open(tmp_path / "run" / "preprocessing.json"))["color_mode"]
        == "grayscale"
    )
    with pytest.raises(CnnlabError, match="has no preprocessing.json"):
        os.remove(tmp_path / "run" / "preprocessing.json")
        cli.run_evaluate(
            cli.build_parser().parse_args(
                [
                    "evaluate",
                    str(tmp_path / "run" / "model.keras"),
                    "--data",
                    str(tmp_path / "g"),
                ]
            )
        )


def test_explain_a_colour_model(shapes, trained, tmp_path, capsys):
    out, _ = trained
    image = os.path.join(shapes[1], "circle", "00001.png")
    capsys.readouterr()
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
    text = capsys.readouterr().out
    assert (
        "Prediction: circle" in text
        or "Prediction: square" in text
        or "Prediction: triangle" in text
    )
    assert "Grad-CAM: class " in text
    html = (tmp_path / "ex" / "report.html").read_text(encoding="utf-8")
    assert any(c in html for c in CLASSES) and "read as rgb 32x32" in html
    from PIL import Image

    filters_png = [
        p
        for p in os.listdir(tmp_path / "ex")
        if p.startswith("filters_conv2d") and p.endswith(".png")
    ]
    first = sorted(filters_png)[0]
    rgb = np.asarray(Image.open(tmp_path / "ex" / first).convert("RGB")).astype(int)
    # drawn in colour: many pixels whose channels differ (a grey-scale colormap would not)
    assert (np.ptp(rgb, axis=-1) > 40).mean() > 0.05
    gradcam = [
        p for p in os.listdir(tmp_path / "ex") if "grad" in p and p.endswith(".png")
    ]
    assert gradcam
    with pytest.raises(CnnlabError, match="give an IMAGE"):
        from cnnlab.explain import cli as explain_cli

        explain_cli.run(
            cli.build_parser().parse_args(["explain", os.path.join(out, "model.keras")])
        )


def test_rgb_filter_grid_keeps_the_colour_of_each_weight():
    from cnnlab.explain.plots import rgb_filter_grid

    kernel = np.zeros((2, 2, 3, 2), np.float32)
    kernel[0, 0, 0, 0] = 1.0  # filter 0: a red weight at the top left
    kernel[1, 1, 2, 1] = -2.0  # filter 1: a negative blue weight at the bottom right
    grid, ncols = rgb_filter_grid(kernel)
    assert ncols == 2 and grid.shape == (2, 5, 3)
    np.testing.assert_allclose(grid[0, 0], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(grid[1, 4], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(grid[:, 2], 1.0)  # the white gap


def test_augment_puts_flip_and_rotation_in_front(tmp_path, capsys):
    folder = write_shapes(str(tmp_path / "s"), per_class=10, sizes=(20, 40))
    (tmp_path / "s.json").write_text(json.dumps(SMALL_SPEC))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert (
            cli.main(
                [
                    "train",
                    "--data",
                    folder,
                    "--spec",
                    str(tmp_path / "s.json"),
                    "--augment",
                    "--epochs",
                    "1",
                    "--out",
                    str(tmp_path / "run"),
                    "--quiet",
                ]
            )
            == 0
        )
    from cnnlab import keras

    model = keras.models.load_model(str(tmp_path / "run" / "model.keras"))
    assert [type(layer).__name__ for layer in model.layers[:2]] == [
        "RandomFlip",
        "RandomRotation",
    ]
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), model.predict(x, verbose=0)
    )  # identity at inference
