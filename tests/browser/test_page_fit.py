"""What a person sees fits the page: the "Copied" toast stays off the code, long names
wrap instead of being cut, a pairing's code to compare comes into view with focus (and
keeps the person's focus after), and a removed device's page fits a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages, screenshot
from tests.browser.helpers import SECRET, add, row, shown_code, totp_near_now
from tests.browser.test_devices import device_row, off_the_loop
from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_conflicts import concurrent_rename
from tests.integration.test_pairing import final, invite, join
from twofold.daemon.home import Home

expect.set_options(timeout=10_000)

SIZES = [("phone", PHONE), ("desktop", DESKTOP)]
LONG_ISSUER = "Bundesministerium für Finanzen \N{EN DASH} Elster Online-Portal für Unternehmen"
LONG_NAME = "steuerberatung.mustermann-und-partner.buchhaltung@example-kanzlei.de"  # no spaces
UNBROKEN_ISSUER = "accounts.very-long-single-sign-on-provider-of-a-large-company.example.com"
LONG_DEVICE = "Büro-Arbeitsplatzrechner-im-zweiten-Stock-neben-dem-Drucker"  # 64 at most


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def overlap(a: Any, b: Any) -> bool:
    assert a is not None
    assert b is not None
    return bool(
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def not_cut(el: Locator) -> bool:
    """The element shows all of its text: nothing scrolled off or clipped."""
    return bool(
        el.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight + 1")
    )


def in_viewport(page: Page, el: Locator) -> bool:
    box = el.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    return bool(
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def digits_seen(code: Locator) -> bool:
    """Nothing lies over the code's digits: the element at each corner of the text is it."""
    return bool(
        code.evaluate(
            """el => {
                const range = document.createRange();
                range.selectNodeContents(el);
                const r = range.getBoundingClientRect();
                const points = [[r.left + 2, r.top + 2], [r.right - 2, r.top + 2],
                                [r.left + 2, r.bottom - 2], [r.right - 2, r.bottom - 2],
                                [(r.left + r.right) / 2, (r.top + r.bottom) / 2]];
                return points.every(([x, y]) => el.contains(document.elementFromPoint(x, y)));
            }"""
        )
    )


def focus_within(page: Page, testid: str) -> bool:
    """Focus lands inside the element (waiting: it moves once the answer is drawn)."""
    page.wait_for_function(
        "id => document.querySelector(`[data-testid='${id}']`).contains(document.activeElement)",
        arg=testid,
        timeout=10_000,
    )
    return True


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_the_copied_toast_never_covers_the_code(
    pages: Pages, daemon: Daemon, size: str, viewport: ViewportSize
) -> None:
    many = 15 if size == "phone" else 40  # more than a screen either way
    ids = [
        add(daemon, issuer=f"Service {i:02}", name=f"user{i}@example.com")["id"]
        for i in range(many)
    ]
    page = pages.open(daemon, viewport=viewport)
    expect(page.get_by_test_id("account-row")).to_have_count(many)
    # The row the toast would land on: one that spans the middle of the screen.
    middle = viewport["width"] / 2
    target = None
    for account_id in ids[many // 3 :]:
        box = row(page, account_id).bounding_box()
        assert box is not None
        if box["x"] <= middle <= box["x"] + box["width"]:
            target = row(page, account_id)
            break
    assert target is not None
    # Scroll so the row sits at the very bottom of the screen, where toasts show.
    target.evaluate("el => el.scrollIntoView({block: 'end'})")
    code = target.get_by_test_id("code")
    code_box = code.bounding_box()
    assert code_box is not None
    assert code_box["y"] + code_box["height"] > viewport["height"] - 80
    page.evaluate("navigator.clipboard.writeText('')")

    code.click()
    # The row says so at once, beside the digits, not over them (for 1.5 s).
    note = target.get_by_test_id("copied-note")
    expect(note).to_be_visible()
    assert code.evaluate(
        """code => {
            const note = code.parentElement.querySelector('[data-testid="copied-note"]');
            const a = code.getBoundingClientRect(), b = note.getBoundingClientRect();
            const apart = a.right <= b.left || b.right <= a.left
                || a.bottom <= b.top || b.bottom <= a.top;
            return apart && code.scrollWidth <= code.clientWidth;
        }"""
    )
    toast = page.get_by_test_id("toast")
    expect(toast).to_contain_text("Copied")
    toast.evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")  # in place
    shown = shown_code(target)
    assert shown in totp_near_now(SECRET)
    assert page.evaluate("navigator.clipboard.readText()") == shown
    assert not overlap(toast.bounding_box(), code.bounding_box())
    assert not overlap(toast.bounding_box(), target.get_by_test_id("timer").bounding_box())
    assert digits_seen(code)
    assert page.get_by_test_id("toasts").get_attribute("aria-live") == "polite"
    assert fits(page)
    screenshot(page, f"{size}-codes-copied-at-the-bottom")
    expect(note).to_be_hidden(timeout=3_000)


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_long_issuers_and_names_wrap_instead_of_being_cut(
    pages: Pages, daemon: Daemon, size: str, viewport: ViewportSize
) -> None:
    long = add(daemon, issuer=LONG_ISSUER, name=LONG_NAME)
    add(daemon, issuer="GitHub", name="alice")
    unbroken = add(daemon, issuer=UNBROKEN_ISSUER, name="bob")
    gone = add(daemon, issuer=LONG_ISSUER + " (alt)", name=LONG_NAME)
    daemon.request("DELETE", f"/accounts/{gone['id']}")
    assert daemon.request("PATCH", "/devices/self", {"name": LONG_DEVICE}).status == 200
    # A conflict on the account with the unbroken issuer, for the Conflicts view.
    assert daemon.stop() == 0
    off_the_loop(concurrent_rename(Home(daemon.home), bytes.fromhex(unbroken["id"])))
    daemon.start()

    page = pages.open(daemon, viewport=viewport)
    expect(page.get_by_test_id("account-row")).to_have_count(3)
    for account in (long, unbroken):
        r = row(page, account["id"])
        issuer = r.get_by_test_id("account-issuer")
        expect(issuer).to_have_text(account["issuer"])
        assert not_cut(issuer)
        code = r.get_by_test_id("code")
        assert code.evaluate(  # on the screen's width, whole
            "e => e.getBoundingClientRect().left >= 0"
            " && e.getBoundingClientRect().right <= innerWidth"
        )
        assert not_cut(code)
    name = row(page, long["id"]).get_by_test_id("account-name")
    expect(name).to_have_text(LONG_NAME)
    assert not_cut(name)
    assert fits(page)
    screenshot(page, f"{size}-codes-long-names")

    page.get_by_test_id("nav-trash").click()
    trash = page.get_by_test_id("trash-row")
    expect(trash).to_have_count(1)
    assert not_cut(trash.locator(".row-title"))
    assert fits(page)
    screenshot(page, f"{size}-trash-long-names")

    page.get_by_test_id("nav-conflicts").click()
    conflict = page.get_by_test_id("conflict")
    expect(conflict).to_have_count(1)
    assert not_cut(conflict.locator(".card-title"))
    assert fits(page)
    screenshot(page, f"{size}-conflicts-long-names")

    page.get_by_test_id("nav-devices").click()
    me = device_row(page, LONG_DEVICE)
    expect(me).to_be_visible()
    assert not_cut(me.get_by_test_id("device-name"))
    assert fits(page)
    screenshot(page, f"{size}-devices-long-names")


def keeps_focus(page: Page, button: Locator, polled: str) -> None:
    """The person's focus stays on `button` through the page's next two polls of `polled`:
    the first answer after the other side's yes is drawn before the second is asked for."""
    for _ in range(2):
        with page.expect_response(
            lambda r: f"/api/v1{polled}" in r.url and r.request.method == "GET",
            timeout=15_000,
        ):
            pass
    expect(button).to_be_focused(timeout=0)


def submit_from_the_top(page: Page, form: str) -> None:
    """Send a form while the page is scrolled to its top: what comes next is out of view."""
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_test_id(form).evaluate("f => f.requestSubmit()")


def test_a_pairing_code_to_compare_comes_into_view_with_focus(
    pages: Pages, daemon: Daemon, tmp_path: Path
) -> None:
    phone = Daemon(tmp_path / "phone").start()
    desktop = Daemon(tmp_path / "desktop").start()
    newcomer = Daemon(tmp_path / "tablet").start()
    try:
        for i in range(6):  # a longer page
            add(daemon, issuer=f"Service {i}")
        page = pages.open(daemon, viewport=PHONE)
        page.get_by_test_id("nav-devices").click()
        expect(page.get_by_test_id("device-row")).to_have_count(1)

        # A device that shows a link: the member pastes it, then the code comes.
        page.get_by_test_id("pair-link").fill(phone.request("POST", "/offers", {}).body["link"])
        submit_from_the_top(page, "pair-form")
        status = page.get_by_test_id("pair-status")
        code = status.get_by_test_id("pair-code")
        expect(code).to_be_visible()
        expect(code).to_be_focused()
        assert in_viewport(page, code)
        assert in_viewport(page, status.get_by_test_id("pair-accept"))
        screenshot(page, "phone-pair-confirm")
        # The person tabs to Decline while thinking; the phone's person accepts meanwhile.
        decline = status.get_by_test_id("pair-decline")
        decline.focus()
        assert eventually(lambda: phone.request("GET", "/join").body["state"] == "confirming")
        assert phone.request("POST", "/join/accept").status == 200
        keeps_focus(page, decline, "/pair")
        status.get_by_test_id("pair-accept").click()
        expect(status).to_contain_text("phone was added")
        assert focus_within(page, "pair-status")  # the pressed button went: the news has it
        assert final(phone)["state"] == "joined"

        # The "Add a device" dialog: the code comes into view in the dialog, focused.
        page.get_by_test_id("add-device-button").click()
        dialog = page.get_by_test_id("invite-dialog")
        link = dialog.get_by_test_id("invite-link").input_value()
        assert desktop.request("POST", "/join", {"link": link}).status == 202
        code = dialog.get_by_test_id("invite-code")
        expect(code).to_be_visible()
        expect(code).to_be_focused()
        assert in_viewport(page, code)
        screenshot(page, "phone-invite-confirm")
        decline = dialog.get_by_test_id("invite-decline")
        decline.focus()
        assert eventually(lambda: desktop.request("GET", "/join").body["state"] == "confirming")
        assert desktop.request("POST", "/join/accept").status == 200
        keeps_focus(page, decline, "/invitations/")
        dialog.get_by_test_id("invite-accept").click()
        expect(dialog.get_by_test_id("invite-state")).to_have_attribute("data-state", "accepted")
        # The button pressed went away: focus stays in the dialog.
        assert focus_within(page, "invite-dialog")
        dialog.get_by_test_id("invite-close").click()

        # Joining another vault: this page is the newcomer's.
        shown = invite(daemon)
        joiner = pages.open(newcomer, viewport=PHONE)
        joiner.get_by_test_id("nav-devices").click()
        joiner.get_by_test_id("join-link").fill(shown["link"])
        submit_from_the_top(joiner, "join-form")
        code = joiner.get_by_test_id("join-code")
        expect(code).to_be_visible(timeout=20_000)
        expect(code).to_be_focused()
        assert in_viewport(joiner, code)
        assert focus_within(joiner, "join-status")
        screenshot(joiner, "phone-join-confirm-in-view")
        decline = joiner.get_by_test_id("join-decline")
        decline.focus()
        assert daemon.request("POST", f"/invitations/{shown['id']}/accept").status == 200
        keeps_focus(joiner, decline, "/join")
        joiner.get_by_test_id("join-accept").click()
        expect(joiner.get_by_test_id("join-state")).to_have_attribute(
            "data-state", "joined", timeout=20_000
        )
        assert focus_within(joiner, "join-status")
    finally:
        phone.kill()
        desktop.kill()
        newcomer.kill()


@pytest.mark.parametrize(("size", "viewport"), SIZES)
def test_a_removed_device_fits_the_screen(
    pages: Pages, daemon: Daemon, tmp_path: Path, size: str, viewport: ViewportSize
) -> None:
    desktop = Daemon(tmp_path / "desktop").start()
    try:
        assert desktop.request("PATCH", "/devices/self", {"name": LONG_DEVICE}).status == 200
        kept = add(daemon, issuer=LONG_ISSUER, name=LONG_NAME)
        page = pages.open(daemon, viewport=viewport)
        expect(row(page, kept["id"])).to_be_visible()
        join(desktop, invite(daemon, accept=True)["link"])
        assert final(desktop)["state"] == "joined"
        me = daemon.request("GET", "/status").body["device"]["id"]
        assert desktop.request("POST", f"/devices/{me}/revoke").status == 200

        banner = page.get_by_test_id("standing-banner")
        expect(banner).to_contain_text(f"This device was removed from the vault by {LONG_DEVICE}")
        expect(page.get_by_test_id("new-vault-button")).to_be_visible()
        assert in_viewport(page, page.get_by_test_id("new-vault-button"))
        assert not_cut(page.get_by_test_id("new-vault-button"))
        assert fits(page)
        screenshot(page, f"{size}-removed-banner")

        page.get_by_test_id("nav-devices").click()
        laptop = device_row(page, "laptop")
        expect(laptop.get_by_test_id("device-status")).to_have_text("Revoked")
        removed = laptop.get_by_test_id("device-removed")
        expect(removed).to_contain_text(f"removed by {LONG_DEVICE}")
        assert not_cut(removed)
        box, row_box = removed.bounding_box(), laptop.bounding_box()
        assert box is not None
        assert row_box is not None
        assert box["x"] + box["width"] <= row_box["x"] + row_box["width"]
        assert fits(page)
        laptop.scroll_into_view_if_needed()
        screenshot(page, f"{size}-removed-devices")
    finally:
        desktop.kill()
