"""The interactive explainer's data and the pooling trace, without a browser (the page in
Chromium: test_explainer_browser.py)."""

import base64
import json
import re

import numpy as np
import pytest

from cnnlab import cli, explain, keras, ops
from cnnlab.data.mnist import load_sample
from cnnlab.explain.explainer import MAX_IMAGES, export, interactive
from cnnlab.explain.trace_pool import trace_pool
from cnnlab.keras import layers
from cnnlab.random import set_seed


def _array(entry):
    dtype = "<f4" if "f32" in entry else "u1"
    return np.frombuffer(
        base64.b64decode(entry.get("f32", entry.get("u8"))), dtype
    ).reshape(entry["shape"])


@pytest.mark.parametrize(
    "shape, pool, strides, padding",
    [
        ((9, 3), (3,), (2,), "same"),
        ((7, 7, 2), (2, 2), (2, 2), "same"),
        ((6, 6, 2), (3, 3), (1, 1), "valid"),
        ((4, 5, 5, 1), (2, 2, 2), (2, 2, 2), "same"),
    ],
)
def test_the_pooling_winner_is_where_cnnlab_sends_the_gradient(
    shape, pool, strides, padding
):
    """trace_pool's winner (the first maximum, row-major) is the cell max_pool_backward routes the
    gradient to, ties included (the values are rounded so that windows tie often)."""
    rank = len(pool)
    cls = (layers.MaxPooling1D, layers.MaxPooling2D, layers.MaxPooling3D)[rank - 1]
    model = keras.Sequential(
        [keras.Input(shape), cls(pool, strides=strides, padding=padding, name="p")]
    )
    x = np.round(np.random.default_rng(rank).random(shape) * 2).astype(
        "float32"
    )  # 0, 1, 2: many ties
    y, cache = ops.max_pool_forward(x[None], pool, strides, padding)
    out = y.shape[1:-1]
    for position in np.ndindex(*out):
        for c in range(shape[-1]):
            t = trace_pool(model, x, "p", position, c)
            dy = np.zeros_like(y)
            dy[(0, *position, c)] = 1.0
            dx = ops.max_pool_backward(dy, cache)[0, ..., c]
            (where,) = np.argwhere(dx == 1.0)  # exactly one cell receives the gradient
            cell = tuple(
                p * s - pb + w
                for p, s, (pb, _), w in zip(position, t.strides, t.pads, t.winner)
            )
            assert cell == tuple(where) and t.matches and t.value == x[(*cell, c)]


def test_the_average_pooling_trace_counts_real_cells_only():
    model = keras.Sequential(
        [keras.Input((5, 5, 1)), layers.AveragePooling2D(2, padding="same", name="p")]
    )
    x = np.arange(25, dtype="float32").reshape(5, 5, 1)
    t = trace_pool(model, x, "p", (2, 2), 0)
    assert (
        t.mode == "average"
        and t.winner is None
        and t.padded.sum() == 3
        and t.value == 24.0
        and t.matches
    )
    with pytest.raises(explain.ExplainError, match="not a pooling layer"):
        trace_pool(
            keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(1, 2, name="c")]),
            x[:4, :4],
            "c",
            (0, 0),
        )


@pytest.fixture
def small():
    keras.backend.clear_session()
    set_seed(0)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            layers.Conv2D(3, 3, padding="same", activation="relu", name="c"),
            layers.MaxPooling2D(name="p"),
            layers.Flatten(),
            layers.Dense(8, activation="relu", name="d"),
            layers.Dense(4, activation="softmax", name="out"),
        ]
    )
    xs = np.random.default_rng(0).random((3, 12, 12, 1)).astype("float32")
    return model, xs


def test_the_exported_numbers_are_cnnlabs(small):
    model, xs = small
    data = export(model, xs, labels=[0, 1, 2])
    walk = explain.shape_walk(model)
    assert [e["formula"] for e in data["layers"]] == [r.param_formula for r in walk]
    assert [e["view"] for e in data["layers"]] == [
        "conv",
        "pool",
        "plain",
        "bars",
        "bars",
    ]
    conv = data["layers"][0]
    kernel, bias = model.layers[0].get_weights()
    assert np.array_equal(_array(conv["kernel"]), kernel) and np.array_equal(
        _array(conv["bias"]), bias
    )
    assert (
        conv["pads"] == [[1, 1], [1, 1]]
        and conv["from"] == [-1]
        and data["layers"][1]["from"] == [0]
    )
    for n, picture in enumerate(data["images"]):
        outputs, _ = model.layer_outputs(xs[n : n + 1])
        assert np.array_equal(_array(picture["x"]), xs[n])
        for key, entry in picture["outputs"].items():
            assert np.array_equal(_array(entry), outputs[int(key)][0])
        assert (
            picture["predicted"] == int(np.argmax(outputs[-1][0]))
            and picture["label"] == n
        )
        for k, entry in picture["cam"]["maps"].items():
            cam = explain.grad_cam(model, xs[n], class_index=int(k))
            assert np.array_equal(
                _array(entry), np.rint(cam.heatmap * 255).astype(np.uint8)
            )
        assert sorted(picture["cam"]["maps"], key=int) == ["0", "1", "2", "3"]


def test_the_page_is_self_contained_and_small(seed004_model, tmp_path):
    """The seed-004 model's page with six MNIST test images: one file, no address outside it, under 5 MB."""
    model = seed004_model()
    (_, _), (xt, yt) = load_sample()
    page = interactive(model, xt[:6, ..., None] / 255.0, tmp_path, labels=yt[:6])
    html = open(page.path, encoding="utf-8").read()
    assert page.size == len(html.encode("utf-8")) and page.size < 5_000_000, page.size
    assert not re.search(
        r"(src|href)\s*=\s*[\"']?(https?:|//)|url\((?!data:)|@import", html
    )
    assert (
        '@font-face{font-family:"cnnlab Hangul";src:url(data:font/ttf;base64,' in html
    )
    data = json.loads(
        re.search(r'id="data">(.*?)</script>', html, re.S)
        .group(1)
        .replace("<\\/", "</")
    )
    assert len(data["images"]) == 6 and [e["name"] for e in data["layers"]] == [
        layer.name for layer in model.layers
    ]
    assert "6 image(s)" in repr(page) and page.path in page._repr_html_()


def test_wrong_images_say_why(small, tmp_path):
    model, xs = small
    with pytest.raises(explain.ExplainError, match=f"at most {MAX_IMAGES} images"):
        interactive(model, np.zeros((MAX_IMAGES + 1, 12, 12, 1)), tmp_path)
    with pytest.raises(explain.ExplainError, match="at least one image"):
        interactive(model, [], tmp_path)
    one = interactive(
        model, xs[0, ..., 0], tmp_path / "one.html"
    )  # one sample, without its channel axis
    assert one.images == 1 and one.path.endswith("one.html")


def test_cli_writes_the_interactive_page(capsys, tmp_path, seed004_model):
    model = seed004_model()
    model.save(tmp_path / "model.keras")
    code = cli.main(
        [
            "explain",
            str(tmp_path / "model.keras"),
            "--interactive",
            "--images",
            "3",
            "--index",
            "4",
        ]
    )
    out = capsys.readouterr().out
    page = tmp_path / "explain" / "explainer.html"
    assert code == 0 and page.exists() and str(page) in out and "3 image(s)" in out
    assert "MNIST sample test image #6" in page.read_text(encoding="utf-8")
    assert (
        cli.main(
            ["explain", str(tmp_path / "model.keras"), "--interactive", "--images", "0"]
        )
        != 0
    )


def test_a_page_too_heavy_is_refused(monkeypatch, small, tmp_path):
    from cnnlab.explain import explainer

    model, xs = small
    # per image: the input (144), c's maps (432), p's maps (108), d (8) and out (4); c's kernel and bias: 30
    per_image, weights = 144 + 432 + 108 + 8 + 4, 30
    monkeypatch.setattr(
        explainer, "MAX_PAGE_BYTES", (2 * per_image + weights) * 4 * 4 / 3
    )
    assert interactive(model, xs[:2], tmp_path).images == 2  # exactly at the limit
    with pytest.raises(
        explain.ExplainError, match=r"Pass fewer images \(images\[:2\]\)"
    ):
        interactive(model, xs[:3], tmp_path)
    monkeypatch.setattr(explainer, "MAX_PAGE_BYTES", 100)
    with pytest.raises(explain.ExplainError, match="Even one image is too much"):
        interactive(model, xs[:1], tmp_path)


def test_causal_and_depthwise_convolutions(tmp_path):
    """Conv1D's 'causal' padding (zeros before each sequence) in the shape walk, the trace and the
    page; a depthwise convolution shows its maps."""
    keras.backend.clear_session()
    set_seed(2)
    model = keras.Sequential(
        [
            keras.Input((10, 2)),
            layers.Conv1D(3, 3, dilation_rate=2, padding="causal", name="c"),
            layers.DepthwiseConv1D(3, padding="same", name="dw"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    x = np.random.default_rng(3).random((10, 2)).astype("float32")
    assert "10" in explain.shape_walk(model)[0].arithmetic[0]  # 10 steps stay 10
    trace = explain.trace_conv(model, x, "c", (0,), 1)
    assert (
        trace.pads == ((4, 0),)
        and trace.padded.tolist() == [True, True, False]
        and trace.matches
    )
    data = export(model, x)
    assert data["layers"][0]["pads"] == [[4, 0]] and [
        e["view"] for e in data["layers"][:2]
    ] == ["conv", "maps"]
    assert interactive(model, x, tmp_path).images == 1
