"""Draw the README's lesson picture: three lessons' figures stacked in one PNG (under 200 KB).

python scripts/make_lesson_picture.py [docs/lessons.png]
"""

import os
import sys
import tempfile

from PIL import Image

from cnnlab import lessons

SHOWN = ("convolution", "dying-relu", "optimizers")
WIDTH = 1300


def main(out=None):
    out = out or os.path.join("docs", "lessons.png")
    with tempfile.TemporaryDirectory() as tmp:
        tiles = []
        for name in SHOWN:
            run = lessons.run(name, out=tmp)
            im = Image.open(run.figure).convert("RGB")
            tiles.append(
                im.resize((WIDTH, round(im.height * WIDTH / im.width)), Image.LANCZOS)
            )
    sheet = Image.new("RGB", (WIDTH, sum(t.height for t in tiles)), "white")
    y = 0
    for tile in tiles:
        sheet.paste(tile, (0, y))
        y += tile.height
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
        out, optimize=True
    )
    print(f"{out}: {os.path.getsize(out) / 1024:.0f} KB")


if __name__ == "__main__":
    main(*sys.argv[1:])
