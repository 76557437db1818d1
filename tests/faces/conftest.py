"""Fixtures of the browser tests (tests/faces/test_explain_browser.py, test_explainer_browser.py)."""

import pytest
from browser_pages import find_chromium, launched


@pytest.fixture(scope="session")
def chromium():
    """The path of Debian's chromium (the test is skipped, with the reason, when there is none)."""
    return find_chromium()


@pytest.fixture(scope="module")
def playwright():
    """Playwright's driver, for one test module (its sync API cannot be started twice at once)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright, chromium):
    """A headless chromium driven by Playwright."""
    with launched(playwright, chromium) as b:
        yield b
