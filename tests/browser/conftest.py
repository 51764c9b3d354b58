"""Browser tests: the web page in Debian's chromium, against real daemons.

Chromium is driven by Playwright, never downloaded: without /usr/bin/chromium
the tests are skipped, unless TWOFOLD_REQUIRE_BROWSER=1 makes that a failure.
Chromium is started with every background service off, so it talks to the
daemon on 127.0.0.1 and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from tests.integration.daemon import Daemon
from tests.integration.test_pairing import add
from twofold.clients.cli.browser import split_link, write_redirect_file

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.integration)


def _unavailable(reason: str) -> None:
    if os.environ.get("TWOFOLD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (and TWOFOLD_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


# Module scope, not session: Playwright's sync API runs an event loop in this thread while
# it is open, and tests after the browser ones call asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path / "laptop").start()
    try:
        yield d
    finally:
        d.kill()


@dataclass
class Watch:
    """What a page said that it should not have: script errors and CSP refusals."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"CSP: {text}")
        elif message.type == "error" and "Failed to load resource" not in text:
            self.problems.append(f"console error: {text}")


@dataclass
class Pages:
    """Browser contexts on one daemon's origin; each signs in as `twofold open` makes it:
    through a redirect file holding a one-time ticket."""

    browser: Browser
    watch: Watch
    contexts: list[BrowserContext] = field(default_factory=list)

    def open(
        self,
        d: Daemon,
        *,
        viewport: ViewportSize | None = None,
        sign_in: bool = True,
        ready: str = "app",
    ) -> Page:
        """A new page, signed in unless told not to; `ready` is the screen to wait for (the
        unlock screen, "locked", when the vault is locked)."""
        origin = f"http://127.0.0.1:{d.port}"
        context = self.browser.new_context(
            viewport=viewport or DESKTOP, color_scheme="light", locale="en-GB", timezone_id="UTC"
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        page = context.new_page()
        self.watch.attach(page)
        if sign_in:
            page.goto(redirect_file(d).as_uri())
            page.get_by_test_id(ready).wait_for(state="visible")
            assert page.url == f"{origin}/"
        else:
            page.goto(f"{origin}/")
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def redirect_file(d: Daemon) -> Path:
    """What `twofold open` does: a ticket into a 0600 redirect file in the home, whose form
    posts it (from a file:// page, so with Origin null) to the daemon."""
    r = d.request("POST", "/sessions")
    assert r.status == 201, r.body
    action, ticket = split_link(r.body["url"])
    return write_redirect_file(d.home, action, ticket, datetime.now(UTC))


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    watch = Watch()
    opened = Pages(browser, watch)
    try:
        yield opened
    finally:
        opened.close()
    assert watch.problems == []


@pytest.fixture
def page(pages: Pages, daemon: Daemon) -> Page:
    """A desktop-sized page on `daemon`, signed in."""
    return pages.open(daemon)


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot for review (build/screenshots is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    # Written here, not by Playwright: its file writes start a thread that outlives the test.
    path.write_bytes(page.screenshot(animations="disabled"))
    return path


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    """A member with an account, and a newcomer with its own, to join it."""
    member = Daemon(tmp_path / "laptop").start()
    newcomer = Daemon(tmp_path / "desktop").start()
    try:
        add(member, "GitHub")
        add(newcomer, "Brought along")
        yield member, newcomer
    finally:
        member.kill()
        newcomer.kill()
