"""Devices in a real browser: pairing both ways, renaming, revoking; and conflicts."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import PHONE, Pages, screenshot
from tests.browser.helpers import add, row
from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_conflicts import concurrent_rename
from tests.integration.test_pairing import final, invite, join
from twofold.daemon.home import Home

expect.set_options(timeout=10_000)


def off_the_loop(coroutine: Coroutine[Any, Any, str]) -> str:
    """Run a coroutine to its end in a thread: Playwright's loop owns this one."""
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coroutine)))
    thread.start()
    thread.join(30)
    assert result, "the coroutine failed (see the thread's traceback above)"
    return result[0]


def digits(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


def device_row(page: Page, name: str) -> Locator:
    return page.get_by_test_id("device-row").filter(
        has=page.get_by_test_id("device-name").get_by_text(name, exact=True)
    )


def test_pair_by_invitation_and_by_offer_then_revoke(
    pages: Pages, daemon: Daemon, tmp_path: Path
) -> None:
    desktop = Daemon(tmp_path / "desktop").start()
    phone = Daemon(tmp_path / "phone").start()
    try:
        page = pages.open(daemon)
        page.get_by_test_id("nav-devices").click()
        expect(page.get_by_test_id("device-row")).to_have_count(1)

        # An invitation: the page shows the QR code and the link; the desktop joins with it.
        page.get_by_test_id("add-device-button").click()
        dialog = page.get_by_test_id("invite-dialog")
        qr = dialog.get_by_test_id("invite-qr")
        expect(qr).to_be_visible()
        assert (qr.get_attribute("src") or "").startswith("data:image/png;base64,")
        assert qr.evaluate("img => img.naturalWidth") > 0
        link = dialog.get_by_test_id("invite-link").input_value()
        assert link.startswith("twofold://pair/")
        expect(dialog.get_by_test_id("invite-expiry")).to_contain_text("Expires in")
        dialog.get_by_test_id("invite-copy").click()
        assert page.evaluate("navigator.clipboard.readText()") == link

        assert desktop.request("POST", "/join", {"link": link}).status == 202
        code = dialog.get_by_test_id("invite-code")
        expect(code).to_be_visible()
        expect(dialog.get_by_test_id("invite-peer-name")).to_have_text("desktop")
        joining = eventually(lambda: desktop.request("GET", "/join").body["code"])
        assert digits(code.inner_text()) == digits(joining)
        screenshot(page, "desktop-pairing-confirm")
        dialog.get_by_test_id("invite-accept").click()
        # Both people decide: the page waits for the desktop's person, who accepts there.
        expect(dialog.get_by_test_id("invite-state")).to_have_attribute("data-state", "waiting")
        assert desktop.request("GET", "/status").body["members"] == 1
        assert desktop.request("POST", "/join/accept").status == 200
        expect(dialog.get_by_test_id("invite-state")).to_have_attribute("data-state", "accepted")
        assert eventually(lambda: desktop.request("GET", "/join").body["state"] == "joined")
        dialog.get_by_test_id("invite-close").click()
        expect(device_row(page, "desktop")).to_be_visible()
        expect(device_row(page, "desktop").get_by_test_id("device-status")).to_have_text(
            "Connected"
        )

        # The other way round: the phone shows a link and this page adds it.
        offer = phone.request("POST", "/offers", {})
        assert offer.status == 201, offer.body
        page.get_by_test_id("pair-link").fill(offer.body["link"])
        page.get_by_test_id("pair-submit").click()
        status = page.get_by_test_id("pair-status")
        expect(status.get_by_test_id("pair-code")).to_be_visible()
        shown = eventually(lambda: phone.request("GET", "/join").body["code"])
        assert digits(status.get_by_test_id("pair-code").inner_text()) == digits(shown)
        status.get_by_test_id("pair-accept").click()
        expect(status.get_by_test_id("pair-waiting")).to_be_visible()
        assert phone.request("POST", "/join/accept").status == 200
        expect(status).to_contain_text("phone was added")
        assert eventually(lambda: phone.request("GET", "/join").body["state"] == "joined")
        expect(device_row(page, "phone")).to_be_visible()
        expect(page.get_by_test_id("device-row")).to_have_count(3)
        screenshot(page, "desktop-devices-paired")

        # Revoke the phone, after the confirm dialog says what that does.
        device_row(page, "phone").get_by_test_id("revoke-button").click()
        confirm = page.get_by_test_id("confirm-dialog")
        expect(confirm).to_contain_text("vault key is changed")
        screenshot(page, "desktop-revoke-confirm")
        confirm.get_by_test_id("confirm-cancel").click()
        expect(confirm).to_be_hidden()
        expect(device_row(page, "phone").get_by_test_id("device-status")).not_to_have_text(
            "Revoked"
        )
        device_row(page, "phone").get_by_test_id("revoke-button").click()
        confirm.get_by_test_id("confirm-ok").click()
        expect(device_row(page, "phone").get_by_test_id("device-status")).to_have_text("Revoked")
        revoked = [d for d in daemon.request("GET", "/devices").body["devices"] if d["revoked"]]
        assert [d["name"] for d in revoked] == ["phone"]

        # An account added on the desktop shows here live.
        made = add(desktop, issuer="Made on the desktop")
        page.get_by_test_id("nav-codes").click()
        expect(row(page, made["id"])).to_be_visible()
    finally:
        desktop.kill()
        phone.kill()


def test_a_closed_invitation_is_cancelled(page: Page, daemon: Daemon) -> None:
    page.get_by_test_id("nav-devices").click()
    page.get_by_test_id("add-device-button").click()
    dialog = page.get_by_test_id("invite-dialog")
    expect(dialog.get_by_test_id("invite-qr")).to_be_visible()
    dialog.get_by_test_id("invite-cancel").click()
    expect(dialog).to_be_hidden()

    def states() -> list[str]:
        return [i["state"] for i in daemon.request("GET", "/invitations").body["invitations"]]

    assert eventually(lambda: states() == ["cancelled"])


def test_rename_this_device(pages: Pages, daemon: Daemon) -> None:
    page = pages.open(daemon, viewport=PHONE)
    page.get_by_test_id("nav-devices").click()
    expect(page.get_by_test_id("rename-input")).to_have_value("laptop")
    page.get_by_test_id("rename-input").fill("")
    page.get_by_test_id("rename-save").click()
    expect(page.get_by_test_id("rename-error")).to_be_visible()
    page.get_by_test_id("rename-input").fill("work laptop")
    page.get_by_test_id("rename-save").click()
    expect(device_row(page, "work laptop")).to_be_visible()
    devices = daemon.request("GET", "/devices").body["devices"]
    assert [d["name"] for d in devices if d["this_device"]] == ["work laptop"]


def test_a_conflict_is_shown_side_by_side_and_resolved(pages: Pages, daemon: Daemon) -> None:
    account = add(daemon, issuer="GitHub", name="alice")
    assert daemon.stop() == 0
    phone = off_the_loop(concurrent_rename(Home(daemon.home), bytes.fromhex(account["id"])))
    daemon.start()

    page = pages.open(daemon)
    r = row(page, account["id"])
    expect(r.get_by_test_id("conflict-badge")).to_be_visible()
    expect(page.get_by_test_id("conflict-banner")).to_be_visible()
    expect(page.get_by_test_id("conflicts-count")).to_have_text("1")
    r.get_by_test_id("conflict-badge").click()
    conflict = page.locator(
        f'[data-testid="conflict"][data-account-id="{account["id"]}"][data-field="name"]'
    )
    values = conflict.get_by_test_id("conflict-value")
    expect(values).to_have_count(2)
    assert [
        v.strip() for v in conflict.get_by_test_id("conflict-value-text").all_inner_texts()
    ] == [
        "renamed on the phone",
        "renamed on the laptop",
    ]
    devices = conflict.get_by_test_id("conflict-device")
    assert devices.nth(0).get_attribute("title") == phone
    expect(devices.nth(1)).to_contain_text("laptop")
    screenshot(page, "desktop-conflicts")

    values.nth(1).get_by_test_id("keep-button").click()
    expect(conflict).to_have_count(0)
    expect(page.get_by_test_id("conflicts-empty")).to_be_visible()
    expect(page.get_by_test_id("conflicts-count")).to_be_hidden()
    stored = daemon.request("GET", f"/accounts/{account['id']}").body
    assert (stored["name"], stored["conflicts"]) == ("renamed on the laptop", [])
    page.get_by_test_id("nav-codes").click()
    expect(r.get_by_test_id("account-name")).to_have_text("renamed on the laptop")
    expect(r.get_by_test_id("conflict-badge")).to_be_hidden()


def test_a_removed_device_says_so_and_starts_a_new_vault_with_its_accounts(
    pages: Pages, daemon: Daemon, tmp_path: Path
) -> None:
    desktop = Daemon(tmp_path / "desktop").start()
    try:
        kept = add(daemon, issuer="Kept here")
        page = pages.open(daemon)
        expect(row(page, kept["id"])).to_be_visible()
        expect(page.get_by_test_id("standing-banner")).to_be_hidden()
        link = invite(daemon, accept=True)["link"]
        join(desktop, link)
        assert final(desktop)["state"] == "joined"
        me = daemon.request("GET", "/status").body["device"]["id"]
        assert desktop.request("POST", f"/devices/{me}/revoke").status == 200

        # The desktop tells this device over the session they share; the page says so.
        banner = page.get_by_test_id("standing-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("This device was removed from the vault by desktop")
        expect(row(page, kept["id"])).to_be_visible()  # still readable here
        screenshot(page, "desktop-removed-banner")
        page.get_by_test_id("new-vault-button").click()
        expect(banner).to_be_hidden()
        expect(row(page, kept["id"]).or_(page.get_by_text("Kept here")).first).to_be_visible()
        status = daemon.request("GET", "/status").body
        assert (status["standing"]["state"], status["members"], status["accounts"]) == (
            "member",
            1,
            1,
        )
    finally:
        desktop.kill()


def test_an_offline_device_shows_when_it_was_last_seen_after_a_restart(
    pages: Pages, daemon: Daemon, tmp_path: Path
) -> None:
    phone = Daemon(tmp_path / "phone").start()
    try:
        join(phone, invite(daemon, accept=True)["link"])
        assert final(phone)["state"] == "joined"
        eventually(
            lambda: any(p["connected"] for p in daemon.request("GET", "/peers").body["peers"])
        )
        phone.kill()  # lost: no goodbye
        eventually(
            lambda: not any(p["connected"] for p in daemon.request("GET", "/peers").body["peers"])
        )
        made = {"issuer": "made while it was gone", "secret": "JBSWY3DPEHPK3PXP"}
        assert daemon.request("POST", "/accounts", made).status == 201
        assert daemon.stop() == 0
        daemon.start()
        page = pages.open(daemon)
        page.get_by_test_id("nav-devices").click()
        lost = device_row(page, "phone")
        expect(lost.get_by_test_id("device-status")).to_have_text("Offline")
        expect(lost.get_by_test_id("device-last-seen")).to_contain_text("last seen")
        expect(lost.get_by_test_id("device-last-seen").locator("time")).to_have_attribute(
            "datetime", re.compile(r"^\d{4}-\d\d-\d\dT")
        )
        expect(lost.get_by_test_id("device-last-sync")).to_contain_text("synced")
        lacks = lost.get_by_test_id("device-lacks")
        expect(lacks).to_have_attribute("data-exact", "false")
        expect(lacks).to_contain_text("about 1 change to send as of")
    finally:
        phone.kill()


def test_a_device_met_only_through_another_shows_when_it_wrote(
    pages: Pages, tmp_path: Path
) -> None:
    """Without mDNS, b and c joined through a never meet: c's page still shows b alive."""
    a, b, c = (Daemon(tmp_path / name, config="mdns = false\n").start() for name in "abc")
    try:
        for newcomer in (b, c):
            join(newcomer, invite(a, accept=True)["link"])
            assert final(newcomer)["state"] == "joined"
        made = {"issuer": "from b", "secret": "JBSWY3DPEHPK3PXP"}
        assert b.request("POST", "/accounts", made).status == 201
        eventually(lambda: any(x["issuer"] == "from b" for x in c.request(
            "GET", "/accounts").body["accounts"]))  # fmt: skip
        page = pages.open(c)
        page.get_by_test_id("nav-devices").click()
        far = device_row(page, "b")
        expect(far.get_by_test_id("device-last-write")).to_contain_text("through others")
        expect(far.get_by_test_id("device-last-seen")).to_have_count(0)
    finally:
        for d in (a, b, c):
            d.kill()
