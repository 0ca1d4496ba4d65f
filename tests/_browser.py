"""Headless Chromium for tests (Debian's /usr/bin/chromium driven by Playwright for Python; never a
browser downloaded by `playwright install`). Shared by every browser test: the report pages here, the
marimo apps later. `.ci/run` installs the browser; without one the tests are skipped, unless
EXPLORER_REQUIRE_BROWSER=1 (set by CI after installing it) turns a missing browser into a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# As the machine notes prescribe for a closed network and a root user: no sandbox, no GPU, no background
# connections (they would be refused, many at a time), a fresh profile (Playwright makes one per launch).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    env = os.environ.get("EXPLORER_CHROMIUM")
    for path in ([env] if env else []) + list(CANDIDATES):
        if path and shutil.which(path):
            return path
    return None


def unavailable() -> str | None:
    """Why no browser test can run here, or None when one can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install -e '.[test]'"
    if chromium_path() is None:
        return "no Chromium: apt-get install -y chromium (as .ci/run does)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright.sync_api.Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
