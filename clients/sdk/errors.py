"""What can go wrong between a client and the daemon, as one family of exceptions."""

from __future__ import annotations

from typing import Any


class SdkError(Exception):
    """Base of every error the SDK raises, so callers can catch the family at once."""


class DaemonNotRunning(SdkError):
    """No daemon answers for this home; the message says how to start one."""

    def __init__(self, home: str, command: str) -> None:
        super().__init__(f"no Twofold daemon is running for {home}; start one with: {command}")
        self.home = home
        self.command = command


class DaemonUnreachable(SdkError):
    """The daemon was found but did not answer in time or dropped the connection."""


class ProtocolMismatch(SdkError):
    """The daemon answered with something the API contract does not allow."""


class InvalidArgument(SdkError, ValueError):
    """An argument cannot be sent as given (for example an account ID that is not hex)."""


class ApiError(SdkError):
    """The daemon refused a request with an RFC 9457 problem detail; str() is its detail.
    `extra` holds the members particular to its type (duplicate-account: `existing`)."""

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.field = field
        self.extra = dict(extra or {})

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.type!r}, {self.detail!r})"

    def to_json(self) -> dict[str, Any]:
        """The problem detail as the daemon sent it, for scripts that want it verbatim."""
        problem: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            problem["field"] = self.field
        return problem | self.extra


class NotFoundError(ApiError):
    """404: no account (or route) matches; an ID prefix may be wrong or ambiguous."""


class Unauthorized(ApiError):
    """401: the token in the home was refused, usually because the daemon restarted."""


class ServerError(ApiError):
    """5xx: the daemon failed; the request may be retried once it is healthy."""


PROBLEM = "urn:twofold:problem:"
LOCKED = PROBLEM + "locked"
WRONG_PASSPHRASE = PROBLEM + "wrong-passphrase"
TOO_SOON = PROBLEM + "too-soon"
NO_PASSPHRASE = PROBLEM + "no-passphrase"
NOT_ALLOWED = PROBLEM + "not-allowed"
PEER_REFUSED = PROBLEM + "peer-refused"
PEER_UNREACHABLE = PROBLEM + "peer-unreachable"


class NotAllowed(ApiError):
    """409 not-allowed: the vault's rules, or where things stand, refuse the request (a
    device cannot remove itself, a pairing is past that step); nothing changed."""


class PeerRefused(ServerError):
    """502 peer-refused: another device answered, and refused."""


class PeerUnreachable(ServerError):
    """504 peer-unreachable: another device could not be reached, or did not answer."""


class Locked(ApiError):
    """423 locked: the vault is locked (passphrase mode); unlock() it with its passphrase.
    Every route that reads or writes the vault answers so until then."""


class WrongPassphrase(ApiError):
    """422 wrong-passphrase: not this home's passphrase; `field` says which one was wrong
    ("passphrase" to unlock, "current" to change or remove it)."""


class NoPassphrase(ApiError):
    """409 no-passphrase: this home has no passphrase, so there is nothing to lock with or
    to remove (set one with set_passphrase())."""


class TooSoon(ApiError):
    """429 too-soon: wrong passphrases came in a row; try again in `retry_after` seconds
    (the wait doubles with each one: 1, 2, 4 ... 600)."""

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(status, type, title, detail, field, extra)
        self.retry_after = _seconds(self.extra.get("retry_after"), retry_after)


def _seconds(member: object, header: str | None) -> int:
    """The wait a too-soon answer asks for: its retry_after member, else its Retry-After
    header (delta-seconds), else one second."""
    if isinstance(member, int) and not isinstance(member, bool) and member >= 0:
        return member
    if header is not None and header.strip().isdigit():
        return int(header.strip())
    return 1


_BY_TYPE: dict[str, type[ApiError]] = {
    LOCKED: Locked,
    WRONG_PASSPHRASE: WrongPassphrase,
    NO_PASSPHRASE: NoPassphrase,
    NOT_ALLOWED: NotAllowed,
    PEER_REFUSED: PeerRefused,
    PEER_UNREACHABLE: PeerUnreachable,
}


def error_for(
    status: int,
    problem_type: str,
    title: str,
    detail: str,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
    *,
    retry_after: str | None = None,
) -> ApiError:
    """Pick the ApiError subclass for a problem, so callers can catch by meaning: by its
    type where one has its own class (locked, wrong-passphrase, too-soon, no-passphrase,
    not-allowed, peer-refused, peer-unreachable), else by its HTTP status. `retry_after`
    is the answer's Retry-After header, if any."""
    cls: type[ApiError]
    if problem_type == TOO_SOON or (status == 429 and problem_type == "about:blank"):
        return TooSoon(status, problem_type, title, detail, field, extra, retry_after)
    if problem_type in _BY_TYPE:
        cls = _BY_TYPE[problem_type]
    elif status == 404:
        cls = NotFoundError
    elif status == 401:
        cls = Unauthorized
    elif status >= 500:
        cls = ServerError
    else:
        cls = ApiError
    return cls(status, problem_type, title, detail, field, extra)
