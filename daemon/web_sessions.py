"""Browser sign-in: one-time tickets traded for a session cookie, and each session's CSRF token.

The API token never reaches the browser, and the ticket never appears in a
URL or in any process's arguments. `twofold open` (holding the token) asks
for a ticket and writes it into a 0600 redirect file in the home, then opens
the browser on that file (its file:// URL holds no secret). The file's form
POSTs the ticket in its body to /login; the daemon trades it, once and within
a minute, for an HttpOnly, SameSite=Strict cookie. A GET never redeems
anything. `twofold open --print` gives the person a link whose ticket rides in
the fragment (never sent in a request line): the page at /login reads it and
POSTs it the same way, from its own origin.

A form POST from a file:// page carries `Origin: null` and
`Sec-Fetch-Site: cross-site`, which the API's guard otherwise refuses; it
admits exactly that request (`is_sign_in_from_file`): a top-level form
navigation posting to /login, which can do nothing but spend a ticket. A
null Origin proves nothing about who sent it (a sandboxed frame sends it too),
so what keeps a stolen ticket from mattering is that no one else can read it:
it lives only in the daemon's memory, the 0600 file and the browser, works
once, and dies after a minute.

Writes from the page must also carry the session's CSRF token in a header,
which only a page of this origin can read (from GET /api/v1/session: no CORS
is ever granted). Sessions live in memory: a daemon restart signs every
browser out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

TICKET_TTL_S: Final = 60.0
SESSION_TTL_S: Final = 12 * 3600.0
MAX_TICKETS: Final = 16
MAX_SESSIONS: Final = 32
COOKIE_PREFIX: Final = "twofold-"
LOGIN_PATH: Final = "/login"
FORM_TYPE: Final = "application/x-www-form-urlencoded"


@dataclass
class Session:
    """One signed-in browser."""

    csrf: str = field(repr=False)
    created: float
    expires: float

    def csrf_ok(self, given: str | None) -> bool:
        # A header's bytes that are not UTF-8 arrive as lone surrogates: surrogatepass
        # encodes them (one to one) where a plain encode() would raise.
        return given is not None and hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), self.csrf.encode()
        )


class Sessions:
    """Tickets and sessions, found by the hash of their secret so lookups leak no timing."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._tickets: dict[bytes, float] = {}
        self._sessions: dict[bytes, Session] = {}

    def ticket(self) -> tuple[str, float]:
        """A new one-time ticket and how many seconds it stays good."""
        self._expire()
        while len(self._tickets) >= MAX_TICKETS:
            del self._tickets[next(iter(self._tickets))]
        ticket = secrets.token_urlsafe(32)
        self._tickets[_key(ticket)] = self._now() + TICKET_TTL_S
        return ticket, TICKET_TTL_S

    def redeem(self, ticket: str) -> tuple[str, Session] | None:
        """Trade a ticket for a session (its cookie value and record); None if it is spent,
        expired or was never given. A ticket works once, even if the trade is replayed."""
        self._expire()
        if self._tickets.pop(_key(ticket), None) is None:
            return None
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        cookie = secrets.token_urlsafe(32)
        now = self._now()
        session = Session(secrets.token_urlsafe(32), now, now + SESSION_TTL_S)
        self._sessions[_key(cookie)] = session
        return cookie, session

    def find(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        session = self._sessions.get(_key(cookie))
        if session is None or session.expires <= self._now():
            return None
        return session

    def end(self, cookie: str | None) -> None:
        if cookie:
            self._sessions.pop(_key(cookie), None)

    def _expire(self) -> None:
        now = self._now()
        self._tickets = {k: t for k, t in self._tickets.items() if t > now}
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}


def is_sign_in_from_file(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """True for the one cross-origin request the API's guard lets through: the redirect
    file's form, a top-level POST navigation to /login from a file:// page (Origin null).

    Whatever a browser leaves out (older ones send no Sec-Fetch-*) is taken as that form
    would send it; what it does send must match. A fetch() or a frame from a null origin
    (Sec-Fetch-Mode cors/no-cors, Sec-Fetch-Dest iframe) is not this request."""
    return (
        method == "POST"
        and path == LOGIN_PATH
        and headers.get("Origin") == "null"
        and headers.get("Sec-Fetch-Site", "cross-site") in ("cross-site", "none")
        and headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
        and headers.get("Sec-Fetch-Dest", "document") == "document"
    )


def cookie_name(port: int) -> str:
    """Per port: cookies do not keep ports apart, and several homes may each serve a page."""
    return f"{COOKIE_PREFIX}{port}"


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
