"""Joining a vault from the page: by camera (Chromium's fake camera films the member's QR
code), by a picture of the code, and confirming on both sides; real daemons end to end."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Playwright, expect

from tests.browser.conftest import CHROMIUM, FLAGS, PHONE, Pages, Watch, screenshot
from tests.eventually import eventually
from tests.integration.daemon import Daemon
from tests.integration.test_pairing import invite, issuers

WIDTH, HEIGHT = 640, 480


def camera_film(qr_png: bytes, path: Path) -> Path:
    """A Y4M film of a QR code on white, as Chromium's fake camera plays it (in a loop)."""
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    code = Image.open(io.BytesIO(qr_png)).convert("L").resize((300, 300), Image.NEAREST)
    frame.paste(code, ((WIDTH - 300) // 2, (HEIGHT - 300) // 2))
    chroma = bytes([128]) * (WIDTH // 2) * (HEIGHT // 2)  # grey: no colour
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"".join(b"FRAME\n" + frame.tobytes() + chroma * 2 for _ in range(3)))
    return path


@pytest.fixture(scope="module")
def camera_browser_of(playwright: Playwright) -> Iterator[list[Browser]]:
    """Browsers launched with a fake camera, closed at the end of the module."""
    launched: list[Browser] = []
    yield launched
    for b in launched:
        b.close()


def test_a_new_device_joins_by_holding_the_code_up_to_its_camera(
    two: tuple[Daemon, Daemon],
    tmp_path: Path,
    playwright: Playwright,
    camera_browser_of: list[Browser],
) -> None:
    member, newcomer = two
    shown = invite(member)
    film = camera_film(base64.b64decode(shown["qr_png"]), tmp_path / "qr.y4m")
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *FLAGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={film}",
        ],
    )
    camera_browser_of.append(browser)
    watch = Watch()
    pages = Pages(browser, watch)
    try:
        page = pages.open(newcomer)
        page.context.grant_permissions(["camera"], origin=f"http://127.0.0.1:{newcomer.port}")
        page.get_by_test_id("nav-devices").click()
        page.get_by_test_id("join-scan").click()
        expect(page.get_by_test_id("join-video")).to_be_visible()
        code = page.get_by_test_id("join-code")
        expect(code).to_be_visible(timeout=20_000)
        expect(code).to_be_focused()
        status = page.get_by_test_id("join-status")
        expect(status).to_contain_text("Joining the vault of laptop")
        expect(status).to_contain_text("whose only device is laptop")
        expect(page.get_by_test_id("join-camera")).to_be_hidden()  # the camera is off again
        peer = eventually(lambda: member.request("GET", f"/invitations/{shown['id']}").body["peer"])
        assert code.inner_text().replace(" ", "") == peer["code"].replace(" ", "")
        screenshot(page, "desktop-join-confirm")

        # Nothing of the desktop's is sent until its person says yes here.
        assert member.request("POST", f"/invitations/{shown['id']}/accept").status == 200
        assert "Brought along" not in issuers(member)
        page.get_by_test_id("join-accept").click()
        expect(page.get_by_test_id("join-state")).to_have_attribute(
            "data-state", "joined", timeout=20_000
        )
        both = ["Brought along", "GitHub"]
        assert eventually(lambda: issuers(member) == both)
        assert eventually(lambda: issuers(newcomer) == both)
        page.get_by_test_id("nav-codes").click()
        expect(page.get_by_test_id("account-issuer")).to_have_count(2)  # the page follows
    finally:
        pages.close()
    assert watch.problems == []


def test_a_picture_of_the_code_joins_too_and_declining_sends_nothing(
    two: tuple[Daemon, Daemon], pages: Pages, tmp_path: Path
) -> None:
    member, newcomer = two
    shown = invite(member, accept=True)
    picture = tmp_path / "screenshot-of-the-code.png"
    picture.write_bytes(base64.b64decode(shown["qr_png"]))
    page = pages.open(newcomer, viewport=PHONE)
    page.get_by_test_id("nav-devices").click()
    page.get_by_test_id("join-file").set_input_files(str(picture))
    expect(page.get_by_test_id("join-code")).to_be_visible(timeout=20_000)
    screenshot(page, "phone-join-confirm")
    page.get_by_test_id("join-decline").click()
    expect(page.get_by_test_id("join-status")).to_contain_text("Declined: nothing was sent.")
    assert eventually(
        lambda: member.request("GET", f"/invitations/{shown['id']}").body["state"] == "declined"
    )
    assert member.request("GET", "/status").body["members"] == 1
    assert "Brought along" not in issuers(member)


def test_a_picture_without_a_pairing_code_says_what_it_is(
    two: tuple[Daemon, Daemon], pages: Pages, tmp_path: Path
) -> None:
    _, newcomer = two
    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    page = pages.open(newcomer)
    page.get_by_test_id("nav-devices").click()
    page.get_by_test_id("join-file").set_input_files(str(blank))
    expect(page.get_by_test_id("join-error")).to_contain_text("No QR code was found")
