"""The Korean font that ships with cnnlab, for the explain report and the plots.

``cnnlab-hangul.ttf`` holds the Hangul of cnnlab's own Korean texts (every syllable in its
source), cut from NanumBarunGothic (NAVER, SIL Open Font License 1.1: ``OFL.txt`` beside
it) by ``scripts/make_korean_font.py`` and renamed "cnnlab Hangul", as the licence asks of
a modified font. The report embeds it as a ``data:`` URI (:func:`css_font_face`), so Korean
reads on a machine without Korean fonts and the page still needs no network; plots draw
Hangul with it through matplotlib's font fallback (:func:`use_in_matplotlib`).
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

FAMILY = "cnnlab Hangul"
FONT_FILE = os.path.join(os.path.dirname(__file__), "cnnlab-hangul.ttf")
#: Hangul jamo, compatibility jamo and syllables: what the font covers (Latin comes from the system's fonts).
UNICODE_RANGE = "U+1100-11FF, U+3130-318F, U+AC00-D7A3"
_RANGES = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7A3))
#: The files that hold cnnlab's texts.
TEXT_FILES = ("*.py", "*.md", "*.html", "*.js", "*.css")


def is_hangul(ch: str) -> bool:
    return any(lo <= ord(ch) <= hi for lo, hi in _RANGES)


def hangul_in_sources(root=None) -> set:
    """Every Hangul character in cnnlab's source: its Python and its text templates (the lessons'
    Markdown, the pages' HTML and script), where all its Korean texts are."""
    root = Path(root or Path(__file__).resolve().parents[1])
    found = set()
    for pattern in TEXT_FILES:
        for path in root.rglob(pattern):
            found.update(ch for ch in path.read_text(encoding="utf-8") if is_hangul(ch))
    return found


@lru_cache(maxsize=1)
def font_base64() -> str:
    with open(FONT_FILE, "rb") as f:
        return base64.b64encode(f.read()).decode("ascii")


def css_font_face() -> str:
    """An ``@font-face`` rule for the font, inlined (no request), used for Hangul only."""
    return (
        f'@font-face{{font-family:"{FAMILY}";src:url(data:font/ttf;base64,{font_base64()}) '
        f'format("truetype");unicode-range:{UNICODE_RANGE};font-display:block}}'
    )


def use_in_matplotlib() -> str:
    """Register the font with matplotlib and add it behind the default family, so text falls
    back to it for Hangul (matplotlib >= 3.6); returns the family name."""
    import matplotlib
    from matplotlib import font_manager

    if FAMILY not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(FONT_FILE)
    family = list(matplotlib.rcParams["font.family"])
    if FAMILY not in family:
        matplotlib.rcParams["font.family"] = family + [FAMILY]
    return FAMILY
