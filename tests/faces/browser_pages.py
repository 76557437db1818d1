"""Opening cnnlab's HTML pages in a real browser, for the browser tests.

Playwright for Python drives Debian's ``chromium`` through ``executable_path`` (Playwright's
own browser download is never used: this machine and CI have no network for it).
The tests install nothing: ``scripts/ensure_chromium.sh`` installs Debian's chromium when it
is missing (as root, with apt; ``.ci/run`` calls it before the suite); without chromium the
tests are skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

#: Headless Chromium in a container: no sandbox (root), no GPU, nothing fetched in the background.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
]
LAPTOP = (1280, 900)
PHONE = (390, 844)


def find_chromium():
    """The path of Debian's chromium; skips the calling test, with the reason, when there is none.
    The tests install nothing: ``scripts/ensure_chromium.sh`` does (``.ci/run`` calls it)."""
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip(
        "chromium is not installed: run scripts/ensure_chromium.sh (as root: it installs Debian's chromium "
        "with apt; .ci/run does so before the suite)"
    )


@contextlib.contextmanager
def launched(playwright, chromium, env=None):
    """A Playwright ``Browser`` on Debian's chromium (``env``: the browser's environment)."""
    browser = playwright.chromium.launch(executable_path=chromium, args=ARGS, env=env)
    try:
        yield browser
    finally:
        browser.close()


@dataclass
class Problems:
    """What a visit saw go wrong: console errors, uncaught exceptions, failed loads, and every
    request (a self-contained page makes only its own ``file:`` one and ``data:`` ones)."""

    console: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    @property
    def outside(self):
        return {u[:60] for u in self.requests if not u.startswith(("file:", "data:"))}

    @property
    def errors(self):
        return self.console + self.exceptions + self.failed


@contextlib.contextmanager
def visit(browser, path, size=LAPTOP, mobile=False):
    """Open the page at ``path`` from its file URL in a fresh context of ``size`` (a phone's
    when ``mobile``); yields ``(page, problems)``, problems collected while the page lives."""
    context = browser.new_context(
        viewport={"width": size[0], "height": size[1]},
        device_scale_factor=1,
        is_mobile=mobile,
        has_touch=mobile,
    )
    problems = Problems()
    page = context.new_page()
    page.on(
        "console",
        lambda m: (
            problems.console.append(m.text) if m.type in ("error", "assert") else None
        ),
    )
    page.on("pageerror", lambda e: problems.exceptions.append(str(e)))
    page.on("requestfailed", lambda r: problems.failed.append(r.url[:60]))
    page.on("request", lambda r: problems.requests.append(r.url))
    try:
        page.goto(Path(path).as_uri(), wait_until="load")
        yield page, problems
    finally:
        context.close()


def screenshot(page):
    """The visible part of the page, in grey levels (a PIL image)."""
    from PIL import Image

    return Image.open(io.BytesIO(page.screenshot())).convert("L")


def blank(shot):
    """A screenshot with (almost) nothing drawn on it: flat, or no dark pixels at all."""
    pixels = np.asarray(shot, dtype=np.float64)
    return pixels.std() <= 10 or (pixels < 128).mean() <= 0.01
