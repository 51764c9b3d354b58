"""Names written before the rule against hidden characters are shown neutralised on the page.

The daemon now refuses a name holding a right-to-left override (U+202E), but a vault can
hold one from before, or from a device that ignores the rule. To get one in, the test does
what such a device does: it stops the daemon, signs the ops with the home's own key through
the protocol layer (tests/integration/thief.py), and starts it again. Nothing in the daemon
lets it through.
"""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages, screenshot
from tests.browser.helpers import add, row
from tests.integration.daemon import Daemon
from tests.integration.thief import append, open_home
from tests.unit.fleet import forge_as
from twofold.protocol.account_write import AccountWrite, FieldWrite
from twofold.protocol.envelope import OpKind
from twofold.protocol.membership_bodies import DeviceRenamed

expect.set_options(timeout=10_000)

RLO = "\u202e"
SPOOF = f"{RLO}moc.lapyap"  # where the override is obeyed this reads "paypal.com"
FAMILY = "👨\u200d👩\u200d👧"  # the control: a joiner that belongs where it is


def write_older_names(d: Daemon, account_id: str) -> None:
    """Rename an account and the device the way older software could, then restart."""
    d.stop()
    vault = open_home(d.home)
    aid = bytes.fromhex(account_id)
    view = vault.account(aid)
    write = AccountWrite(
        aid,
        {
            "issuer": FieldWrite(SPOOF, view.heads.get("issuer", ())),
            "name": FieldWrite(FAMILY, view.heads.get("name", ())),
        },
        None,
    )
    last = vault.chains[vault.device.public][-1].hlc
    append(d.home, forge_as(vault, OpKind.ACCOUNT_WRITE, write, last + 1))
    append(d.home, forge_as(vault, OpKind.DEVICE_RENAMED, DeviceRenamed(f"laptop{RLO}"), last + 2))
    with sqlite3.connect(d.home / "twofold.db") as db:  # a rename also keeps the name here
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'device_name'", (f"laptop{RLO}".encode(),)
        )
    d.start()


def no_override(page: Page) -> None:
    assert RLO not in page.locator("body").inner_text()


def test_an_older_name_with_a_right_to_left_override_is_shown_as_an_escape(
    pages: Pages, daemon: Daemon
) -> None:
    account = add(daemon, issuer="PayPal", name="alice")
    write_older_names(daemon, account["id"])
    assert daemon.request("GET", f"/accounts/{account['id']}").body["issuer"] == SPOOF

    page = pages.open(daemon)
    shown = row(page, account["id"])
    expect(shown.get_by_test_id("account-issuer")).to_have_text("\\u202emoc.lapyap")
    expect(shown.get_by_test_id("account-name")).to_have_text(FAMILY)  # the control
    expect(page.get_by_test_id("session-device")).to_have_text("laptop\\u202e")
    no_override(page)

    # The edit dialog shows what a save would write; leaving the field as it is sends nothing.
    shown.get_by_test_id("edit-button").click()
    expect(page.get_by_test_id("edit-issuer")).to_have_value("\\u202emoc.lapyap")
    expect(page.get_by_test_id("edit-name")).to_have_value(FAMILY)
    page.get_by_test_id("edit-dialog").get_by_role("button", name="Cancel").click()

    page.get_by_test_id("nav-devices").click()
    expect(page.get_by_test_id("device-name").first).to_have_text("laptop\\u202e")
    expect(page.get_by_test_id("rename-input")).to_have_value("laptop\\u202e")
    no_override(page)
    screenshot(page, "desktop-older-name-neutralised")
