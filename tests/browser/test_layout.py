"""The page's layout at phone and desktop widths: no sideways scrolling, and screenshots.

The screenshots land in build/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages, screenshot
from tests.browser.helpers import OTHER_SECRET, add
from tests.integration.daemon import Daemon

expect.set_options(timeout=10_000)


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def vault(d: Daemon) -> None:
    add(d, issuer="GitHub", name="alice@example.com")
    add(
        d,
        issuer="Amazon Web Services",
        name="root-account-of-a-rather-long-company-name@example.com",
    )
    add(d, issuer="Example", name="bob", secret=OTHER_SECRET, digits=8)
    add(d, issuer="Bank", name="card 4242", kind="hotp")
    add(d, issuer="Steam", name="gamer", kind="steam")
    add(d, issuer="", name="an account with no issuer")
    gone = add(d, issuer="Old forum", name="carol")
    d.request("DELETE", f"/accounts/{gone['id']}")


@pytest.mark.parametrize(("size", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_every_view_fits_the_width(
    pages: Pages, daemon: Daemon, size: str, viewport: ViewportSize
) -> None:
    vault(daemon)
    page = pages.open(daemon, viewport=viewport)
    expect(page.get_by_test_id("account-row")).to_have_count(6)
    assert fits(page)
    screenshot(page, f"{size}-codes")

    page.get_by_test_id("add-button").click()
    dialog = page.get_by_test_id("add-dialog")
    expect(dialog).to_be_visible()
    assert fits(page)
    screenshot(page, f"{size}-add-link")
    dialog.get_by_test_id("add-tab-fields").click()
    dialog.get_by_test_id("add-advanced").click()
    dialog.get_by_test_id("add-fields-submit").click()  # no secret: the error shows
    expect(dialog.get_by_test_id("add-fields-error")).to_be_visible()
    assert fits(page)
    screenshot(page, f"{size}-add-fields")
    dialog.get_by_test_id("add-tab-qr").click()
    screenshot(page, f"{size}-add-qr")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.get_by_test_id("edit-button").first.click()
    expect(page.get_by_test_id("edit-dialog")).to_be_visible()
    assert fits(page)
    screenshot(page, f"{size}-edit")
    page.keyboard.press("Escape")

    page.get_by_test_id("nav-trash").click()
    expect(page.get_by_test_id("trash-row")).to_have_count(1)
    assert fits(page)
    screenshot(page, f"{size}-trash")

    page.get_by_test_id("nav-devices").click()
    expect(page.get_by_test_id("device-row")).to_have_count(1)
    assert fits(page)
    screenshot(page, f"{size}-devices")

    page.get_by_test_id("add-device-button").click()
    expect(page.get_by_test_id("invite-qr")).to_be_visible()
    assert fits(page)
    screenshot(page, f"{size}-pairing")
    page.get_by_test_id("invite-cancel").click()

    page.get_by_test_id("nav-codes").click()
    page.locator('[data-testid="account-row"][data-kind="hotp"]').get_by_test_id(
        "next-code"
    ).click()
    page.get_by_test_id("code").first.click()
    expect(page.get_by_test_id("toast")).to_be_visible()
    page.wait_for_timeout(250)  # the toast's entrance
    assert fits(page)
    screenshot(page, f"{size}-codes-copied")

    page.emulate_media(color_scheme="dark")
    page.get_by_test_id("toast-close").click()
    page.mouse.move(1, 1)
    page.wait_for_timeout(400)  # colours ease in
    assert fits(page)
    screenshot(page, f"{size}-codes-dark")
