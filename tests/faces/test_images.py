"""Pictures as a model reads them (issue 12, items 5 and 6): transparency composited, and
photos prepared the way MNIST made its digits (crop to the ink, 20x20 box, centre of mass, inversion)."""

import re

import numpy as np
import pytest

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

from cnnlab import cli, specs  # noqa: E402
from cnnlab.faces.images import flatten_alpha, mnist_like, prepare  # noqa: E402
from cnnlab.keras.backend import clear_session  # noqa: E402

TINY = {
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 4, "kernel_size": 3, "activation": "relu"},
        },
        {"class_name": "MaxPool2D", "config": {"pool_size": 2}},
        {"class_name": "Flatten"},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
}


@pytest.fixture(scope="module")
def trained():
    """The tiny model trained briefly on the bundled sample, and one test digit of each class
    that it gets right (uint8, white on black, as MNIST has them)."""
    from cnnlab.random import set_seed

    set_seed(0)
    model = specs.build_model(TINY)
    model.compile(**specs.compile_args(TINY))
    (x, y), (xt, yt) = cli.load_mnist(say=None)
    model.fit(x, y, epochs=2, verbose=0)
    right = np.flatnonzero(model.predict(xt, verbose=0).argmax(-1) == yt)
    digits = {
        k: np.round(xt[right[yt[right] == k][0], :, :, 0] * 255).astype(np.uint8)
        for k in range(10)
    }
    yield model, digits
    clear_session()


def predict_files(capsys, monkeypatch, model, paths):
    monkeypatch.setattr(cli, "load_model", lambda path: model)
    code = cli.main(["predict", "model.keras", *map(str, paths)])
    out, err = capsys.readouterr()
    assert code == 0, err
    found = dict(re.findall(r"^(.+): (\d)   \(top 3", out, re.M))
    return {path: int(found[str(path)]) for path in paths}, out


def enlarge(digit, side):
    return np.asarray(
        Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    )


# --------------------------------------------------------------------------- item 5: transparency


def transparent_png(path, digit, strokes):
    """The digit drawn as a drawing app exports it: strokes of one colour, opaque where the
    digit is, on a fully transparent background whose colour is black (as most apps write it)."""
    alpha = enlarge(digit, 140)
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[30:170, 30:170, 3] = alpha
    rgba[30:170, 30:170, :3] = strokes
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_transparent_png_predicts_like_the_same_digit_opaque(
    capsys, monkeypatch, tmp_path, trained
):
    model, digits = trained
    paths, same_as = [], {}
    for k, digit in digits.items():
        opaque = (
            tmp_path / f"digit{k}_opaque.png"
        )  # the same drawing, exported opaque: black on white
        canvas = np.full((200, 200), 255, np.uint8)
        canvas[30:170, 30:170] = 255 - enlarge(digit, 140)
        Image.fromarray(canvas).save(opaque)
        paths.append(opaque)
        for colour in (0, 255):  # black strokes (the usual export) and white strokes
            path = transparent_png(
                tmp_path / f"digit{k}_strokes{colour}.png", digit, colour
            )
            paths.append(path)
            same_as[path] = opaque
    predicted, out = predict_files(capsys, monkeypatch, model, paths)
    assert {p: predicted[p] for p in same_as} == {
        p: predicted[o] for p, o in same_as.items()
    }
    # and they are the digits (a blank input would be one class for all): at most one of ten differs
    assert (
        sum(predicted[tmp_path / f"digit{k}_strokes0.png"] == k for k in range(10)) >= 9
    )
    assert out.count("composited the transparency") == 20
    assert (
        "onto white, to contrast with the dark strokes" in out and "onto black" in out
    )


def test_flatten_alpha_blends_each_pixel_by_its_alpha():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[1, 1] = (0, 0, 0, 255)  # an opaque black stroke pixel
    rgba[1, 2] = (0, 0, 0, 128)  # a half-covered edge pixel
    flat, note = flatten_alpha(Image.fromarray(rgba, "RGBA"))
    grey = np.asarray(flat.convert("L"), np.float32)
    assert grey[0, 0] == 255 and grey[1, 1] == 0 and abs(grey[1, 2] - 127) <= 1
    assert "onto white" in note
    opaque = Image.fromarray(np.full((3, 3, 4), 200, np.uint8), "RGBA")
    opaque.putalpha(255)
    assert flatten_alpha(opaque)[1] is None  # nothing transparent: nothing composited
    la = Image.fromarray(
        np.stack([np.full((4, 4), 255, np.uint8), rgba[..., 3]], -1), "LA"
    )
    assert "onto black" in flatten_alpha(la)[1]  # white strokes: a black background


# --------------------------------------------------------------------------- item 6: MNIST's preparation


def photo_of(digit, rng, corner=(12, 18), side=56, canvas=(240, 320)):
    """The digit photographed on paper: dark on a light, noisy background, small in a large
    canvas, near its top-left corner."""
    paper = np.full(canvas, 225.0) + rng.normal(0, 6, canvas)
    y, x = corner
    paper[y : y + side, x : x + side] -= enlarge(digit, side).astype(np.float64) * 0.8
    return np.clip(paper, 0, 255).astype(np.uint8)


def test_a_photo_small_in_a_corner_is_predicted_as_the_original(
    capsys, monkeypatch, tmp_path, trained
):
    model, digits = trained
    rng = np.random.default_rng(0)
    paths, expected = [], {}
    for k, digit in digits.items():
        path = tmp_path / f"photo{k}.png"
        Image.fromarray(photo_of(digit, rng)).save(path)
        paths.append(path)
        expected[path] = k
    jpeg = tmp_path / "photo3.jpg"
    Image.fromarray(photo_of(digits[3], rng, corner=(170, 250), side=48)).save(
        jpeg, quality=85
    )
    paths.append(jpeg)
    expected[jpeg] = 3
    predicted, out = predict_files(capsys, monkeypatch, model, paths)
    assert predicted == expected
    assert out.count("inverted the image: its background is light") == 11
    assert out.count("prepared as MNIST was made: cropped to the ink") == 11


def test_mnist_like_reproduces_an_mnist_digit(trained):
    """An MNIST digit is already what the preparation makes: it comes back (almost) unchanged."""
    _, digits = trained
    for digit in digits.values():
        x, notes = mnist_like(digit / 255.0)
        assert np.abs(x - digit / 255.0).mean() < 0.02
        assert not any(n.startswith("inverted") for n in notes)


def test_mnist_like_box_and_centre_of_mass():
    a = np.zeros((300, 100), np.float32)
    a[40:240, 30:70] = 1.0  # a tall bar, off-centre: 40 wide, 200 high
    x, notes = mnist_like(a)
    rows, cols = np.nonzero(x > 0.5)
    assert rows.max() - rows.min() + 1 in (
        19,
        20,
        21,
    ) and cols.max() - cols.min() + 1 in (3, 4, 5)
    total = x.sum()
    cy, cx = (
        (x.sum(1) * np.arange(28)).sum() / total,
        (x.sum(0) * np.arange(28)).sum() / total,
    )
    assert abs(cy - 14) <= 0.75 and abs(cx - 14) <= 0.75
    assert "40x200 px" in notes[-1] and "fitted into 20x20" in notes[-1]
    blank, notes = mnist_like(np.full((50, 50), 0.7, np.float32))
    assert not blank.any() and "no ink" in notes[-1]


def test_other_models_get_no_mnist_rules():
    rng = np.random.default_rng(1)
    picture = Image.fromarray(
        photo_of(np.full((28, 28), 255, np.uint8), rng)
    )  # dark square on light paper
    rgb = picture.convert("RGB")
    x, notes = prepare(rgb, (32, 32, 3))
    direct = (
        np.asarray(rgb.resize((32, 32), Image.Resampling.LANCZOS), np.float32) / 255
    )
    assert x.shape == (32, 32, 3) and np.array_equal(x, direct)  # no crop, no inversion
    assert (
        "converted to RGB and resized from 320x240 to 32x32" in notes[-1]
        and "only for models" in notes[-1]
    )
    x, notes = prepare(picture, (20, 20, 1))
    assert (
        x.shape == (20, 20, 1) and x.mean() > 0.5
    )  # still dark on light: not inverted
    assert "greyscale" in notes[-1] and not any(n.startswith("inverted") for n in notes)


def test_explain_prepares_a_photo_the_same_way_and_says_so(
    capsys, monkeypatch, tmp_path, trained
):
    pytest.importorskip("matplotlib")
    model, digits = trained
    photo = tmp_path / "photo.png"
    Image.fromarray(photo_of(digits[4], np.random.default_rng(3))).save(photo)
    monkeypatch.setattr(cli, "load_model", lambda path: model)
    code = cli.main(
        [
            "explain",
            str(tmp_path / "model.keras"),
            str(photo),
            "--out",
            str(tmp_path / "explain"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert (
        "photo.png: inverted the image" in out
        and "photo.png: prepared as MNIST was made" in out
    )
    assert "Prediction: 4" in out
    page = (tmp_path / "explain" / "report.html").read_text(encoding="utf-8")
    assert (
        "prepared as MNIST was made" in page
    )  # the report says it too, in its source line
