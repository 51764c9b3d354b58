"""The codes page in a real browser: sign-in, codes, copy, add, edit, trash, live edits."""

from __future__ import annotations

import base64
import io
import time

import pyotp
import segno
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.conftest import Pages, screenshot
from tests.browser.helpers import (
    OTHER_SECRET,
    SECRET,
    add,
    drop_file,
    row,
    row_named,
    shown_code,
    totp_near_now,
)
from tests.eventually import eventually
from tests.integration.daemon import Daemon

expect.set_options(timeout=10_000)


def test_without_a_session_the_page_says_how_to_sign_in(pages: Pages, daemon: Daemon) -> None:
    page = pages.open(daemon, sign_in=False)
    signed_out = page.get_by_test_id("signed-out")
    expect(signed_out).to_be_visible()
    expect(signed_out).to_contain_text("Run twofold open in a terminal to sign in")
    expect(page.get_by_test_id("app")).to_have_count(0)
    screenshot(page, "desktop-signed-out")


def test_a_sign_in_link_works_once_and_sign_out_ends_the_session(
    pages: Pages, daemon: Daemon
) -> None:
    link = daemon.request("POST", "/sessions").body["url"]
    page = pages.open(daemon, sign_in=False)
    page.goto(link)
    expect(page.get_by_test_id("app")).to_be_visible()
    expect(page.get_by_test_id("session-device")).to_have_text("laptop")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")

    other = pages.open(daemon, sign_in=False)
    other.goto(link)  # the ticket is spent
    expect(other.get_by_text("This sign-in link cannot be used")).to_be_visible()

    # A session that ends under an open page (here: its cookie is gone) shows the
    # signed-out screen at the next call, and takes the codes off the page.
    account = add(daemon, issuer="GitHub")
    ended = pages.open(daemon)
    expect(row(ended, account["id"])).to_be_visible()
    ended.context.clear_cookies()
    row(ended, account["id"]).get_by_test_id("edit-button").click()
    expect(ended.get_by_test_id("signed-out")).to_be_visible()
    expect(ended.get_by_test_id("code")).to_have_count(0)

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("signed-out")).to_be_visible()


def test_codes_match_pyotp_and_copy_to_the_clipboard(page: Page, daemon: Daemon) -> None:
    github = add(daemon, issuer="GitHub", name="alice@example.com")
    eight = add(daemon, issuer="Example", name="bob", secret=OTHER_SECRET, digits=8)
    r = row(page, github["id"])
    expect(r).to_be_visible()  # came in live: the page was open before the adds
    assert shown_code(r) in totp_near_now(SECRET)
    assert " " in r.get_by_test_id("code").inner_text()  # "123 456"
    assert shown_code(row(page, eight["id"])) in totp_near_now(OTHER_SECRET, digits=8)
    seconds = int(r.get_by_test_id("seconds-left").inner_text())
    assert 1 <= seconds <= 30

    r.get_by_test_id("code").click()
    expect(page.get_by_test_id("toast")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied in totp_near_now(SECRET)

    # Keyboard: focus the code and press Enter.
    page.evaluate("navigator.clipboard.writeText('')")
    row(page, eight["id"]).get_by_test_id("code").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("toast")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") in totp_near_now(OTHER_SECRET, digits=8)


def test_search_filters_as_you_type(page: Page, daemon: Daemon) -> None:
    add(daemon, issuer="GitHub", name="alice")
    add(daemon, issuer="Gitlab", name="bob", secret=OTHER_SECRET)
    add(daemon, issuer="Bank", name="carol")
    expect(page.get_by_test_id("account-row")).to_have_count(3)
    page.keyboard.press("/")
    expect(page.get_by_test_id("search")).to_be_focused()
    page.keyboard.type("git")
    expect(page.locator('[data-testid="account-row"]:visible')).to_have_count(2)
    page.keyboard.type("hub")
    expect(page.locator('[data-testid="account-row"]:visible')).to_have_count(1)
    expect(row_named(page, "GitHub")).to_be_visible()
    page.get_by_test_id("search").fill("carol")  # names too
    expect(page.locator('[data-testid="account-row"]:visible')).to_have_count(1)
    page.get_by_test_id("search").fill("nothing like it")
    expect(page.get_by_test_id("codes-nomatch")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator('[data-testid="account-row"]:visible')).to_have_count(3)


def test_add_by_link_and_by_fields(page: Page, daemon: Daemon) -> None:
    expect(page.get_by_test_id("codes-empty")).to_be_visible()
    screenshot(page, "desktop-empty")
    page.get_by_test_id("add-button").click()
    dialog = page.get_by_test_id("add-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("add-uri").fill("otpauth://totp/nothing?issuer=Broken")
    dialog.get_by_test_id("add-link-submit").click()
    error = dialog.get_by_test_id("add-link-error")
    expect(error).to_be_visible()  # the daemon's detail, shown next to the field
    assert error.inner_text().strip()

    uri = f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&issuer=GitHub"
    dialog.get_by_test_id("add-uri").fill(uri)
    dialog.get_by_test_id("add-uri").press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("toast")).to_contain_text("Added GitHub")
    github = row_named(page, "GitHub")
    expect(github.get_by_test_id("account-name")).to_have_text("alice@example.com")
    assert shown_code(github) in totp_near_now(SECRET)

    page.get_by_test_id("add-button").click()
    dialog.get_by_test_id("add-tab-fields").click()
    dialog.get_by_test_id("add-issuer").fill("Example")
    dialog.get_by_test_id("add-name").fill("bob")
    dialog.get_by_test_id("add-secret").fill("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ")
    dialog.get_by_test_id("add-advanced").click()
    dialog.get_by_test_id("add-algorithm").select_option("SHA256")
    dialog.get_by_test_id("add-digits").fill("8")
    dialog.get_by_test_id("add-period").fill("60")
    dialog.get_by_test_id("add-fields-submit").click()
    expect(dialog).to_be_hidden()
    example = row_named(page, "Example")
    expect(example).to_be_visible()
    totp = pyotp.TOTP(OTHER_SECRET, digits=8, interval=60, digest="sha256")
    now = time.time()
    assert shown_code(example) in {totp.at(now - 60), totp.at(now), totp.at(now + 60)}
    accounts = daemon.request("GET", "/accounts").body["accounts"]
    assert [(a["issuer"], a["algorithm"], a["digits"], a["period"]) for a in accounts] == [
        ("Example", "SHA256", 8, 60),
        ("GitHub", "SHA1", 6, 30),
    ]


def test_hotp_shows_a_next_code_button(page: Page, daemon: Daemon) -> None:
    bank = add(daemon, issuer="Bank", kind="hotp", counter=5)
    r = row(page, bank["id"])
    expect(r.get_by_test_id("next-code")).to_be_visible()
    expect(r.get_by_test_id("code")).to_be_hidden()
    r.get_by_test_id("next-code").click()
    expect(r.get_by_test_id("code")).to_be_visible()
    counter = int(r.get_by_test_id("hotp-counter").inner_text().lstrip("#"))
    assert counter >= 5
    assert shown_code(r) == pyotp.HOTP(SECRET).at(counter)
    assert daemon.request("GET", f"/accounts/{bank['id']}").body["counter"] == counter + 1


def _qr_png(uri: str) -> bytes:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def test_a_qr_image_is_imported_by_file_by_paste_and_by_drop(page: Page, daemon: Daemon) -> None:
    page.get_by_test_id("add-button").click()
    dialog = page.get_by_test_id("add-dialog")
    dialog.get_by_test_id("add-tab-qr").click()
    png = _qr_png(f"otpauth://totp/Dropbox:carol?secret={SECRET}&issuer=Dropbox")
    picture: FilePayload = {"name": "qr.png", "mimeType": "image/png", "buffer": png}
    dialog.get_by_test_id("add-qr-file").set_input_files(files=[picture])
    report = dialog.get_by_test_id("import-report")
    expect(report.get_by_test_id("import-summary")).to_have_text("1 added")
    expect(report.get_by_test_id("import-added")).to_contain_text("Dropbox (carol)")
    screenshot(page, "desktop-import-report")
    report.get_by_test_id("import-done").click()
    dropbox = row_named(page, "Dropbox")
    expect(dropbox).to_be_visible()
    assert shown_code(dropbox) in totp_near_now(SECRET)

    # The same picture again, pasted (Ctrl+V) onto the dialog: skipped, with why.
    page.get_by_test_id("add-button").click()
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "shot.png", { type: "image/png" }));
            const paste = new ClipboardEvent("paste", { clipboardData: data, bubbles: true });
            document.querySelector('[data-testid="add-dialog"]').dispatchEvent(paste);
        }""",
        base64.b64encode(png).decode(),
    )
    expect(report.get_by_test_id("import-summary")).to_have_text("0 added, 1 skipped")
    assert report.get_by_test_id("import-skipped").inner_text().strip()
    screenshot(page, "desktop-import-skipped")
    report.get_by_test_id("import-done").click()
    expect(page.get_by_test_id("account-row")).to_have_count(1)

    # Dropped onto the QR tab: a picture imports; anything else is refused, with why.
    page.get_by_test_id("add-button").click()
    page.get_by_test_id("add-tab-qr").click()
    drop_file(page, "add-dropzone", "notes.txt", b"not a picture", "text/plain")
    expect(page.get_by_test_id("add-qr-error")).to_have_text("Drop an image file (PNG, JPEG, …).")
    drop_file(page, "add-dropzone", "shot.png", png, "image/png")
    expect(report.get_by_test_id("import-summary")).to_have_text("0 added, 1 skipped")


def test_edit_then_delete_undo_and_restore_from_the_trash(page: Page, daemon: Daemon) -> None:
    github = add(daemon, issuer="GitHub", name="alice")
    r = row(page, github["id"])
    r.get_by_test_id("edit-button").click()
    dialog = page.get_by_test_id("edit-dialog")
    expect(dialog.get_by_test_id("edit-issuer")).to_have_value("GitHub")
    dialog.get_by_test_id("edit-name").fill("alice@work")
    dialog.get_by_test_id("edit-note").fill("recovery codes in the safe")
    dialog.get_by_test_id("edit-save").click()
    expect(dialog).to_be_hidden()
    expect(r.get_by_test_id("account-name")).to_have_text("alice@work")
    stored = daemon.request("GET", f"/accounts/{github['id']}").body
    assert (stored["name"], stored["note"]) == ("alice@work", "recovery codes in the safe")

    r.get_by_test_id("edit-button").click()
    dialog.get_by_test_id("edit-delete").click()
    expect(r).to_have_count(0)
    expect(page.get_by_test_id("toast")).to_contain_text("to the trash")
    assert daemon.request("GET", f"/accounts/{github['id']}").body["deleted"] is True
    page.get_by_test_id("toast-action").click()  # Undo
    expect(r).to_be_visible()
    assert daemon.request("GET", f"/accounts/{github['id']}").body["deleted"] is False

    r.get_by_test_id("edit-button").click()
    dialog.get_by_test_id("edit-delete").click()
    expect(r).to_have_count(0)
    page.get_by_test_id("nav-trash").click()
    trashed = page.locator(f'[data-testid="trash-row"][data-account-id="{github["id"]}"]')
    expect(trashed).to_contain_text("GitHub")
    expect(page.get_by_test_id("trash-count")).to_have_text("1")
    trashed.get_by_test_id("restore-button").click()
    expect(trashed).to_have_count(0)
    expect(page.get_by_test_id("trash-empty")).to_be_visible()
    page.get_by_test_id("nav-codes").click()
    expect(r).to_be_visible()


def test_changes_made_elsewhere_show_without_a_reload(page: Page, daemon: Daemon) -> None:
    github = add(daemon, issuer="GitHub", name="alice")
    r = row(page, github["id"])
    expect(r).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    daemon.request("PATCH", f"/accounts/{github['id']}", {"name": "renamed by the CLI"})
    expect(r.get_by_test_id("account-name")).to_have_text("renamed by the CLI")
    daemon.request("DELETE", f"/accounts/{github['id']}")
    expect(r).to_have_count(0)
    expect(page.get_by_test_id("trash-count")).to_have_text("1")
    daemon.request("POST", f"/accounts/{github['id']}/restore")
    expect(r).to_be_visible()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert eventually(lambda: shown_code(r) in totp_near_now(SECRET))
