"""The add screen and an account the vault holds already: said plainly, added only if asked."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.helpers import SECRET, add
from tests.integration.daemon import Daemon

expect.set_options(timeout=10_000)


def named(d: Daemon, name: str) -> list[dict[str, object]]:
    return [a for a in d.request("GET", "/accounts").body["accounts"] if a["name"] == name]


def test_a_link_already_in_the_vault_says_where_and_can_be_added_anyway(
    page: Page, daemon: Daemon
) -> None:
    first = add(daemon, issuer="GitHub", name="alice")
    page.get_by_test_id("add-button").click()
    dialog = page.get_by_test_id("add-dialog")
    dialog.get_by_test_id("add-uri").fill(
        f"otpauth://totp/GitHub:alice?secret={SECRET.lower()}&issuer=GitHub"
    )
    dialog.get_by_test_id("add-link-submit").click()
    error = dialog.get_by_test_id("add-link-error")
    expect(error).to_contain_text(f"Already in the vault as GitHub (alice), ID {first['id'][:8]}")
    expect(dialog).to_be_visible()
    assert len(named(daemon, "alice")) == 1

    dialog.get_by_test_id("add-anyway").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_contain_text("Added GitHub")
    assert len(named(daemon, "alice")) == 2


def test_fields_of_an_account_in_the_trash_say_so(page: Page, daemon: Daemon) -> None:
    gone = add(daemon, issuer="Bank", name="carol")
    daemon.request("DELETE", f"/accounts/{gone['id']}")
    page.get_by_test_id("add-button").click()
    dialog = page.get_by_test_id("add-dialog")
    dialog.get_by_test_id("add-tab-fields").click()
    dialog.get_by_test_id("add-issuer").fill("Bank")
    dialog.get_by_test_id("add-name").fill("carol")
    dialog.get_by_test_id("add-secret").fill(" ".join(SECRET[i : i + 4] for i in range(0, 32, 4)))
    dialog.get_by_test_id("add-fields-submit").click()
    error = dialog.get_by_test_id("add-fields-error")
    expect(error).to_contain_text("Already in the trash as Bank (carol)")
    expect(error).to_contain_text("Restore it from the trash")
    expect(dialog.get_by_test_id("add-anyway")).to_be_visible()
    assert named(daemon, "carol") == []
