"""One-time sign-in tickets and browser sessions, on a clock the test moves."""

from __future__ import annotations

from tests.clock import Clock
from twofold.daemon.web_sessions import (
    LOGIN_PATH,
    MAX_SESSIONS,
    MAX_TICKETS,
    SESSION_TTL_S,
    TICKET_TTL_S,
    Sessions,
    is_sign_in_from_file,
)


def test_a_ticket_is_good_once_and_within_its_minute() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    ticket, ttl = sessions.ticket()
    assert ttl == TICKET_TTL_S
    redeemed = sessions.redeem(ticket)
    assert redeemed is not None
    assert sessions.redeem(ticket) is None
    late, _ = sessions.ticket()
    clock.now += TICKET_TTL_S
    assert sessions.redeem(late) is None
    assert sessions.redeem("") is None


def test_a_session_lasts_its_time_and_ends_when_asked() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    cookie, session = sessions.redeem(sessions.ticket()[0]) or ("", None)
    assert sessions.find(cookie) is session
    assert sessions.find(cookie + "x") is None
    assert sessions.find(None) is None
    clock.now += SESSION_TTL_S - 1
    assert sessions.find(cookie) is session
    clock.now += 1
    assert sessions.find(cookie) is None
    cookie, session = sessions.redeem(sessions.ticket()[0]) or ("", None)
    sessions.end(cookie)
    assert sessions.find(cookie) is None


def test_the_csrf_token_is_compared_whole() -> None:
    sessions = Sessions(Clock())
    _, session = sessions.redeem(sessions.ticket()[0]) or ("", None)
    assert session is not None
    assert session.csrf_ok(session.csrf)
    assert not session.csrf_ok(session.csrf[:-1])
    assert not session.csrf_ok(None)
    assert not session.csrf_ok("")


def test_tickets_and_sessions_are_bounded_oldest_first() -> None:
    sessions = Sessions(Clock())
    tickets = [sessions.ticket()[0] for _ in range(MAX_TICKETS + 1)]
    assert sessions.redeem(tickets[0]) is None
    first, _ = sessions.redeem(tickets[-1]) or ("", None)
    cookies = [
        (sessions.redeem(sessions.ticket()[0]) or ("", None))[0] for _ in range(MAX_SESSIONS)
    ]
    assert sessions.find(first) is None
    assert all(sessions.find(cookie) is not None for cookie in cookies)


# What Chromium sends for the redirect file's form (a file:// page posting to the daemon).
FROM_FILE = {
    "Origin": "null",
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


def test_only_the_redirect_files_form_passes_as_a_null_origin() -> None:
    assert is_sign_in_from_file("POST", LOGIN_PATH, FROM_FILE)
    assert is_sign_in_from_file("POST", LOGIN_PATH, {"Origin": "null"}), "no Sec-Fetch-*"
    assert is_sign_in_from_file("POST", LOGIN_PATH, FROM_FILE | {"Sec-Fetch-Site": "none"})
    for method, path in [("GET", LOGIN_PATH), ("POST", "/"), ("POST", "/login/"),
                         ("POST", "/api/v1/accounts"), ("PUT", LOGIN_PATH)]:  # fmt: skip
        assert not is_sign_in_from_file(method, path, FROM_FILE), (method, path)
    for change in [
        {"Origin": "http://evil.example"},
        {"Origin": "file://"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Mode": "cors"},  # fetch() from a sandboxed frame
        {"Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Dest": "iframe"},  # a form aimed into a frame
    ]:
        assert not is_sign_in_from_file("POST", LOGIN_PATH, FROM_FILE | change), change
    assert not is_sign_in_from_file("POST", LOGIN_PATH, {})
