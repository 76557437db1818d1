"""The Korean font that ships in the package (issue 12): it covers every Hangul character of
cnnlab's texts, its licence ships beside it, the report embeds it, and plots draw Hangul with it.
(The browser check, with no system font at all, is in test_explain_browser.py.)"""

import base64
import re
import warnings

import numpy as np
import pytest

from cnnlab import fonts

fontTools = pytest.importorskip(
    "fontTools", reason="fontTools (a dependency of matplotlib) reads the font"
)
from fontTools.ttLib import TTFont  # noqa: E402


def test_the_font_covers_every_hangul_character_of_cnnlabs_texts():
    used = fonts.hangul_in_sources()
    assert len(used) > 300  # the report's and the lessons' Korean
    cmap = TTFont(fonts.FONT_FILE).getBestCmap()
    missing = sorted(ch for ch in used if ord(ch) not in cmap)
    assert not missing, (
        f"run scripts/make_korean_font.py: the font lacks {''.join(missing)}"
    )


def test_the_font_is_renamed_and_its_licence_ships_with_it():
    names = {r.nameID: r.toUnicode() for r in TTFont(fonts.FONT_FILE)["name"].names}
    assert (
        names[1] == fonts.FAMILY and "Nanum" not in names[1] + names[4] + names[6]
    )  # OFL's reserved names
    licence = fonts.FONT_FILE.rsplit("/", 1)[0] + "/OFL.txt"
    text = open(licence, encoding="utf-8").read()
    assert (
        "SIL OPEN FONT LICENSE" in text
        and "NAVER" in text
        and "NanumBarunGothic" in text
    )


def test_the_report_embeds_the_font(tmp_path):
    pytest.importorskip("matplotlib")
    from cnnlab import keras
    from cnnlab.explain import build_report

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    report = build_report(model, np.zeros((8, 8, 1), np.float32), tmp_path)
    page = open(report.html_path, encoding="utf-8").read()
    face = re.search(
        r'@font-face\{font-family:"cnnlab Hangul";src:url\(data:font/ttf;base64,([A-Za-z0-9+/=]+)\)',
        page,
    )
    assert (
        face and base64.b64decode(face.group(1)) == open(fonts.FONT_FILE, "rb").read()
    )
    assert 'font-family:"cnnlab Hangul",system-ui' in page
    assert (
        "http://" not in page.split("<body>")[0]
        and "https://" not in page.split("<body>")[0]
    )


def test_plots_draw_hangul_with_the_font():
    pytest.importorskip("matplotlib")
    from cnnlab.plots import new_figure

    def draw(text):
        fig = new_figure((3, 1))
        fig.text(0.05, 0.3, text, fontsize=24)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., 0]

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        first, second = draw("합성곱 필터"), draw("풀링 학습률")
    assert not [w for w in seen if "missing from font" in str(w.message)], [
        str(w.message) for w in seen
    ]
    assert (first < 128).sum() > 200 and (
        second < 128
    ).sum() > 200  # ink, not empty boxes
    assert not np.array_equal(first, second)  # different words, different glyphs
