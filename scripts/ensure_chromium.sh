#!/bin/sh
# Make sure Debian's headless-capable `chromium` is installed, for the browser tests that
# open the explain pages (tests/faces/test_explain_browser.py, test_explainer_browser.py;
# Playwright drives it). .ci/run calls this before the suite; the tests install nothing.
# Idempotent: when chromium is already on PATH it prints its path and exits at once.
# Installing needs root and Debian's package archive (CI has both); otherwise it says why
# and exits with 1, and the browser tests are skipped, saying so.
set -eu
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        exit 0
    fi
done
if [ "$(id -u)" != "0" ]; then
    echo "chromium is not installed and installing it needs root (apt-get install chromium)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is not installed and this system has no apt-get" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2 || { echo "apt-get update failed (no package archive reachable?)" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends chromium >&2 || { echo "apt-get install chromium failed" >&2; exit 1; }
command -v chromium
