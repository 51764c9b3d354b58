"""Sign-in in a real Chromium: the redirect file `twofold open` writes, and a printed link.

Chromium sends the redirect file's form from a file:// page as Origin null and
Sec-Fetch-Site cross-site: the daemon must take exactly that, and the page it lands on
must end up at / with the session, the ticket in no URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Request, expect

from tests.browser.conftest import Pages, redirect_file
from tests.integration.daemon import Daemon


def test_the_redirect_file_signs_in_once_and_leaves_no_ticket_in_a_url(
    pages: Pages, daemon: Daemon
) -> None:
    page = pages.open(daemon, sign_in=False)
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.url.startswith("http") else None)
    file = redirect_file(daemon)
    ticket = file.read_text().split('name="ticket" value="')[1].split('"')[0]
    page.goto(file.as_uri())
    expect(page.get_by_test_id("app")).to_be_visible()
    expect(page.get_by_test_id("session-device")).to_have_text("laptop")
    assert page.url == f"http://127.0.0.1:{daemon.port}/"
    posts = [r for r in sent if r.method == "POST" and urlsplit(r.url).path == "/login"]
    assert len(posts) == 1
    assert posts[0].headers["origin"] == "null"
    assert posts[0].post_data == f"ticket={ticket}"
    assert all(ticket not in r.url for r in sent), "the ticket rode in no URL"
    cookie = next(c for c in page.context.cookies() if c["name"] == f"twofold-{daemon.port}")
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")

    again = pages.open(daemon, sign_in=False)
    again.goto(file.as_uri())  # a spent file is worth nothing
    expect(again.get_by_text("This sign-in link cannot be used")).to_be_visible()
    assert not [c for c in again.context.cookies() if c["name"] == f"twofold-{daemon.port}"]


def test_a_printed_link_signs_in_and_leaves_the_address_bar_clean(
    pages: Pages, daemon: Daemon
) -> None:
    link = daemon.request("POST", "/sessions").body["url"]
    ticket = urlsplit(link).fragment.removeprefix("ticket=")
    page = pages.open(daemon, sign_in=False)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url))
    page.goto(link)
    expect(page.get_by_test_id("app")).to_be_visible()
    assert page.url == f"http://127.0.0.1:{daemon.port}/"
    assert sent
    assert all(ticket not in url for url in sent), "the fragment was never sent"
    # The form was sent while /login loaded and the answer refreshed at once: both replaced
    # their history entry, so Back goes to the page before, and no entry holds the ticket.
    page.go_back()
    assert page.url == f"http://127.0.0.1:{daemon.port}/"


def test_the_login_page_alone_redeems_nothing(pages: Pages, daemon: Daemon) -> None:
    link = daemon.request("POST", "/sessions").body["url"]
    ticket = urlsplit(link).fragment.removeprefix("ticket=")
    page = pages.open(daemon, sign_in=False)
    page.goto(f"http://127.0.0.1:{daemon.port}/login?ticket={ticket}")  # the old GET link
    expect(page.get_by_test_id("sign-in-title")).to_have_text("This sign-in link cannot be used")
    assert not page.context.cookies()
    page.goto(link)  # the ticket was not spent by the GET
    expect(page.get_by_test_id("app")).to_be_visible()
