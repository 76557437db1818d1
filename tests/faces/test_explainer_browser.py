"""The interactive explainer (``explain.interactive``) in a real browser: Debian's chromium
driven by Playwright (``browser_pages.py``).

The page is opened from its file URL. What it displays for a convolution cell (the input
window, the kernel, every product, their sum, the bias, the value after the activation) is
read back from the page and compared with cnnlab's :func:`trace_conv` at that position; a
pooling cell's window and winner with :func:`trace_pool`. A page whose exported numbers were
tampered with must fail the same checks.
"""

import base64
import json
import re

import numpy as np
import pytest
from browser_pages import PHONE, blank, screenshot, visit

from cnnlab import explain, keras
from cnnlab.data.mnist import load_sample
from cnnlab.explain import texts as T
from cnnlab.explain.explainer import interactive
from cnnlab.explain.trace_pool import trace_pool
from cnnlab.keras import layers
from cnnlab.random import set_seed

READ_DETAIL = """() => {
  const d = document.getElementById('detail');
  const cells = role => Array.from(d.querySelectorAll('[data-role=' + role + ']')).map(e => ({
    idx: Number(e.dataset.idx), v: e.dataset.v === undefined ? null : e.dataset.v, text: e.textContent,
    pad: e.classList.contains('pad'), win: e.dataset.winner === 'true'}));
  const one = role => { const e = d.querySelector('[data-role=' + role + ']');
                        return e ? {v: e.dataset.v, text: e.textContent} : null; };
  return {layer: d.dataset.layer || null, pos: d.dataset.pos || null, window: cells('window'),
          kernel: cells('kernel'), products: cells('product'), sum: one('sum'), bias: one('bias'),
          pre: one('pre'), value: one('value'), winner: one('winner'), text: d.innerText};
}"""


def page_data(path):
    """The JSON the page carries."""
    html = open(path, encoding="utf-8").read()
    m = re.search(
        r'<script type="application/json" id="data">(.*?)</script>', html, re.S
    )
    return json.loads(m.group(1).replace("<\\/", "</"))


def open_cell(page, layer, channel, position):
    """Choose ``layer`` in the network row, its map ``channel``, then click the cell."""
    page.click(f'#network button[data-layer="{layer}"]')
    if len(position) == 3:  # a 3-D map: its depth slice first
        page.evaluate(
            "d => { const s = document.getElementById('depth'); s.value = String(d);"
            " s.dispatchEvent(new Event('input')); }",
            position[0],
        )
    page.click(f'#maps [data-layer="{layer}"] button[data-channel="{channel}"]')
    page.click(f'#grid .cell[data-pos="{",".join(map(str, position))}"]')
    return page.evaluate(READ_DETAIL)


def _close(shown_text, value):
    """A number as displayed (4 significant digits) against the exact one."""
    return abs(float(shown_text) - value) <= 5e-4 * abs(value) + 1e-12


def conv_problems(shown, trace):
    """How the displayed arithmetic of a conv cell differs from ``trace_conv`` (empty: none)."""
    problems = []
    c = trace.window.shape[-1]
    padded = np.broadcast_to(trace.padded[..., None], trace.window.shape).ravel()
    for role, expected in (
        ("window", trace.window),
        ("kernel", trace.kernel),
        ("products", trace.products),
    ):
        cells = sorted(shown[role], key=lambda e: e["idx"])
        values = np.array([float(e["v"]) for e in cells])
        if values.shape != expected.ravel().shape or not np.array_equal(
            values, expected.ravel()
        ):
            problems.append(
                f"{role}: shown {values[:6]}... expected {expected.ravel()[:6]}..."
            )
            continue
        if not all(_close(e["text"], v) for e, v in zip(cells, values)):
            problems.append(f"{role}: displayed digits differ from the values")
        if role != "kernel" and [e["pad"] for e in cells] != list(padded):
            problems.append(
                f"{role}: padded cells marked {[e['pad'] for e in cells]}, expected {list(padded)}"
            )
    scale = max(1.0, float(np.abs(trace.products).sum()))
    if not (
        abs(float(shown["sum"]["v"]) - trace.total) <= 1e-9 * scale
        and _close(shown["sum"]["text"], trace.total)
    ):
        problems.append(f"sum: shown {shown['sum']}, expected {trace.total}")
    if float(shown["bias"]["v"]) != trace.bias:
        problems.append(f"bias: shown {shown['bias']}, expected {trace.bias}")
    if abs(float(shown["pre"]["v"]) - trace.pre_activation) > 1e-9 * scale:
        problems.append(
            f"sum + bias: shown {shown['pre']}, expected {trace.pre_activation}"
        )
    value = float(shown["value"]["v"])
    if value != trace.feature_map_value or abs(value - trace.value) > 1e-5 * max(
        1, abs(value)
    ):
        problems.append(
            f"value: shown {shown['value']}, layer {trace.feature_map_value}, trace {trace.value}"
        )
    if c * trace.padded.size != len(shown["products"]):
        problems.append("not every product is shown")
    return problems


def pool_problems(shown, trace):
    """How a displayed pooling cell differs from ``trace_pool`` (empty: none)."""
    problems = []
    cells = sorted(shown["window"], key=lambda e: e["idx"])
    if [e["pad"] for e in cells] != list(trace.padded.ravel()):
        problems.append("padded cells marked wrongly")
    for e, v, pad in zip(cells, trace.window.ravel(), trace.padded.ravel()):
        if not pad and float(e["v"]) != v:
            problems.append(f"window cell {e['idx']}: shown {e['v']}, expected {v}")
    if trace.mode == "max":
        winner = tuple(int(i) for i in shown["winner"]["v"].split(","))
        marked = [e["idx"] for e in cells if e["win"]]
        expected_flat = int(np.ravel_multi_index(trace.winner, trace.window.shape))
        if winner != trace.winner or marked != [expected_flat]:
            problems.append(
                f"winner: shown {winner} (marked {marked}), cnnlab's first maximum {trace.winner}"
            )
    if float(shown["value"]["v"]) != trace.pool_value:
        problems.append(f"value: shown {shown['value']}, layer {trace.pool_value}")
    return problems


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small CNN with 'same' padding, a stride of 2 and padded pooling, trained briefly on the
    MNIST sample, and its page for five test images."""
    keras.backend.clear_session()
    set_seed(0)
    (x, y), (xt, yt) = load_sample()
    x, xt = x[:256, ..., None] / 255.0, xt[:5, ..., None] / 255.0
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(4, 3, padding="same", activation="relu", name="c1"),
            layers.MaxPooling2D(2, name="p1"),
            layers.Conv2D(
                6, 3, strides=2, padding="same", activation="relu", name="c2"
            ),  # 14 -> 7, pads (0, 1)
            layers.MaxPooling2D(2, padding="same", name="p2"),  # 7 -> 4, pads (0, 1)
            layers.Flatten(),
            layers.Dense(16, activation="relu", name="d1"),
            layers.Dense(10, activation="softmax", name="out"),
        ],
        name="explainer_test",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y[:256], epochs=1, batch_size=32, verbose=0)
    result = interactive(model, xt, tmp_path_factory.mktemp("explainer"), labels=yt[:5])
    return model, xt, result.path


def _tie_cell(model, x, layer):
    """A pooling cell whose window holds a tie for the maximum (ReLU zeros), to check the first-max rule."""
    out = model.get_layer(layer).output_shape[1:]
    for i in range(out[0]):
        for j in range(out[1]):
            for c in range(out[2]):
                t = trace_pool(model, x, layer, (i, j), c)
                if (t.window[~t.padded] == t.value).sum() > 1:
                    return (i, j), c
    pytest.fail("no tie found in the pooling windows")


def check_page(browser, model, xt, path):
    """Every check of the page at ``path``, as a list of problems."""
    problems = []
    with visit(browser, path) as (page, seen):
        shown = open_cell(
            page, "c2", 2, (6, 6)
        )  # the last cell: its window reaches into the padding
        problems += conv_problems(
            shown, explain.trace_conv(model, xt[0], "c2", (6, 6), 2)
        )
        shown = open_cell(page, "c1", 1, (0, 13))  # top edge: padding above
        problems += conv_problems(
            shown, explain.trace_conv(model, xt[0], "c1", (0, 13), 1)
        )
        shown = open_cell(page, "p2", 3, (3, 3))  # the padded corner window
        problems += pool_problems(shown, trace_pool(model, xt[0], "p2", (3, 3), 3))
        position, channel = _tie_cell(model, xt[0], "p1")
        shown = open_cell(page, "p1", channel, position)
        problems += pool_problems(
            shown, trace_pool(model, xt[0], "p1", position, channel)
        )
        page.click(
            '#images button[data-image="2"]'
        )  # another image: the same cell follows it
        shown = open_cell(page, "c2", 4, (3, 2))
        problems += conv_problems(
            shown, explain.trace_conv(model, xt[2], "c2", (3, 2), 4)
        )
        problems += seen.errors + sorted(seen.outside)
    return problems


def test_the_page_shows_cnnlabs_numbers(browser, trained):
    model, xt, path = trained
    assert check_page(browser, model, xt, path) == []


def test_the_page_in_use(browser, trained):
    """Keyboard, image, language and Grad-CAM class switches; desktop and phone screenshots."""
    model, xt, path = trained
    data = page_data(path)
    with visit(browser, path) as (page, seen):
        assert page.evaluate("document.documentElement.lang") == "ko"
        assert page.inner_text("h1") == T.INTERACTIVE["title"][0]
        network = page.inner_text("#network")
        for row in explain.shape_walk(
            model
        ):  # output shapes and parameter formulas from shape_walk
            assert row.name in network and (
                not row.param_formula or row.param_formula in network
            )
        open_cell(page, "c2", 0, (2, 2))
        page.focus('#grid .cell[data-pos="2,2"]')
        page.keyboard.press("ArrowRight")
        assert page.evaluate(READ_DETAIL)["pos"] == "2,3"
        page.keyboard.press("ArrowDown")
        assert page.evaluate(READ_DETAIL)["pos"] == "3,3"
        assert page.evaluate("document.activeElement.dataset.pos") == "3,3"
        page.hover('#grid .cell[data-pos="0,1"]')
        assert page.evaluate(READ_DETAIL)["pos"] == "0,1"

        for n in (1, 3):
            page.click(f'#images button[data-image="{n}"]')
            predicted = int(np.argmax(model.predict(xt[n : n + 1], verbose=0)[0]))
            assert (
                page.get_attribute(f'#images button[data-image="{n}"]', "aria-checked")
                == "true"
            )
            assert page.inner_text(".probs span.top") == str(predicted)
            assert page.get_attribute("#cam", "data-cls") == str(predicted)

        page.click("#lang")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.inner_text("h1") == T.INTERACTIVE["title"][1]
        assert T.INTERACTIVE["dense"][1] in page.inner_text("#h-dense")
        assert "kernel" in page.evaluate(READ_DETAIL)["text"]
        page.click("#lang")
        assert page.inner_text("h1") == T.INTERACTIVE["title"][0]

        # Grad-CAM: the class chosen in the page is drawn; two classes with different maps look different
        maps = data["images"][3]["cam"]["maps"]
        predicted = data["images"][3]["predicted"]
        other = max(
            (k for k in maps if int(k) != predicted),
            key=lambda k: maps[k]["u8"] != maps[str(predicted)]["u8"],
        )
        before = page.evaluate("document.getElementById('cam').toDataURL()")
        page.select_option("#cam-class", other)
        assert page.get_attribute("#cam", "data-cls") == other
        after = page.evaluate("document.getElementById('cam').toDataURL()")
        assert (before != after) == (maps[other]["u8"] != maps[str(predicted)]["u8"])
        page.select_option("#cam-class", str(predicted))
        assert page.evaluate("document.getElementById('cam').toDataURL()") == before

        desk = screenshot(page)
        assert not seen.errors and not seen.outside
    with visit(browser, path, PHONE, mobile=True) as (page, seen):
        open_cell(page, "c1", 0, (10, 10))
        phone = screenshot(page)
        width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        assert not seen.errors and not seen.outside
    assert desk.size == (1280, 900) and phone.size == PHONE
    assert not blank(desk) and not blank(phone)
    assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"


def _tamper(path, out, edit):
    """Write a copy of the page whose data went through ``edit(data)``."""
    html = open(path, encoding="utf-8").read()
    data = page_data(path)
    edit(data)
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace(
        "</", "<\\/"
    )
    head, rest = html.split('<script type="application/json" id="data">', 1)
    out.write_text(
        head
        + '<script type="application/json" id="data">'
        + payload
        + rest[rest.index("</script>") :]
    )
    return out


def _f32(entry):
    return (
        np.frombuffer(base64.b64decode(entry["f32"]), "<f4")
        .reshape(entry["shape"])
        .copy()
    )


def _put(entry, array):
    entry["f32"] = base64.b64encode(np.asarray(array, "<f4").tobytes()).decode("ascii")


def test_a_page_with_wrong_numbers_fails_the_checks(browser, trained, tmp_path):
    model, xt, path = trained
    # the identical copy passes: the failures below come from the edits
    assert (
        check_page(
            browser, model, xt, _tamper(path, tmp_path / "same.html", lambda d: None)
        )
        == []
    )

    def wrong_kernel(data):
        c2 = next(e for e in data["layers"] if e["name"] == "c2")
        k = _f32(c2["kernel"])
        k[0, 0, 0, 2] += 0.25
        _put(c2["kernel"], k)

    problems = check_page(
        browser, model, xt, _tamper(path, tmp_path / "kernel.html", wrong_kernel)
    )
    assert any(p.startswith("kernel") for p in problems) and any(
        p.startswith("products") for p in problems
    )

    def wrong_pool_input(
        data,
    ):  # the last cell of each window of p1's input wins, for image 0
        c1 = next(e for e in data["layers"] if e["name"] == "c1")
        out = data["images"][0]["outputs"][str(c1["index"])]
        y = _f32(out)
        y[1::2, 1::2, :] += 10.0
        _put(out, y)

    problems = check_page(
        browser, model, xt, _tamper(path, tmp_path / "pool.html", wrong_pool_input)
    )
    assert any(p.startswith("winner") for p in problems)


def _reduced_models():
    keras.backend.clear_session()
    set_seed(1)
    one = keras.Sequential(
        [
            keras.Input((20, 2)),
            layers.Conv1D(3, 4, strides=2, padding="same", activation="relu", name="c"),
            layers.MaxPooling1D(
                3, strides=2, padding="same", name="p"
            ),  # 10 -> 5, pads (0, 1)
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ],
        name="one_d",
    )
    three = keras.Sequential(
        [
            keras.Input((5, 6, 6, 1)),
            layers.Conv3D(2, 3, padding="same", activation="tanh", name="c"),
            layers.MaxPooling3D(2, name="p"),
            layers.Flatten(),
            layers.Dense(2, activation="softmax"),
        ],
        name="three_d",
    )
    inp = keras.Input((10, 10, 1))
    c = layers.Conv2D(3, 3, padding="same", activation="relu", name="c0")(inp)
    r = layers.add([c, layers.Conv2D(3, 3, padding="same", name="c")(c)])
    head = layers.Dense(4, activation="softmax")(
        layers.Flatten()(layers.MaxPooling2D(name="p")(r))
    )
    graph = keras.Model(inp, head, name="graph")
    colour = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            layers.Conv2D(
                2, 3, dilation_rate=2, padding="same", name="c"
            ),  # a 5x5 reach, pads (2, 2)
            layers.AveragePooling2D(
                2, padding="same", name="p"
            ),  # 9 -> 5: the last window is half padding
            layers.Flatten(),
            layers.Dense(3, activation="softmax"),
        ],
        name="colour",
    )
    return [
        (one, (4,), (4,)),
        (three, (4, 1, 5), (1, 2, 1)),
        (graph, (0, 9), (4, 0)),
        (colour, (8, 0), (4, 4)),
    ]


def test_one_and_three_dimensional_and_graph_models(browser, tmp_path):
    """1-D maps as strips, 3-D maps slice by slice (a depth slider), a functional model's layers
    in topological order (the second convolution reads the first one's output), a colour image
    with a dilated convolution and average pooling."""
    rng = np.random.default_rng(0)
    for model, conv_at, pool_at in _reduced_models():
        xs = rng.random((2, *model.input_shape[1:])).astype("float32") - 0.3
        path = interactive(model, xs, tmp_path / f"{model.name}.html").path
        with visit(browser, path) as (page, seen):
            shown = open_cell(page, "c", 1, conv_at)
            assert (
                conv_problems(shown, explain.trace_conv(model, xs[0], "c", conv_at, 1))
                == []
            ), model.name
            shown = open_cell(page, "p", 0, pool_at)
            assert (
                pool_problems(shown, trace_pool(model, xs[0], "p", pool_at, 0)) == []
            ), model.name
            assert not blank(screenshot(page))
            strips = page.evaluate("!!document.querySelector('#maps .block.strips')")
            slider = page.evaluate("!document.getElementById('depth-box').hidden")
            assert (strips, slider) == (model.name == "one_d", model.name == "three_d")
            assert not seen.errors and not seen.outside, model.name
