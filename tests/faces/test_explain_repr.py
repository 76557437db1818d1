"""Explain results print as one line and show as pictures in a notebook (``_repr_png_`` / ``_repr_html_``)."""

import numpy as np
import pytest

from cnnlab import explain, keras

pytest.importorskip("matplotlib")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def model_and_image():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    return model, np.random.default_rng(0).random((8, 8, 1)).astype("float32")


def test_results_print_short_and_draw_png(model_and_image):
    model, x = model_and_image
    for result in (
        explain.grad_cam(model, x),
        explain.filters(model),
        explain.feature_maps(model, x),
    ):
        text = repr(result)
        assert (
            text.startswith("<")
            and len(text) < 200
            and "array" not in text
            and "[" not in text.split(":")[0]
        )
        assert result._repr_png_().startswith(PNG)
    cam = explain.grad_cam(model, x)
    assert np.array_equal(cam.image, x)  # kept for the overlay
    assert f"class {cam.class_index} at layer 'conv2d'" in repr(cam)


def test_report_prints_one_line(model_and_image, tmp_path):
    model, x = model_and_image
    report = explain.build_report(model, x, tmp_path)
    text = repr(report)
    assert (
        text == f"<Report {report.html_path}: {report.summary()}>"
        and len(text) < 300
        and "\n" not in text
    )
    assert f"predicted class {report.predicted}" in text
    html = report._repr_html_()
    assert (
        "report.html" in html
        and "data:image/png;base64," in html
        and len(html) < len(open(report.html_path).read())
    )
