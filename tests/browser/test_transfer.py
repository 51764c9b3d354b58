"""The Backup view in a real browser: another app's file in, an export out, a backup out
and back in, each through a real daemon."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Download, FilePayload, Page, Request, expect

from tests.browser.conftest import DESKTOP, PHONE, Pages, screenshot
from tests.browser.helpers import OTHER_SECRET, SECRET, add, drop_file
from tests.integration.daemon import Daemon
from tests.unit.formats.test_aegis import PASSWORD, content, dump, entry, sealed_vault
from twofold.protocol.formats import qr_image

expect.set_options(timeout=15_000)

PASSPHRASE = "a long backup passphrase"


def aegis_file() -> FilePayload:
    """An encrypted Aegis export of two accounts, sealed as Aegis seals it."""
    vault = sealed_vault(
        content(
            entry("totp", "alice@example.com", "Mastodon", {"secret": SECRET, "algo": "SHA1",
                  "digits": 6, "period": 30}),
            entry("hotp", "bob", "Bank", {"secret": OTHER_SECRET, "algo": "SHA1", "digits": 6,
                  "counter": 3}),
        )
    )  # fmt: skip
    return {"name": "aegis-export.json", "mimeType": "application/json", "buffer": dump(vault)}


def issuers(d: Daemon) -> list[str]:
    return sorted(a["issuer"] for a in d.request("GET", "/accounts").body["accounts"])


def fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 375"))


def backup_view(page: Page) -> None:
    page.get_by_test_id("nav-backup").click()
    expect(page.get_by_test_id("view-backup")).to_be_visible()
    expect(page).to_have_title("Backup · Twofold")


def read(download: Download) -> bytes:
    return Path(download.path()).read_bytes()


def make_backup(page: Page, passphrase: str | None) -> bytes:
    """Make a backup from the page (with a recovery key when passphrase is None)."""
    card = page.get_by_test_id("backup-card")
    if passphrase is None:
        card.get_by_test_id("backup-with-key").check()
    else:
        card.get_by_test_id("backup-with-passphrase").check()
        card.get_by_test_id("backup-passphrase").fill(passphrase)
        card.get_by_test_id("backup-again").fill(passphrase)
    with page.expect_download() as made:
        card.get_by_test_id("backup-submit").click()
    assert made.value.suggested_filename.startswith("twofold-")
    assert made.value.suggested_filename.endswith(".tfbackup")
    expect(card.get_by_test_id("backup-done")).to_be_visible()
    return read(made.value)


def restore(page: Page, data: bytes, secret: str) -> None:
    card = page.get_by_test_id("restore-card")
    card.get_by_test_id("restore-file").set_input_files(
        {"name": "vault.tfbackup", "mimeType": "application/octet-stream", "buffer": data}
    )
    expect(card.get_by_test_id("restore-file-name")).to_have_text("vault.tfbackup")
    card.get_by_test_id("restore-secret").fill(secret)
    card.get_by_test_id("restore-submit").click()


def test_an_encrypted_aegis_export_asks_for_its_password_then_imports_each_entry(
    page: Page, daemon: Daemon
) -> None:
    backup_view(page)
    screenshot(page, "desktop-backup-view")
    card = page.get_by_test_id("import-card")
    card.get_by_test_id("import-file").set_input_files(aegis_file())
    form = card.get_by_test_id("import-password-form")
    expect(form.get_by_label("Password of aegis-export.json")).to_be_focused()
    screenshot(page, "desktop-import-password")

    form.get_by_label("Password of aegis-export.json").fill("not the password")
    form.get_by_test_id("import-password-submit").click()
    expect(form.get_by_test_id("import-password-error")).to_have_text(
        "That password does not open aegis-export.json. Check it and try again."
    )
    expect(form.get_by_test_id("import-password-input")).to_have_value("")
    assert issuers(daemon) == []

    form.get_by_test_id("import-password-input").fill(PASSWORD)  # no new file chosen
    form.get_by_test_id("import-password-submit").click()
    report = card.get_by_test_id("import-file-report")
    expect(report.get_by_test_id("import-summary")).to_have_text("2 added")
    expect(report.get_by_test_id("import-entry")).to_have_text(
        ["Mastodon (alice@example.com)", "Bank (bob)"]
    )
    expect(report).to_be_focused()
    expect(card.get_by_test_id("import-password-form")).to_have_count(0)
    assert issuers(daemon) == ["Bank", "Mastodon"]
    screenshot(page, "desktop-import-report")

    page.get_by_test_id("nav-codes").click()
    expect(page.get_by_test_id("account-row")).to_have_count(2)

    # A file dropped onto the card imports as a chosen one does.
    backup_view(page)
    uri = f"otpauth://totp/Dropped:carol?secret={SECRET}&issuer=Dropped\n"
    drop_file(page, "import-dropzone", "links.txt", uri.encode(), "text/plain")
    expect(report.get_by_test_id("import-summary")).to_have_text("1 added")
    assert issuers(daemon) == ["Bank", "Dropped", "Mastodon"]


def test_export_warns_first_and_downloads_the_file(page: Page, daemon: Daemon) -> None:
    add(daemon, issuer="GitHub", name="alice@example.com")
    add(daemon, issuer="Legacy", name="md5", secret=OTHER_SECRET, algorithm="MD5")
    backup_view(page)
    card = page.get_by_test_id("export-card")
    downloads: list[Download] = []
    exports: list[Request] = []
    page.on("download", lambda d: downloads.append(d))
    page.on("request", lambda r: exports.append(r) if r.url.endswith("/export") else None)

    card.get_by_test_id("export-submit").click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_contain_text("This shows every secret in plain text")
    screenshot(page, "desktop-export-warning")
    confirm.get_by_test_id("confirm-cancel").click()
    expect(confirm).to_be_hidden()
    page.wait_for_timeout(300)
    assert (downloads, exports) == ([], [])
    expect(card.get_by_test_id("export-result")).to_be_hidden()

    with page.expect_download() as got:
        card.get_by_test_id("export-submit").click()
        confirm.get_by_test_id("confirm-ok").click()
    assert got.value.suggested_filename.startswith("twofold-export-")
    assert got.value.suggested_filename.endswith(".txt")
    text = read(got.value).decode()
    assert f"otpauth://totp/GitHub:alice@example.com?secret={SECRET}&" in text
    assert text == daemon.request("POST", "/export", {"format": "otpauth"}).body["content"]
    done = card.get_by_test_id("export-done")
    expect(done).to_contain_text("Wrote 2 accounts to twofold-export-")
    expect(card.get_by_test_id("export-result")).to_be_focused()

    card.get_by_test_id("export-format").select_option("aegis")
    with page.expect_download() as got:
        card.get_by_test_id("export-submit").click()
        confirm.get_by_test_id("confirm-ok").click()
    assert got.value.suggested_filename.endswith(".json")
    assert b'"GitHub"' in read(got.value)
    expect(card.get_by_test_id("export-done")).to_contain_text("Wrote 1 account to")
    expect(card.get_by_test_id("export-left-out-entry")).to_contain_text("Legacy (md5)")
    screenshot(page, "desktop-export-done")


def export_qr(page: Page) -> None:
    card = page.get_by_test_id("export-card")
    card.get_by_test_id("export-format").select_option("qr")
    card.get_by_test_id("export-submit").click()
    confirm = page.get_by_test_id("confirm-dialog")
    expect(confirm).to_contain_text("This shows every secret in plain text")
    confirm.get_by_test_id("confirm-ok").click()


def test_export_as_qr_codes_shows_one_code_at_a_time_then_done_takes_them_away(
    pages: Pages, daemon: Daemon
) -> None:
    add(daemon, issuer="GitHub", name="alice@example.com")
    add(daemon, issuer="Amazon Web Services", name="root-account-of-a-long-company@example.com",
        secret=OTHER_SECRET)  # fmt: skip
    uris = daemon.request("POST", "/export", {"format": "otpauth"}).body["content"].splitlines()
    labels = daemon.request("POST", "/export", {"format": "otpauth", "qr": True}).body["labels"]
    assert len(uris) == len(labels) == 2
    for viewport, name in ((DESKTOP, "desktop-export-qr"), (PHONE, "phone-export-qr")):
        page = pages.open(daemon, viewport=viewport)
        downloads: list[Download] = []
        page.on("download", lambda d, got=downloads: got.append(d))
        backup_view(page)
        export_qr(page)
        viewer = page.get_by_test_id("export-qr")
        expect(viewer).to_be_visible()
        expect(viewer.get_by_test_id("export-qr-position")).to_have_text("1 of 2")
        expect(viewer.get_by_test_id("export-qr-label")).to_have_text(labels[0])
        expect(viewer.get_by_test_id("export-qr-previous")).to_be_disabled()
        code = viewer.get_by_test_id("export-qr-code")
        box = code.bounding_box()
        assert box is not None
        assert box["width"] >= 200, box
        assert qr_image.read_texts(code.screenshot()) == [uris[0]]
        if viewport is PHONE:
            assert fits(page)
        screenshot(page, name)

        viewer.get_by_test_id("export-qr-next").click()
        expect(viewer.get_by_test_id("export-qr-position")).to_have_text("2 of 2")
        expect(viewer.get_by_test_id("export-qr-label")).to_have_text(labels[1])
        expect(viewer.get_by_test_id("export-qr-next")).to_be_disabled()
        assert qr_image.read_texts(code.screenshot()) == [uris[1]]
        viewer.get_by_test_id("export-qr-previous").click()
        expect(viewer.get_by_test_id("export-qr-position")).to_have_text("1 of 2")

        viewer.get_by_test_id("export-qr-done").click()
        expect(page.get_by_test_id("export-qr")).to_have_count(0)
        expect(page.get_by_test_id("export-result")).to_be_hidden()
        assert page.locator("#export-result svg").count() == 0
        assert downloads == []

    export_qr(page)  # sign-out takes the codes away too
    expect(page.get_by_test_id("export-qr")).to_be_visible()
    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    assert page.get_by_test_id("export-qr").count() == 0
    assert labels[0] not in page.content()
    assert page.locator(".export-qr-code").count() == 0


def test_a_passphrase_backup_restores_on_a_fresh_daemon_and_merges_at_home(
    pages: Pages, daemon: Daemon, tmp_path: Path
) -> None:
    add(daemon, issuer="GitHub", name="alice@example.com")
    add(daemon, issuer="Example", name="bob", secret=OTHER_SECRET)
    page = pages.open(daemon)
    backup_view(page)
    card = page.get_by_test_id("backup-card")
    downloads: list[Download] = []
    page.on("download", lambda d: downloads.append(d))

    card.get_by_test_id("backup-passphrase").fill("too short")
    expect(card.get_by_test_id("backup-check")).to_have_text(
        "Too short: 1 more character (at least 10)."
    )
    card.get_by_test_id("backup-submit").click()
    expect(card.get_by_test_id("backup-error")).to_have_text(
        "Too short: 1 more character (at least 10)."
    )
    card.get_by_test_id("backup-passphrase").fill(PASSPHRASE)
    card.get_by_test_id("backup-again").fill(PASSPHRASE + "!")
    check = card.get_by_test_id("backup-check")
    expect(check).to_have_text("The two passphrases are not the same.")
    card.get_by_test_id("backup-submit").click()
    expect(card.get_by_test_id("backup-error")).to_contain_text("not the same")
    screenshot(page, "desktop-backup-mismatch")
    assert downloads == []

    data = make_backup(page, PASSPHRASE)
    assert downloads != []
    expect(card.get_by_test_id("backup-passphrase")).to_have_value("")
    screenshot(page, "desktop-backup-done")

    fresh = Daemon(tmp_path / "desktop").start()
    try:
        there = pages.open(fresh)
        backup_view(there)
        restore(there, data, "wrong horse battery")
        restore_card = there.get_by_test_id("restore-card")
        expect(restore_card.get_by_test_id("restore-error")).to_have_text(
            "That passphrase or recovery key does not open vault.tfbackup. Check it and try again."
        )
        expect(restore_card.get_by_test_id("restore-secret")).to_be_focused()
        screenshot(there, "desktop-restore-wrong")
        assert issuers(fresh) == []
        restore(there, data, PASSPHRASE)
        report = restore_card.get_by_test_id("restore-report")
        expect(report.get_by_test_id("import-summary")).to_have_text("2 added")
        expect(report).to_be_focused()
        assert issuers(fresh) == ["Example", "GitHub"]
        screenshot(there, "desktop-restore-report")
    finally:
        fresh.kill()

    restore(page, data, PASSPHRASE)  # home: everything is there already
    report = page.get_by_test_id("restore-report")
    expect(report.get_by_test_id("import-summary")).to_have_text("0 added, 2 already there")
    expect(report.get_by_test_id("import-skipped")).to_contain_text("Already there")
    assert issuers(daemon) == ["Example", "GitHub"]


def test_a_recovery_key_is_shown_once_and_opens_the_backup(page: Page, daemon: Daemon) -> None:
    add(daemon, issuer="GitHub", name="alice@example.com")
    backup_view(page)
    data = make_backup(page, None)
    box = page.get_by_test_id("recovery-key-box")
    expect(box).to_be_focused()
    expect(box).to_contain_text(
        "Write it down and keep it apart from the file. It is shown only now, "
        "and nothing else opens the backup."
    )
    key = box.get_by_test_id("recovery-key").inner_text()
    assert len(key.replace("-", "").replace(" ", "")) == 32, key
    box.get_by_test_id("recovery-key-copy").click()
    expect(page.get_by_test_id("toast")).to_contain_text("Recovery key copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    screenshot(page, "desktop-recovery-key")
    box.get_by_test_id("recovery-key-done").click()
    expect(page.get_by_test_id("recovery-key-box")).to_have_count(0)
    assert key not in page.content()

    restore(page, data, key.lower())
    report = page.get_by_test_id("restore-report")
    expect(report.get_by_test_id("import-summary")).to_have_text("0 added, 1 already there")


def test_the_backup_view_fits_a_phone_and_forgets_the_key_on_sign_out(
    pages: Pages, daemon: Daemon
) -> None:
    add(daemon, issuer="Amazon Web Services", name="root-account-of-a-long-company@example.com")
    page = pages.open(daemon, viewport=PHONE)
    backup_view(page)
    assert fits(page)
    screenshot(page, "phone-backup-view")

    page.get_by_test_id("import-file").set_input_files(aegis_file())
    expect(page.get_by_test_id("import-password-input")).to_be_focused()
    page.get_by_test_id("import-password-submit").click()  # nothing typed: said at once
    expect(page.get_by_test_id("import-password-error")).to_be_visible()
    assert fits(page)
    screenshot(page, "phone-import-password")
    page.get_by_test_id("import-password-input").fill(PASSWORD)
    page.get_by_test_id("import-password-submit").click()
    expect(page.get_by_test_id("import-file-report")).to_be_visible()
    assert fits(page)
    screenshot(page, "phone-import-report")

    page.get_by_test_id("backup-passphrase").fill("short")
    page.get_by_test_id("backup-submit").click()
    expect(page.get_by_test_id("backup-error")).to_be_visible()
    assert fits(page)
    screenshot(page, "phone-backup-error")

    make_backup(page, None)
    box = page.get_by_test_id("recovery-key-box")
    expect(box).to_be_focused()
    assert fits(page)
    screenshot(page, "phone-recovery-key")
    key = box.get_by_test_id("recovery-key").inner_text()

    page.get_by_test_id("restore-submit").click()  # no file chosen
    expect(page.get_by_test_id("restore-error")).to_have_text(
        "Choose the backup file (.tfbackup) first."
    )
    assert fits(page)
    screenshot(page, "phone-restore")

    page.get_by_test_id("sign-out").click()
    expect(page.get_by_test_id("signed-out")).to_be_visible()
    assert key not in page.content()
    assert page.get_by_test_id("view-backup").count() == 0
