"""Browser tests: Playwright driving Debian's Chromium (`apt-get install chromium`).

Playwright cannot download its own browser here, so it launches the system's. Without one the
tests are skipped, unless PGQRS_REQUIRE_BROWSER=1 (CI sets it: a missing browser fails there).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pgqrs import serve, sync
from tests.serve.conftest import serving

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-token-7d1e"


def chromium_path() -> str | None:
    """Return the system Chromium's path, if there is one."""
    for candidate in (os.environ.get("PGQRS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Return a headless Chromium for the module's tests.

    Not for the session: while Playwright's sync API runs, its event loop counts as running in
    this thread, and every asyncio test after it would fail to start its own.
    """
    path = chromium_path()
    if path is None:
        if os.environ.get("PGQRS_REQUIRE_BROWSER") == "1":
            pytest.fail("no Chromium: apt-get install -y chromium (PGQRS_REQUIRE_BROWSER=1)")
        pytest.skip("no Chromium: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=BROWSER_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def admin(config: sync.Config) -> Iterator[sync.PgqrsAdmin]:
    """Return a blocking admin on the test's schema, pgqrs installed."""
    with sync.PgqrsAdmin.connect(config) as admin:
        admin.install()
        yield admin


@pytest.fixture
def dashboard(config: sync.Config, admin: sync.PgqrsAdmin) -> Iterator[str]:
    """Serve a dashboard that allows actions (token TOKEN) and refreshes fast; yield its URL."""
    settings = serve.ServeSettings(
        allow_actions=True,
        token=TOKEN,
        refresh_seconds=0.5,
        overview_cache_seconds=0.0,
        throughput_cache_seconds=0.0,
    )
    with serving(config, settings) as base:
        yield base


@pytest.fixture
def page_for(browser: Any) -> Iterator[Callable[..., Any]]:
    """Return a function opening a page (Playwright new_page keyword arguments); closed after."""
    contexts: list[Any] = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
