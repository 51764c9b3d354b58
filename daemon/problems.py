"""The one place errors become RFC 9457 problem details, with their HTTP status.

Five families (protocol/errors.py): input the person can fix (4xx, each its problem
type), a refusal by the vault's rules or where things stand (409), a remote device's
refusal (502) or absence (504), a failure to store (503), and our bug: anything else,
UsageError included, is logged with its traceback and answered 500 `internal`.
"""

from __future__ import annotations

import json
import logging
import math

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from twofold.protocol.backup import BadRecoveryKey, WeakPassphrase
from twofold.protocol.errors import (
    InputError,
    InvalidUri,
    NotFound,
    PasswordRequired,
    Refused,
    RemovedFromVault,
    UnknownFormat,
    UnreadableImport,
    UnsafeKdfParameters,
    VaultClosed,
    VaultLocked,
    WrongPassword,
)
from twofold.protocol.invitation import InvalidInvitation

from . import passphrase
from .errors import (
    Ambiguous,
    BadRequest,
    DuplicateAccount,
    Locked,
    NoCurrentCode,
    NoPassphrase,
    PeerRefused,
    PeerUnreachable,
    StorageFailed,
    TooLarge,
)
from .unlock_attempts import TooSoon

log = logging.getLogger(__name__)


# What aiohttp raises for bytes it cannot read as HTTP: a header it refuses, or a body that
# is not what its Content-Encoding (gzip, deflate) or chunking says.
UNREADABLE = (HttpProcessingError, RequestPayloadError)


class _ParserRefusals(logging.Filter):
    """aiohttp answers a request its parser refuses (bytes a header may not hold, a
    duplicated Host, a broken Content-Length) with a plain 400 before any handler runs, and
    logs it as an error with a traceback. A stranger can send such bytes at will (the peer
    port listens on the LAN): one line at INFO says it, with nothing raw from the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, UNREADABLE):
            said = record.getMessage()
            record.msg = "%s: refused with %s (%s)"
            record.args = (said, getattr(exc, "code", 400), type(exc).__name__)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("aiohttp.server").addFilter(_ParserRefusals())

CONTENT_TYPE = "application/problem+json"

# Most specific first: the first class an error is an instance of decides.
_MAP: list[tuple[type[Exception], int, str, str]] = [
    (InvalidUri, 422, "invalid-uri", "The URI cannot be used"),
    (InvalidInvitation, 422, "invalid-link", "The pairing link cannot be used"),
    (PasswordRequired, 422, "password-required", "The file needs its password"),
    (WrongPassword, 422, "wrong-password", "The password is wrong"),
    (BadRecoveryKey, 422, "bad-recovery-key", "The recovery key cannot be read"),
    (WeakPassphrase, 422, "weak-passphrase", "The passphrase is too weak"),
    (passphrase.WeakPassphrase, 422, "weak-passphrase", "The passphrase is too weak"),
    (passphrase.WrongPassphrase, 422, "wrong-passphrase", "The passphrase is wrong"),
    (UnknownFormat, 422, "unknown-format", "The file's format is not recognised"),
    (UnsafeKdfParameters, 422, "unsafe-file", "The file asks for too costly a key derivation"),
    (UnreadableImport, 422, "unreadable-file", "The file cannot be read"),
    (InputError, 422, "invalid-account", "The account cannot be used"),
    (Ambiguous, 400, "ambiguous-id", "The ID matches several accounts"),
    (BadRequest, 400, "bad-request", "The request cannot be read"),
    (NotFound, 404, "not-found", "Not found"),
    (NoCurrentCode, 409, "no-current-code", "The account has no current code"),
    (DuplicateAccount, 409, "duplicate-account", "The account is already in the vault"),
    (RemovedFromVault, 409, "removed-from-vault", "This device was removed from the vault"),
    (VaultClosed, 409, "vault-closed", "The vault is closed"),
    (VaultLocked, 409, "vault-locked", "The vault cannot be changed from this device"),
    (Refused, 409, "not-allowed", "The change is not allowed"),
    (NoPassphrase, 409, "no-passphrase", "The home has no passphrase"),
    (TooLarge, 413, "too-large", "The request body is too large"),
    (Locked, 423, "locked", "The vault is locked"),
    (TooSoon, 429, "too-soon", "Too many wrong passphrases"),
    (PeerRefused, 502, "peer-refused", "The other device refused"),
    (StorageFailed, 503, "storage-failed", "The change could not be saved"),
    (PeerUnreachable, 504, "peer-unreachable", "The other device cannot be reached"),
]


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    field: str | None = None,
    extra: dict[str, object] | None = None,
) -> web.Response:
    """A problem-details response; `extra` holds the members particular to its type."""
    body: dict[str, object] = {
        "type": f"urn:twofold:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    body.update(extra or {})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in body:
        headers["Retry-After"] = str(body["retry_after"])
    return web.Response(
        status=status, text=json.dumps(body), content_type=CONTENT_TYPE, headers=headers
    )


def from_error(exc: Exception) -> web.Response:
    """The problem detail for an error raised while handling a request."""
    if isinstance(exc, UNREADABLE):  # raised while a handler reads the body
        return problem(
            400,
            "bad-request",
            "The request cannot be read",
            "the request body cannot be read: it is not what its Content-Encoding or "
            "Transfer-Encoding says",
        )
    for cls, status, slug, title in _MAP:
        if isinstance(exc, cls):
            detail = getattr(exc, "detail", None) or str(exc)
            field = getattr(exc, "field", None)
            extra: dict[str, object] | None = None
            if isinstance(exc, DuplicateAccount):
                extra = {"existing": exc.existing}
            elif isinstance(exc, TooSoon):
                extra = {"retry_after": max(1, math.ceil(exc.wait_s))}
            return problem(status, slug, title, detail, field, extra)
    log.error("internal error (a bug of ours): %r", exc, exc_info=exc)
    return problem(500, "internal", "Internal error", "the daemon failed; its log says why")


def from_http(exc: web.HTTPException) -> web.Response:
    """aiohttp's own errors (unknown route, wrong method, body too large) as problems."""
    details = {
        404: ("not-found", "no such API route; see specs/openapi.yaml"),
        405: ("method-not-allowed", f"this route does not take {exc.reason}"),
        413: ("too-large", "the request body is too large (at most 64 KiB)"),
    }
    slug, detail = details.get(exc.status, ("http-error", exc.reason))
    if exc.status == 405:
        detail = "this route does not take that method"
    return problem(exc.status, slug, exc.reason, detail)
