"""Pairing invitations: what one device shows as a QR code or link, and the other scans.

A link is `twofold://pair/` followed by the unpadded base64url (RFC 4648
section 5) of one deterministic CBOR map with one-letter keys, so that a QR
code of it stays small enough for any phone camera:

    {"v": 1,                  link version
     "r": "m" | "n",          the showing device is a member or a newcomer
     "f": bytes(32),          SHA-256 of the showing device's certificate (DER)
     "a": [bytes(4|16), ...], 1 to 4 IPv4 or IPv6 addresses, packed
     "p": 1..65535,           TCP port of the pairing listener
     "i": bytes(8),           invitation ID (the HKDF salt)
     "s": bytes(16),          one-time secret (the HKDF input key)
     "e": uint}               expiry, unix seconds: invalid from this second on

A reader accepts surrounding or wrapped whitespace, any case of
`twofold://pair/`, and base64url with or without padding; it refuses anything
else with `InvalidInvitation`, which names the field and says what to do.
The link is a bearer token: whoever holds it can try to pair until it expires.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cbor2 import CBORDecodeEOF

from . import cbor, certificate
from .errors import InputError, MalformedPayload
from .text import quoted

Role = Literal["member", "newcomer"]

VERSION = 1
PREFIX = "twofold://pair/"
FINGERPRINT_SIZE = 32
INVITATION_ID_SIZE = 8
SECRET_SIZE = 16
MAX_ADDRESSES = 4
MAX_EXPIRY = 2**63 - 1
DEFAULT_TTL = 600
# A valid link is under 300 characters; this bounds the work a pasted text can cause.
MAX_LINK = 1000
_ROLE_CODES: dict[str, Role] = {"m": "member", "n": "newcomer"}
_KEYS = {"v", "r", "f", "a", "p", "i", "s", "e"}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_AGAIN = "copy the whole link again"


class InvalidInvitation(InputError):
    """A pairing link or QR code that cannot be used; `field` names what is wrong."""


@dataclass(frozen=True, slots=True)
class Invitation:
    """What a device shows so that another can find it, pin it and prove it saw the QR code."""

    shower_role: Role
    fingerprint: bytes
    addresses: tuple[str, ...]
    port: int
    invitation_id: bytes
    secret: bytes = field(repr=False)
    expires_at: int

    def __post_init__(self) -> None:
        """Refuse fields no link could carry, and write addresses in their canonical form."""
        if self.shower_role not in _ROLE_CODES.values():
            raise InvalidInvitation("shower_role", "the role must be 'member' or 'newcomer'")
        _read_bytes("fingerprint", self.fingerprint, FINGERPRINT_SIZE)
        _read_bytes("invitation_id", self.invitation_id, INVITATION_ID_SIZE)
        _read_bytes("secret", self.secret, SECRET_SIZE)
        if not 1 <= len(self.addresses) <= MAX_ADDRESSES:
            raise InvalidInvitation(
                "addresses", f"an invitation needs 1 to {MAX_ADDRESSES} addresses to reach it"
            )
        object.__setattr__(self, "addresses", tuple(map(_canonical, self.addresses)))
        if type(self.port) is not int or not 1 <= self.port <= 65535:
            raise InvalidInvitation("port", f"port {self.port!r} is not in the range 1 to 65535")
        if type(self.expires_at) is not int or not 0 <= self.expires_at <= MAX_EXPIRY:
            raise InvalidInvitation("expires_at", "the expiry must be a time in unix seconds")

    @classmethod
    def new(
        cls,
        shower_role: Role,
        cert_der: bytes,
        addresses: Sequence[str],
        port: int,
        now: int,
        ttl: int = DEFAULT_TTL,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> Invitation:
        """A fresh invitation for the showing device's certificate, valid for `ttl` seconds."""
        if ttl <= 0:
            raise InvalidInvitation("expires_at", "an invitation must be valid for some time")
        return cls(
            shower_role=shower_role,
            fingerprint=certificate.fingerprint(cert_der),
            addresses=tuple(addresses),
            port=port,
            invitation_id=rng(INVITATION_ID_SIZE),
            secret=rng(SECRET_SIZE),
            expires_at=now + ttl,
        )

    def expired(self, now: int) -> bool:
        """Whether the invitation can no longer be used at unix time `now`."""
        return now >= self.expires_at

    def to_link(self) -> str:
        """The `twofold://pair/...` link, short enough for a QR code a phone reads easily."""
        role = "m" if self.shower_role == "member" else "n"
        body = {
            "v": VERSION,
            "r": role,
            "f": self.fingerprint,
            "a": [ipaddress.ip_address(a).packed for a in self.addresses],
            "p": self.port,
            "i": self.invitation_id,
            "s": self.secret,
            "e": self.expires_at,
        }
        return PREFIX + base64.urlsafe_b64encode(cbor.dumps(body)).decode("ascii").rstrip("=")

    @classmethod
    def from_link(cls, text: str) -> Invitation:
        """Read a link a person scanned or pasted; anything wrong is an InvalidInvitation."""
        fields = _decode_link(text)
        version = fields.get("v")
        if version is None:
            raise InvalidInvitation("version", "the link has no version: it is not from Twofold")
        if type(version) is not int or version < 1:
            raise InvalidInvitation("version", "the link version is not valid: " + _AGAIN)
        if version > VERSION:
            raise InvalidInvitation(
                "version", f"unsupported link version {version}: update Twofold on this device"
            )
        unknown = set(fields) - _KEYS
        if unknown:
            names = ", ".join(sorted(map(quoted, unknown))[:4])
            raise InvalidInvitation("link", f"the link has fields Twofold does not know: {names}")
        missing = sorted(_KEYS - set(fields))
        if missing:
            raise InvalidInvitation("link", f"the link lacks {', '.join(missing)}: " + _AGAIN)
        role = fields["r"]
        if not isinstance(role, str) or role not in _ROLE_CODES:
            raise InvalidInvitation(
                "shower_role", "unknown device role in the link: update Twofold on this device"
            )
        return cls(
            shower_role=_ROLE_CODES[role],
            fingerprint=_read_bytes("fingerprint", fields["f"], FINGERPRINT_SIZE),
            addresses=_read_addresses(fields["a"]),
            port=_read_int("port", fields["p"], 1, 65535),
            invitation_id=_read_bytes("invitation_id", fields["i"], INVITATION_ID_SIZE),
            secret=_read_bytes("secret", fields["s"], SECRET_SIZE),
            expires_at=_read_int("expires_at", fields["e"], 0, MAX_EXPIRY),
        )


def _decode_link(text: str) -> dict[Any, Any]:
    """The CBOR map inside a link, or an InvalidInvitation saying what a person should do."""
    if not isinstance(text, str):
        raise InvalidInvitation("link", "this is not a Twofold pairing link")
    text = "".join(text.split())
    if len(text) > MAX_LINK:
        raise InvalidInvitation("link", "this is too long to be a Twofold pairing link")
    if text[: len(PREFIX)].lower() != PREFIX:
        raise InvalidInvitation("link", "this is not a Twofold pairing link")
    payload = text[len(PREFIX) :].rstrip("=")
    if not _BASE64URL.fullmatch(payload):
        raise InvalidInvitation(
            "link", "the link has characters that do not belong in it: " + _AGAIN
        )
    if len(payload) % 4 == 1 or not payload:
        raise InvalidInvitation("link", "the link is cut short: copy all of it")
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except ValueError:
        raise InvalidInvitation("link", "the link is damaged: " + _AGAIN) from None
    try:
        fields = cbor.loads(raw, "link")
    except MalformedPayload as exc:
        if isinstance(exc, cbor.TrailingBytes):
            raise InvalidInvitation(
                "link", "the link has trailing bytes after its end: copy only the link"
            ) from None
        if isinstance(exc.__cause__, CBORDecodeEOF):
            raise InvalidInvitation("link", "the link is cut short: copy all of it") from None
        raise InvalidInvitation("link", "the link is damaged: " + _AGAIN) from None
    if not isinstance(fields, dict):
        raise InvalidInvitation("link", "the link is damaged: " + _AGAIN)
    return fields


def _read_bytes(name: str, value: object, size: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != size:
        length = f"{len(value)} bytes" if isinstance(value, bytes) else "not bytes"
        raise InvalidInvitation(name, f"must be {size} bytes, is {length}: " + _AGAIN)
    return value


def _read_int(name: str, value: object, low: int, high: int) -> int:
    if type(value) is not int:
        raise InvalidInvitation(name, "must be a whole number: " + _AGAIN)
    if not low <= value <= high:
        raise InvalidInvitation(name, f"{value} is out of range {low} to {high}: " + _AGAIN)
    return value


def _read_addresses(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidInvitation("addresses", "must be a list of addresses: " + _AGAIN)
    if not value:
        raise InvalidInvitation("addresses", "the link has no address to reach the other device")
    if len(value) > MAX_ADDRESSES:
        raise InvalidInvitation("addresses", f"the link has more than {MAX_ADDRESSES} addresses")
    if not all(isinstance(a, bytes) and len(a) in (4, 16) for a in value):
        raise InvalidInvitation(
            "addresses", "an address must be 4 (IPv4) or 16 (IPv6) bytes: " + _AGAIN
        )
    return tuple(str(ipaddress.ip_address(a)) for a in value)


def _canonical(address: object) -> str:
    """The one way each address is written, so a link round-trips to equal fields."""
    if not isinstance(address, str):
        raise InvalidInvitation("addresses", f"{address!r} is not an IP address")
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidInvitation(
            "addresses", f"{address!r} is not an IPv4 or IPv6 address"
        ) from None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.scope_id:
        raise InvalidInvitation("addresses", f"{address!r} has a zone, which a link cannot carry")
    return str(parsed)
