"""The explain report opens in a real browser: headless Chromium (Debian's ``chromium``),
driven by Playwright (``browser_pages.py``, fixtures in ``conftest.py``).

Checks: no console errors or exceptions, no request leaves the page (only ``file:`` and
``data:`` URLs), every image decoded (natural width > 0), no horizontal scrolling on a
phone-sized screen, and screenshots that are not blank.

The test installs nothing: ``scripts/ensure_chromium.sh`` installs Debian's chromium when it
is missing (as root, with apt; ``.ci/run`` calls it); without chromium the test is skipped and
the reason says why.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from browser_pages import LAPTOP, PHONE, blank, launched, screenshot, visit

from cnnlab import keras
from cnnlab.data.mnist import load_sample
from cnnlab.explain import build_report
from cnnlab.keras.backend import clear_session
from cnnlab.random import set_seed


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of a small CNN trained briefly on the bundled MNIST sample."""
    clear_session()
    set_seed(0)
    (x, y), (xt, yt) = load_sample()
    x, xt = x[:600, ..., None] / 255.0, xt[:100, ..., None] / 255.0
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="report<&>test",
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x, y[:600], epochs=1, batch_size=32, verbose=0)
    out = tmp_path_factory.mktemp("explain")
    result = build_report(
        model,
        xt[0],
        out,
        label=int(yt[0]),
        source="MNIST sample test image #0",
        test_data=(xt, yt[:100]),
        history=history.history,
    )
    clear_session()
    return Path(result.html_path)


CHECK_PAGE = """() => ({
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,
                                                   src: i.currentSrc.slice(0, 22)})),
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  title: document.title, sections: document.querySelectorAll('h2').length,
  lang: document.documentElement.lang, viewport: !!document.querySelector('meta[name=viewport]')})"""


def load_in_chromium(browser, page):
    """Open ``page`` at laptop and phone size; return what the page reported, both
    screenshots, and the problems seen: console errors and exceptions, failed loads,
    requests that left the page, images that did not decode."""
    found, shots, errors, outside = [], [], [], set()
    for size, mobile in ((LAPTOP, False), (PHONE, True)):
        with visit(browser, page, size, mobile) as (tab, problems):
            found.append(tab.evaluate(CHECK_PAGE))
            shots.append(screenshot(tab))
        errors += problems.errors
        outside |= problems.outside
    laptop, phone = found
    broken = [
        i
        for page in found
        for i in page["images"]
        if not (i["complete"] and i["width"] > 0)
    ]
    return laptop, phone, shots, errors, outside, broken


def test_report_opens_in_headless_chromium(browser, report):
    laptop, phone, shots, errors, outside, broken = load_in_chromium(browser, report)
    assert not errors, f"console errors: {errors}"
    assert not outside, f"the page fetched from outside itself: {outside}"
    assert not broken, f"images that did not load: {broken}"
    for page in (laptop, phone):
        assert page["viewport"] and page["lang"] == "ko" and page["sections"] >= 8
        # grad-cam, 2 filter grids, 4 feature-map grids, confusion matrix, misclassified, training curves
        assert len(page["images"]) >= 10
        assert all(i["src"].startswith("data:image/png;base64") for i in page["images"])
    assert "report<&>test" in laptop["title"]
    assert phone["scrollWidth"] <= phone["innerWidth"], (
        "the page scrolls sideways on a phone"
    )
    assert [s.size for s in shots] == [(1280, 900), (390, 844)]
    assert not any(blank(s) for s in shots), "a screenshot is blank"


def test_the_browser_checks_can_fail(browser, tmp_path):
    """A page with a script error, a broken image, an outside request, too wide for a
    phone, and an empty page: each check must notice."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="ko"><head><meta name="viewport" content="width=device-width">'
        '</head><body><script>console.error("boom"); undefined_function();</script>'
        '<img src="data:image/png;base64,AAAA"><img src="https://example.invalid/x.png">'
        '<div style="width:2000px">wide</div></body></html>'
    )
    with visit(browser, bad) as (_, problems):
        pass
    assert any("boom" in e for e in problems.console)
    assert any("undefined_function" in e for e in problems.exceptions)
    _, phone, _, errors, outside, broken = load_in_chromium(browser, bad)
    assert len(errors) >= 4  # at both sizes: the console error and the exception
    assert outside == {"https://example.invalid/x.png"}
    assert len(broken) == 4  # both images, at both sizes
    assert phone["scrollWidth"] > phone["innerWidth"]
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>")
    *_, shots, _, _, _ = load_in_chromium(browser, empty)
    assert all(blank(s) for s in shots)


GLYPHS = "합성곱필터풀링학습"  # from the report's own Korean


def _glyph_page(path, font_css):
    """One Hangul syllable per 100 px cell, in the report's font stack (with or without its @font-face)."""
    cells = "".join(
        f'<div style="position:absolute;left:{10 + 100 * i}px;top:10px;width:100px;height:100px;'
        f'font-size:64px;line-height:100px">{ch}</div>'
        for i, ch in enumerate(GLYPHS)
    )
    path.write_text(
        f'<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8"><style>{font_css}'
        f'body{{margin:0;background:#fff;color:#000;font-family:"cnnlab Hangul",system-ui,sans-serif}}'
        f"</style></head><body>{cells}</body></html>",
        encoding="utf-8",
    )
    return path


def _cells(shot):
    pixels = np.asarray(shot, dtype=np.uint8)
    return [
        pixels[10:110, 10 + 100 * i : 110 + 100 * i] < 128 for i in range(len(GLYPHS))
    ]


def test_korean_reads_without_korean_fonts_on_the_machine(
    playwright, chromium, report, tmp_path
):
    """Chromium sees no Korean font (a fontconfig with DejaVu only, a Latin font, when there is
    one): with the report's embedded font every syllable is drawn, each different; without it
    they are all alike (empty boxes, or nothing)."""
    latin = Path("/usr/share/fonts/truetype/dejavu")
    folder = latin if latin.is_dir() else tmp_path / "no_fonts"
    folder.mkdir(exist_ok=True)
    conf = tmp_path / "fonts.conf"
    conf.write_text(
        f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{folder}</dir><cachedir>{tmp_path / 'fc_cache'}</cachedir></fontconfig>"
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}  # the browser's own fontconfig
    style = report.read_text(encoding="utf-8").split("<style>", 1)[1]
    face = style[: style.index("}") + 1]
    assert face.startswith('@font-face{font-family:"cnnlab Hangul"')
    with_font = _glyph_page(tmp_path / "with.html", face)
    without = _glyph_page(tmp_path / "without.html", "")
    shots = {}
    with launched(playwright, chromium, env=env) as browser:
        for name, page in (("with", with_font), ("without", without)):
            _, _, (laptop, _), errors, outside, _ = load_in_chromium(browser, page)
            assert not errors and not outside
            shots[name] = _cells(laptop)
        # and the report itself, on that machine, loads the font for its Korean
        _, _, (laptop, _), errors, _, _ = load_in_chromium(browser, report)
        assert not errors and not blank(laptop)
    drawn = shots["with"]
    assert all(cell.sum() > 150 for cell in drawn), [int(c.sum()) for c in drawn]
    assert len({cell.tobytes() for cell in drawn}) == len(
        GLYPHS
    )  # nine syllables, nine glyphs
    assert (
        len({cell.tobytes() for cell in shots["without"]}) == 1
    )  # the failure this font prevents
