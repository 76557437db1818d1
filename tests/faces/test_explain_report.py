"""filters / feature_maps, the plots, the HTML report and ``cnnlab explain`` on the command line."""

import base64
import html
import json
import re
import sys

import numpy as np
import pytest

from cnnlab import cli, keras, plots
from cnnlab.explain import (
    ExplainError,
    FeatureMaps,
    Filters,
    all_feature_maps,
    build_report,
    feature_maps,
    filters,
    grad_cam,
)
from cnnlab.explain import plots as explain_plots
from cnnlab.keras.backend import clear_session
from cnnlab.random import set_seed

PNG = b"\x89PNG\r\n\x1a\n"
TINY = {
    "input_shape": [28, 28, 1],
    "layers": [
        {
            "class_name": "Conv2D",
            "config": {"filters": 4, "kernel_size": 3, "activation": "relu"},
        },
        {"class_name": "MaxPool2D", "config": {"pool_size": 2}},
        {
            "class_name": "Conv2D",
            "config": {
                "filters": 6,
                "kernel_size": 3,
                "padding": "same",
                "activation": "relu",
            },
        },
        {"class_name": "Flatten"},
        {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}},
    ],
}


@pytest.fixture(autouse=True)
def fresh_layer_names():
    clear_session()
    yield
    clear_session()


def small_model(name=None):
    set_seed(0)
    return keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(5, 2, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name=name,
    )


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


# --------------------------------------------------------------------------- filters and feature maps


def test_filters_mean_and_each_channel():
    model = small_model()
    kernel = model.layers[0].get_weights()[0]  # (3, 3, 3, 4)
    mean = filters(model)
    assert (
        isinstance(mean, Filters) and mean.layer == "conv2d" and mean.channels == "mean"
    )
    assert mean.images.shape == (4, 3, 3)
    np.testing.assert_allclose(mean.images[2], kernel[..., 2].mean(axis=-1), rtol=1e-6)
    each = filters(model, "conv2d_1", channels="each")
    assert each.images.shape == (5, 4, 2, 2)  # filters, input channels, kh, kw
    np.testing.assert_array_equal(
        each.images[1, 3], model.layers[2].get_weights()[0][:, :, 3, 1]
    )
    grid, ncols = each.grid()
    assert ncols == 4 and np.nanmax(np.abs(grid)) == pytest.approx(1.0)


def test_feature_maps_every_channel_for_one_image():
    model = small_model()
    x = np.random.default_rng(0).uniform(size=(10, 10, 3)).astype(np.float32)
    maps = feature_maps(model, x)
    assert isinstance(maps, FeatureMaps) and maps.maps.shape == (4, 8, 8)
    expected = model.layer_outputs(x[None])[0][0][0]
    np.testing.assert_array_equal(maps.maps, np.moveaxis(expected, -1, 0))
    pooled = feature_maps(model, x[None], "max_pooling2d")
    assert pooled.maps.shape == (4, 4, 4)
    assert [m.layer for m in all_feature_maps(model, x)] == [
        "conv2d",
        "max_pooling2d",
        "conv2d_1",
    ]
    grid, _ = maps.grid()
    assert np.nanmin(grid) >= 0 and np.nanmax(grid) <= 1


def test_filters_and_feature_maps_errors():
    model = small_model()
    with pytest.raises(
        ExplainError, match=r"'flatten' \(Flatten\) is not a convolution"
    ):
        filters(model, "flatten")
    with pytest.raises(ExplainError, match="no spatial axes"):
        feature_maps(model, np.zeros((10, 10, 3)), "dense")
    with pytest.raises(ExplainError, match='channels must be "mean" or "each"'):
        filters(model, channels="all")
    dense_only = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ExplainError, match="no convolution layer"):
        filters(dense_only)


# --------------------------------------------------------------------------- plots


def test_explain_plots_write_pngs(tmp_path):
    model = small_model()
    x = np.random.default_rng(0).uniform(size=(10, 10, 3))
    paths = [
        explain_plots.plot_filters(filters(model), tmp_path / "f.png"),
        explain_plots.plot_filters(
            filters(model, 2, channels="each"), tmp_path / "fe.png"
        ),
        explain_plots.plot_feature_maps(feature_maps(model, x), tmp_path / "m.png"),
        explain_plots.plot_grad_cam(
            x, grad_cam(model, x, class_index=0), tmp_path / "g.png"
        ),
    ]
    one_d = keras.Sequential(
        [
            keras.Input((30, 2)),
            keras.layers.Conv1D(3, 5, activation="relu"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    signal = np.sin(np.linspace(0, 6, 60)).reshape(30, 2)
    paths.append(
        explain_plots.plot_grad_cam(
            signal, grad_cam(one_d, signal, class_index=0), tmp_path / "g1.png"
        )
    )
    paths.append(explain_plots.plot_filters(filters(one_d), tmp_path / "f1.png"))
    assert all(is_png(p) for p in paths)


def test_confusion_matrix_and_misclassified(tmp_path):
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    probs = np.eye(3)[[0, 1, 1, 1, 2, 0, 2]] * 0.8 + 0.2 / 3
    matrix = plots.confusion_matrix(y_true, probs)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(
        plots.confusion_matrix(np.eye(3)[y_true], [0, 1, 1, 1, 2, 0, 2]), matrix
    )
    assert is_png(
        plots.plot_confusion_matrix(
            matrix, tmp_path / "cm.png", class_names=["a", "b", "c"]
        )
    )
    assert is_png(plots.plot_confusion_matrix((y_true, probs), tmp_path / "cm2.png"))
    images = np.random.default_rng(0).uniform(size=(7, 8, 8, 1))
    assert is_png(plots.plot_misclassified(images, y_true, probs, tmp_path / "mis.png"))
    assert is_png(
        plots.plot_misclassified(images, y_true, y_true, tmp_path / "none.png")
    )  # nothing wrong


def test_plots_without_matplotlib_say_how_to_install(monkeypatch, tmp_path):
    for name in [
        m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(
        sys.modules, "matplotlib", None
    )  # `import matplotlib` now fails
    with pytest.raises(ImportError, match=r"pip install 'cnnlab\[plots\]'"):
        plots.plot_confusion_matrix(np.eye(2), tmp_path / "cm.png")
    with pytest.raises(ImportError, match=r"pip install 'cnnlab\[plots\]'"):
        build_report(small_model(), np.zeros((10, 10, 3)), tmp_path / "out")
    model = small_model()
    assert filters(model).images.shape == (4, 3, 3)  # the API itself needs NumPy only


# --------------------------------------------------------------------------- the report


def test_report_is_self_contained_and_escaped(tmp_path):
    model = small_model(name="<script>alert('x')</script>")
    x = np.random.default_rng(1).uniform(size=(10, 10, 3))
    report = build_report(
        model,
        x,
        tmp_path,
        label=2,
        source="a <b>bold</b> & name",
        class_names=None,
        history={"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]},
        test_data=(
            np.random.default_rng(2).uniform(size=(6, 10, 10, 3)),
            np.arange(6) % 3,
        ),
    )
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert report.html_path == str(tmp_path / "report.html")
    assert (
        '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    )
    assert "max-width:100%" in page and "max-width:60rem" in page
    # nothing from outside: no scripts, links, fonts, or URLs other than inlined images and the
    # inlined Korean font (issue 12: Korean must read on a machine without Korean fonts)
    assert (
        "<script" not in page.lower()
        and "<link" not in page.lower()
        and "@import" not in page
    )
    assert (
        page.count("@font-face") == 1
        and page.count("url(") == 1
        and "url(data:font/ttf;base64," in page
    )
    assert not re.search(r"(src|href)=\"(?!data:image/png;base64,)", page)
    assert "http://" not in page and "https://" not in page
    # every inlined image is a PNG, and each PNG the report wrote is on the page
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert all(base64.b64decode(s)[:8] == PNG for s in sources)
    pngs = [f for f in report.files if f.endswith(".png")]
    assert len(sources) == len(pngs) >= 9
    # escaped text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &lt;b&gt;bold&lt;/b&gt; &amp; name" in page
    # bilingual sections and the glossary
    for ko, en in [
        ("합성곱", "convolution"),
        ("필터", "filter"),
        ("스트라이드", "stride"),
        ("패딩", "padding"),
        ("풀링", "pooling"),
        ("특징 맵", "feature map"),
        ("활성화 함수", "activation"),
    ]:
        assert f'<b lang="ko">{ko}</b>' in page and en in page
    assert "column by column" in page and "열 단위" in page  # the flattening order note
    assert "floor((10 - 3) / 1) + 1 = 8" in page  # the shape walk
    assert report.trace is not None and report.trace.matches
    assert (
        html.escape(str(report.trace.position)) in page
        or str(report.trace.position) in page
    )
    assert report.gradcam is not None and report.test_accuracy is not None
    assert (tmp_path / "trace.txt").read_text(encoding="utf-8").count("sum of the") == 1


def test_report_for_a_model_grad_cam_cannot_explain(tmp_path):
    """A model without spatial layers still gets a report, which says why there is no
    Grad-CAM and no convolution to trace."""
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(3, activation="softmax")]
    )
    report = build_report(model, np.zeros(6), tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert report.gradcam is None and "no layer with spatial output" in page
    assert "합성곱 층이 없습니다" in page


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained for one epoch by ``cnnlab train`` (model.keras + history.json)."""
    folder = tmp_path_factory.mktemp("run")
    spec = folder / "tiny.json"
    spec.write_text(json.dumps(TINY))
    clear_session()
    assert (
        cli.main(
            [
                "train",
                "--spec",
                str(spec),
                "--epochs",
                "1",
                "--out",
                str(folder),
                "--quiet",
            ]
        )
        == 0
    )
    clear_session()
    return folder


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_explain_writes_the_report(trained, tmp_path, capsys):
    code, out, err = run(
        capsys, "explain", trained / "model.keras", "--out", tmp_path, "--index", 3
    )
    assert code == 0, err
    report = tmp_path / "report.html"
    assert f"Report: {report}" in out and report.exists()
    assert "Prediction:" in out and "label" in out and "matches the layer" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert {
        "grad_cam.png",
        "filters_conv2d.png",
        "filters_conv2d_1.png",
        "feature_maps_conv2d.png",
        "feature_maps_max_pooling2d.png",
        "feature_maps_conv2d_1.png",
        "confusion_matrix.png",
        "misclassified.png",
        "training_curves.png",
        "trace.txt",
        "report.html",
    } <= names
    page = report.read_text(encoding="utf-8")
    assert "sample test image #3" in page


def test_cli_explain_default_out_layer_and_class(trained, capsys):
    code, out, err = run(
        capsys,
        "explain",
        trained / "model.keras",
        "--layer",
        "max_pooling2d",
        "--class",
        3,
    )
    assert code == 0, err
    assert "Grad-CAM: class 3 at layer 'max_pooling2d'" in out
    assert (trained / "explain" / "report.html").exists()


def test_cli_explain_an_image_file(trained, tmp_path, capsys):
    from PIL import Image

    picture = np.full((40, 30), 255, np.uint8)
    picture[8:32, 13:17] = 0  # a dark "1" on white
    Image.fromarray(picture).save(tmp_path / "one.png")
    code, out, err = run(
        capsys,
        "explain",
        trained / "model.keras",
        tmp_path / "one.png",
        "--out",
        tmp_path / "o",
    )
    assert code == 0, err
    assert "inverted" in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--layer", "nope"], "no layer named 'nope'"),
        (["--layer", "flatten"], "no spatial axes"),
        (["--class", "10"], "class_index must be an integer from 0 to 9"),
        (["--index", "5000"], "--index must be between 0 and 499"),
    ],
)
def test_cli_explain_errors(trained, tmp_path, capsys, extra, message):
    code, out, err = run(
        capsys, "explain", trained / "model.keras", "--out", tmp_path, *extra
    )
    assert code == 2 and message in err and "Traceback" not in err


def test_cli_explain_missing_files(tmp_path, capsys):
    code, _, err = run(capsys, "explain", tmp_path / "missing.keras")
    assert code == 2 and "no such model file" in err
    code, _, err = run(
        capsys, "explain", tmp_path / "missing.keras", tmp_path / "missing.png"
    )
    assert code == 2 and "no such image file" in err
