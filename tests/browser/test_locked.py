"""Locked mode in the page: a vault with a passphrase shows an unlock screen while it is
locked (at load, after the Lock button, after a lock elsewhere), holds none of its codes
then, and shows them again once its passphrase opens it. The page's own refreshes say
they are background ones once the person has left it alone for a minute."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, Route, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages, screenshot
from tests.browser.helpers import OTHER_SECRET, SECRET, add, row, shown_code, totp_near_now
from tests.browser.test_page_fit import LONG_DEVICE
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import invite

# An unlock runs Argon2id (256 MiB, 3 passes): about a second on a slow machine.
expect.set_options(timeout=15_000)

PASSPHRASE = "a long vault passphrase"
ISSUERS = ("Zanzibar Savings", "Quokka Mail")


def with_passphrase(d: Daemon) -> list[str]:
    """Two accounts, and a passphrase on the home (set through the API); the accounts' ids."""
    ids = [
        add(d, issuer=ISSUERS[0], name="alice")["id"],
        add(d, issuer=ISSUERS[1], name="bob", secret=OTHER_SECRET)["id"],
    ]
    r = d.request("PUT", "/passphrase", {"passphrase": PASSPHRASE})
    assert r.status == 200, r.body
    assert r.body["passphrase"] is True
    return ids


def codes_shown(page: Page, ids: list[str]) -> list[str]:
    for account_id in ids:
        expect(row(page, account_id).get_by_test_id("code")).to_be_visible()
    return [shown_code(row(page, account_id)) for account_id in ids]


def assert_nothing_of_the_vault(page: Page, codes: list[str]) -> None:
    """The unlock screen shows, and the page holds no code nor account (not just out of sight)."""
    expect(page.get_by_test_id("locked")).to_be_visible()
    expect(page.get_by_test_id("app")).to_be_hidden()
    expect(page.get_by_test_id("account-row")).to_have_count(0)
    html = page.content()
    for code in codes:
        assert code not in html
        assert f"{code[:3]} {code[3:]}" not in html
    for issuer in ISSUERS:
        assert issuer not in html


def unlock(page: Page, passphrase: str = PASSPHRASE) -> None:
    """Type the passphrase and press Unlock; after a wrong one the daemon makes the next
    try wait a second: then the page counts down, and this tries again when it may."""
    field = page.get_by_test_id("unlock-passphrase")
    button = page.get_by_test_id("unlock-submit")
    field.fill(passphrase)
    for _ in range(3):
        expect(button).to_be_enabled()
        button.click()
        waiting = page.get_by_test_id("unlock-error").filter(has_text="Too many wrong passphrases")
        expect(page.get_by_test_id("app").or_(waiting)).to_be_visible()
        if page.get_by_test_id("app").is_visible():
            return
    raise AssertionError("the page did not unlock")


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_lock_button_locks_and_the_passphrase_unlocks(pages: Pages, daemon: Daemon) -> None:
    ids = with_passphrase(daemon)
    page = pages.open(daemon)
    codes = codes_shown(page, ids)
    lock = page.get_by_test_id("lock")
    expect(lock).to_be_visible()
    expect(lock).to_have_accessible_name(re.compile("Lock"))

    lock.click()
    assert_nothing_of_the_vault(page, codes)
    assert daemon.request("GET", "/status").body["locked"] is True
    expect(page.get_by_test_id("locked-device")).to_have_text("laptop")
    field = page.get_by_test_id("unlock-passphrase")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("type", "password")
    expect(field).to_have_attribute("autocomplete", "current-password")
    expect(page).to_have_title("Twofold: locked")

    field.fill("not the passphrase")
    field.press("Enter")
    error = page.get_by_test_id("unlock-error")
    expect(error).to_have_text("The passphrase is wrong.")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    assert field.evaluate("f => f.selectionStart === 0 && f.selectionEnd === f.value.length")
    assert page.get_by_test_id("locked").is_visible()

    # At once again: the daemon makes it wait, and the page counts down.
    field.press("Enter")
    expect(error).to_have_text(re.compile(r"^Too many wrong passphrases: try again in \d+ s\.$"))
    expect(page.get_by_test_id("unlock-submit")).to_be_disabled()
    expect(page.get_by_test_id("unlock-submit")).to_be_enabled()
    expect(error).to_be_hidden()

    unlock(page)
    expect(page.get_by_test_id("locked")).to_be_hidden()
    for account_id in ids:
        expect(row(page, account_id).get_by_test_id("code")).to_be_visible()
    assert shown_code(row(page, ids[0])) in totp_near_now(SECRET)
    assert shown_code(row(page, ids[1])) in totp_near_now(OTHER_SECRET)
    assert field.input_value() == ""
    assert daemon.request("GET", "/status").body["locked"] is False
    expect(page).to_have_title("Twofold")


def test_a_daemon_started_with_a_passphrase_shows_the_unlock_screen(
    pages: Pages, daemon: Daemon
) -> None:
    ids = with_passphrase(daemon)
    daemon.stop()
    daemon.start()
    page = pages.open(daemon, ready="locked")
    expect(page.get_by_test_id("app")).to_be_hidden()
    expect(page.get_by_test_id("unlock-passphrase")).to_be_focused()
    expect(page.get_by_test_id("locked-device")).to_have_text("laptop")
    unlock(page)
    codes_shown(page, ids)
    expect(page.get_by_test_id("lock")).to_be_visible()


def test_a_lock_elsewhere_reaches_an_open_page_through_the_event_stream(
    pages: Pages, daemon: Daemon
) -> None:
    ids = with_passphrase(daemon)
    page = pages.open(daemon)
    codes = codes_shown(page, ids)
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")

    assert daemon.request("POST", "/lock").status == 200
    assert_nothing_of_the_vault(page, codes)
    expect(page.get_by_test_id("locked-reason")).to_be_hidden()  # asked for: no reason to give

    # ...and an unlock elsewhere (the CLI) brings the codes back.
    page.get_by_test_id("unlock-passphrase").fill("half typed")
    r = daemon.request("POST", "/unlock", {"passphrase": PASSPHRASE})
    assert r.status == 200, r.body
    expect(page.get_by_test_id("locked")).to_be_hidden()
    codes_shown(page, ids)
    assert page.get_by_test_id("unlock-passphrase").input_value() == ""


def test_an_idle_lock_says_why(pages: Pages, daemon: Daemon) -> None:
    # The one stand-in here is the event stream, which tells of an idle lock: a real one
    # comes after a minute at least (tests/integration/test_idle_lock.py moves a clock).
    ids = with_passphrase(daemon)
    idle = {"said": False}

    def stream(route: Route) -> None:
        body = "retry: 200\n\n"  # each answer ends at once: the page's stream reconnects
        if idle["said"]:
            body += 'event: lock\ndata: {"locked": true, "reason": "idle"}\n\n'
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    page = pages.open(daemon)
    page.route("**/api/v1/events", stream)
    page.reload()
    codes = codes_shown(page, ids)
    assert daemon.request("POST", "/lock").status == 200  # what the page refetches agrees
    idle["said"] = True
    expect(page.get_by_test_id("locked-reason")).to_have_text(
        "It locked after 15 minutes without use."
    )
    assert_nothing_of_the_vault(page, codes)


def test_a_call_answered_423_locks_the_page(pages: Pages, daemon: Daemon) -> None:
    ids = with_passphrase(daemon)
    page = pages.open(daemon)
    page.route("**/api/v1/events", lambda route: route.abort())  # no news of the lock
    page.reload()
    codes = codes_shown(page, ids)
    expect(page.get_by_test_id("live-status")).not_to_have_attribute("data-state", "live")

    assert daemon.request("POST", "/lock").status == 200
    expect(page.get_by_test_id("app")).to_be_visible()
    row(page, ids[0]).get_by_test_id("edit-button").click()  # answered 423
    assert_nothing_of_the_vault(page, codes)
    expect(page.get_by_test_id("edit-dialog")).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_have_count(0)
    unlock(page)
    codes_shown(page, ids)


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_unlock_screen_fits(
    pages: Pages, daemon: Daemon, size: str, viewport: ViewportSize
) -> None:
    assert daemon.request("PATCH", "/devices/self", {"name": LONG_DEVICE}).status == 200
    ids = with_passphrase(daemon)
    page = pages.open(daemon, viewport=viewport)
    codes_shown(page, ids)
    expect(page.get_by_test_id("lock")).to_be_visible()
    assert fits(page)
    screenshot(page, f"{size}-codes-lock-button")

    page.get_by_test_id("lock").click()
    expect(page.get_by_test_id("unlock-passphrase")).to_be_focused()
    expect(page.get_by_test_id("locked-device")).to_have_text(LONG_DEVICE)
    assert fits(page)
    screenshot(page, f"{size}-locked")

    page.get_by_test_id("unlock-passphrase").fill("not the passphrase")
    page.get_by_test_id("unlock-submit").click()
    expect(page.get_by_test_id("unlock-error")).to_have_text("The passphrase is wrong.")
    assert fits(page)
    button = page.get_by_test_id("unlock-submit").bounding_box()
    size_now = page.viewport_size
    assert button is not None
    assert size_now is not None
    assert button["x"] >= 0
    assert button["x"] + button["width"] <= size_now["width"]
    screenshot(page, f"{size}-locked-wrong")


def test_the_pages_own_refreshes_say_when_nobody_is_there(pages: Pages, daemon: Daemon) -> None:
    ids = with_passphrase(daemon)
    page = pages.open(daemon)
    page.clock.install()
    page.reload()
    codes_shown(page, ids)

    def codes_call(request: Request) -> bool:
        return request.url.endswith("/api/v1/codes")

    def background(request: Request) -> str | None:
        return request.all_headers().get("x-twofold-background")

    # A minute and more without a touch: the codes' refresh is a background one.
    with page.expect_request(codes_call) as idle:
        page.clock.fast_forward(61_000)
    assert background(idle.value) == "1"

    # The person's own click is not...
    with page.expect_request(lambda r: f"/api/v1/accounts/{ids[0]}" in r.url) as asked:
        row(page, ids[0]).get_by_test_id("edit-button").click()
    assert background(asked.value) is None
    page.keyboard.press("Escape")

    # ...and for a minute after it, neither are the page's refreshes.
    with page.expect_request(codes_call) as soon:
        page.clock.fast_forward(31_000)
    assert background(soon.value) is None


def test_a_lock_stops_following_a_join(
    two: tuple[Daemon, Daemon], pages: Pages, tmp_path: Path
) -> None:
    member, newcomer = two
    r = newcomer.request("PUT", "/passphrase", {"passphrase": PASSPHRASE})
    assert r.status == 200, r.body
    shown = invite(member, accept=True)
    picture = tmp_path / "the-code.png"
    picture.write_bytes(base64.b64decode(shown["qr_png"]))
    page = pages.open(newcomer)
    page.get_by_test_id("nav-devices").click()
    page.get_by_test_id("join-file").set_input_files(str(picture))
    expect(page.get_by_test_id("join-code")).to_be_visible(timeout=20_000)
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    assert newcomer.request("POST", "/lock").status == 200
    expect(page.get_by_test_id("locked")).to_be_visible()
    seen = len(asked)
    page.wait_for_timeout(4_500)  # the join's poll, were it still going, comes every 2 s
    assert [url for url in asked[seen:] if url.endswith("/api/v1/join")] == []
    expect(page.get_by_test_id("join-code")).to_have_count(0)
