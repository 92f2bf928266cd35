"""Launching Debian's Chromium from Playwright, for the browser (end-to-end) tests.

Playwright's own browser download does not work on this network, so tests drive the
distribution's /usr/bin/chromium (installed by ``scripts/bootstrap.sh --browser``).

Usage in a test module::

    from tests.browser import chromium_browser  # noqa: F401  (pytest fixture)

    @pytest.mark.browser
    def test_sign_in(chromium_browser): ...

or call :func:`launch_chromium` with your own ``sync_playwright()`` handle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM_PATH = "/usr/bin/chromium"
# The same flags work for a bare `chromium --dump-dom` check. Each one keeps the browser
# from reaching out to Google services (no network here) or from needing a GPU/sandbox that
# a root CI container does not offer. Playwright makes its own temporary profile, so no
# --user-data-dir.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch Debian's headless Chromium through ``playwright`` and return the Browser."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.fail(f"{CHROMIUM_PATH} is missing: run scripts/bootstrap.sh --browser")
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_FLAGS
    )


# Module scope: each test module imports this fixture, which makes a separate fixture per
# module; two session-scoped ones would nest a second Playwright inside the first's loop.
@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    """One headless Chromium shared by a test module; closed at its end."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()
