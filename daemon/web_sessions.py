"""Browser sign-in: one-time links traded for a session cookie, and each session's CSRF token.

The API token never reaches the browser. `twofold open` (holding the token)
asks for a one-time ticket and opens the browser on /login?ticket=...; the
daemon trades the ticket, once and within a minute, for an HttpOnly,
SameSite=Strict cookie. Writes from the page must also carry the session's
CSRF token in a header, which only a page of this origin can read (from
GET /api/v1/session: no CORS is ever granted). Sessions live in memory: a
daemon restart signs every browser out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

TICKET_TTL_S: Final = 60.0
SESSION_TTL_S: Final = 12 * 3600.0
MAX_TICKETS: Final = 16
MAX_SESSIONS: Final = 32
COOKIE_PREFIX: Final = "twofold-"


@dataclass
class Session:
    """One signed-in browser."""

    csrf: str = field(repr=False)
    created: float
    expires: float

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


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


def cookie_name(port: int) -> str:
    """Per port: cookies do not keep ports apart, and several homes may each serve a page."""
    return f"{COOKIE_PREFIX}{port}"


def _key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
