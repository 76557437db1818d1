"""The explain report opens in a real browser: headless Chromium (Debian's ``chromium``).

The browser is driven through the DevTools protocol over ``--remote-debugging-pipe``
(file descriptors 3 and 4, messages separated by NUL bytes), with the standard
library only. Checks: no console errors or exceptions, no request leaves the page
(only ``file:`` and ``data:`` URLs), every image decoded (natural width > 0), no
horizontal scrolling on a phone-sized screen, and screenshots that are not blank.

Chromium is installed by ``scripts/ensure_chromium.sh`` when it is missing (as root,
with Debian's package archive: CI has both); if that cannot work the test is
skipped and the reason says why.
"""

import base64
import io
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cnnlab import keras
from cnnlab.data.mnist import load_sample
from cnnlab.explain import build_report
from cnnlab.keras.backend import clear_session
from cnnlab.random import set_seed

ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]


@pytest.fixture(scope="session")
def chromium():
    """The path of a chromium executable, installing Debian's package when missing."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    script = ROOT / "scripts" / "ensure_chromium.sh"
    try:
        done = subprocess.run(
            ["sh", str(script)], capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"chromium is not installed and {script.name} could not run: {e}")
    path = (
        done.stdout.strip().splitlines()[-1]
        if done.returncode == 0 and done.stdout.strip()
        else ""
    )
    if not path or not os.path.exists(path):
        reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        pytest.skip(
            f"chromium is not installed and could not be installed ({script.name}): {reason}"
        )
    return path


class DevTools:
    """A minimal Chrome DevTools Protocol client over the pipe transport."""

    def __init__(self, executable, user_data_dir):
        self.to_browser_r, self.to_browser_w = os.pipe()
        self.from_browser_r, self.from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and writes answers on fd 4: a small Python
        # trampoline puts the pipe ends there, then becomes the browser.
        trampoline = (
            "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
            "os.execv(sys.argv[3], sys.argv[3:])"
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                trampoline,
                str(self.to_browser_r),
                str(self.from_browser_w),
                executable,
                *FLAGS,
                f"--user-data-dir={user_data_dir}",
                "about:blank",
            ],
            pass_fds=(self.to_browser_r, self.from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(self.to_browser_r)
        os.close(self.from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.from_browser_r], [], [], left)
            if ready:
                chunk = os.read(self.from_browser_r, 1 << 20)
                if not chunk:
                    raise RuntimeError(
                        "chromium closed the pipe: "
                        + self.proc.stderr.read().decode(errors="replace")[-2000:]
                    )
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method, timeout=30):
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_browser_w)
        os.close(self.from_browser_r)
        self.proc.stderr.close()


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


CHECK_PAGE = """JSON.stringify({
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth,
                                                   src: i.currentSrc.slice(0, 22)})),
  scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  title: document.title, sections: document.querySelectorAll('h2').length,
  lang: document.documentElement.lang, viewport: !!document.querySelector('meta[name=viewport]')})"""


def _screenshot(tools, session):
    from PIL import Image

    data = tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("L")


def _open(tools, session, url, width, height, mobile):
    tools.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        session,
    )
    tools.send("Page.navigate", {"url": url}, session)
    tools.wait_for("Page.loadEventFired")
    return json.loads(
        tools.send(
            "Runtime.evaluate",
            {"expression": CHECK_PAGE, "returnByValue": True},
            session,
        )["result"]["value"]
    )


def load_in_chromium(chromium, page, profile):
    """Open ``page`` at laptop and phone size; return what the page reported, both
    screenshots, and the problems seen: console errors, failed loads, requests
    that left the page."""
    tools = DevTools(chromium, profile)
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", {}, session)
        url = Path(page).as_uri()
        laptop = _open(tools, session, url, 1280, 900, mobile=False)
        laptop_shot = _screenshot(tools, session)
        phone = _open(tools, session, url, 390, 844, mobile=True)
        phone_shot = _screenshot(tools, session)
    finally:
        tools.close()
    errors = [
        e
        for e in tools.events
        if (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "assert")
        )
        or e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Log.entryAdded"
            and e["params"]["entry"]["level"] == "error"
        )
        or e.get("method") == "Network.loadingFailed"
    ]
    requests = {
        e["params"]["request"]["url"][:60]
        for e in tools.events
        if e.get("method") == "Network.requestWillBeSent"
    }
    outside = {u for u in requests if not u.startswith(("file:", "data:"))}
    broken = [
        i
        for page in (laptop, phone)
        for i in page["images"]
        if not (i["complete"] and i["width"] > 0)
    ]
    return laptop, phone, (laptop_shot, phone_shot), errors, outside, broken


def blank(shot):
    pixels = np.asarray(shot, dtype=np.float64)
    return pixels.std() <= 10 or (pixels < 128).mean() <= 0.01


def test_report_opens_in_headless_chromium(chromium, report, tmp_path):
    laptop, phone, shots, errors, outside, broken = load_in_chromium(
        chromium, report, tmp_path / "profile"
    )
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


def test_the_browser_checks_can_fail(chromium, tmp_path):
    """A page with a script error, a broken image, an outside request, too wide for a
    phone, and an empty page: each check must notice."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="ko"><head><meta name="viewport" content="width=device-width">'
        '</head><body><script>console.error("boom"); undefined_function();</script>'
        '<img src="data:image/png;base64,AAAA"><img src="https://example.invalid/x.png">'
        '<div style="width:2000px">wide</div></body></html>'
    )
    _, phone, _, errors, outside, broken = load_in_chromium(
        chromium, bad, tmp_path / "profile"
    )
    assert any(e.get("method") == "Runtime.consoleAPICalled" for e in errors)
    assert any(e.get("method") == "Runtime.exceptionThrown" for e in errors)
    assert outside == {"https://example.invalid/x.png"}
    assert len(broken) == 4  # both images, at both sizes
    assert phone["scrollWidth"] > phone["innerWidth"]
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>")
    *_, shots, _, _, _ = load_in_chromium(chromium, empty, tmp_path / "profile2")
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
    chromium, report, tmp_path, monkeypatch
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
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    style = report.read_text(encoding="utf-8").split("<style>", 1)[1]
    face = style[: style.index("}") + 1]
    assert face.startswith('@font-face{font-family:"cnnlab Hangul"')
    with_font = _glyph_page(tmp_path / "with.html", face)
    without = _glyph_page(tmp_path / "without.html", "")
    shots = {}
    for name, page in (("with", with_font), ("without", without)):
        _, _, (laptop, _), errors, outside, _ = load_in_chromium(
            chromium, page, tmp_path / f"profile_{name}"
        )
        assert not errors and not outside
        shots[name] = _cells(laptop)
    drawn = shots["with"]
    assert all(cell.sum() > 150 for cell in drawn), [int(c.sum()) for c in drawn]
    assert len({cell.tobytes() for cell in drawn}) == len(
        GLYPHS
    )  # nine syllables, nine glyphs
    assert (
        len({cell.tobytes() for cell in shots["without"]}) == 1
    )  # the failure this font prevents
    # and the report itself, on that machine, loads the font for its Korean
    _, _, (laptop, _), errors, _, _ = load_in_chromium(
        chromium, report, tmp_path / "profile_report"
    )
    assert not errors and not blank(laptop)
