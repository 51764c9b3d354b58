"""`twofold open`: the browser is given a file:// URL that holds no secret; the ticket waits in a
0600 redirect file, which posts it to the daemon in a form body."""

from __future__ import annotations

import os
import stat
import time
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from twofold.clients.cli import browser
from twofold.clients.cli.commands import UserError

from .cli_runner import run
from .test_sdk_fakedaemon import FakeDaemon

TICKET = "Zm9vYmFyYmF6cXV4LXF1dXotY29yZ2UtZ3JhdWx0LWdhcnBseQ"
WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_the_link_splits_into_the_form_target_and_the_ticket() -> None:
    url = f"http://127.0.0.1:4242/login#ticket={TICKET}"
    assert browser.split_link(url) == ("http://127.0.0.1:4242/login", TICKET)
    for bad in [
        f"http://127.0.0.1:4242/login?ticket={TICKET}",  # the old GET link
        f"https://127.0.0.1:4242/login#ticket={TICKET}",
        f"http://127.0.0.1:4242/elsewhere#ticket={TICKET}",
        "http://127.0.0.1:4242/login#ticket=",
        'http://127.0.0.1:4242/login#ticket="><script>',
        f"http://127.0.0.1:4242/login?x=1#ticket={TICKET}",
    ]:
        with pytest.raises(UserError):
            browser.split_link(bad)


def test_the_redirect_file_is_private_new_and_named_without_the_ticket(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    page = browser.write_redirect_file(home, "http://127.0.0.1:4242/login", TICKET, WHEN)
    assert page.parent == home / browser.SIGN_IN_DIR
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert stat.S_IMODE(page.parent.stat().st_mode) == 0o700
    assert TICKET not in page.as_uri()
    text = page.read_text()
    assert '<form id="sign-in" method="post" action="http://127.0.0.1:4242/login">' in text
    assert f'<input type="hidden" name="ticket" value="{TICKET}">' in text
    assert 'document.getElementById("sign-in").submit();' in text
    again = browser.write_redirect_file(home, "http://127.0.0.1:4242/login", TICKET, WHEN)
    assert again != page, "each run writes a file of its own"


def test_spent_redirect_files_are_deleted_by_the_next_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    old = browser.write_redirect_file(home, "http://127.0.0.1:1/login", TICKET, WHEN)
    fresh = browser.write_redirect_file(home, "http://127.0.0.1:1/login", TICKET, WHEN)
    past = time.time() - browser.STALE_S - 1
    os.utime(old, (past, past))
    browser.write_redirect_file(home, "http://127.0.0.1:1/login", TICKET, WHEN)
    assert not old.exists()
    assert fresh.exists()


def test_a_sign_in_folder_that_is_not_a_private_folder_is_fixed_or_refused(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / browser.SIGN_IN_DIR).mkdir()
    os.chmod(home / browser.SIGN_IN_DIR, 0o755)  # noqa: S103 - the unsafe folder under test
    browser.write_redirect_file(home, "http://127.0.0.1:1/login", TICKET, WHEN)
    assert stat.S_IMODE((home / browser.SIGN_IN_DIR).stat().st_mode) == 0o700
    other = tmp_path / "other"
    other.mkdir()
    (other / browser.SIGN_IN_DIR).symlink_to(tmp_path)
    with pytest.raises(UserError, match="not a folder of yours"):
        browser.write_redirect_file(other, "http://127.0.0.1:1/login", TICKET, WHEN)


def test_open_hands_the_browser_only_the_file(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    code, out, err = run(fake, capsys, "open")
    assert (code, out) == (0, "Opened Twofold in your browser.\n")
    assert "twofold open --print" in err
    [url] = opened
    page = Path(unquote(urlsplit(url).path))
    assert page.parent == fake.home / browser.SIGN_IN_DIR
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert f'action="http://127.0.0.1:{fake.port}/login"' in page.read_text()
    assert "ticket" not in url
    assert "ticket" not in out


def test_without_a_browser_open_prints_the_link_and_leaves_no_file(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    code, out, _ = run(fake, capsys, "open")
    assert code == 0
    assert f"http://127.0.0.1:{fake.port}/login#ticket=" in out
    assert "Whoever can read this terminal can use it" in out
    assert list((fake.home / browser.SIGN_IN_DIR).iterdir()) == []
