"""Write ``cnnlab/fonts/cnnlab-hangul.ttf``: the Hangul that cnnlab's Korean texts use, from NanumBarunGothic.

The explain report and the plots must read in Korean on a machine without Korean fonts, so
a subset of an openly licensed Korean font ships in the package: NanumBarunGothic (NAVER,
SIL Open Font License 1.1, Debian's ``fonts-nanum``), cut down to the Hangul syllables and
jamo that appear in cnnlab's source (every Korean text lives there). The OFL reserves the
name "Nanum" for the original fonts, so the subset is renamed "cnnlab Hangul". Run this
again after adding Korean text (``tests/faces/test_korean_font.py`` fails until then)::

    apt-get install -y fonts-nanum     # the source font
    python scripts/make_korean_font.py
"""

import os
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cnnlab.fonts import FAMILY, FONT_FILE, hangul_in_sources  # noqa: E402

SOURCE = "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf"
LICENCE_SOURCE = "/usr/share/doc/fonts-nanum/copyright"


def main():
    chars = sorted(hangul_in_sources())
    font = TTFont(SOURCE)
    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    names = {
        1: FAMILY,
        3: f"{FAMILY} Regular; subset of NanumBarunGothic for cnnlab",
        4: FAMILY,
        6: FAMILY.replace(" ", "") + "-Regular",
        16: FAMILY,
        17: "Regular",
    }
    for record in list(font["name"].names):
        if record.nameID in names:
            record.string = names[record.nameID]
        elif record.nameID in (
            2,
            0,
            13,
            14,
        ):  # style, copyright and licence stay as NAVER wrote them
            continue
        else:
            font["name"].removeNames(nameID=record.nameID)
    font.save(FONT_FILE)
    print(f"{FONT_FILE}: {len(chars)} characters, {os.path.getsize(FONT_FILE):,} bytes")


if __name__ == "__main__":
    main()
