"""A test-side encoder for Google Authenticator's migration payload, written from the published
schema (Aegis's google_auth.proto) so fixtures are built field by field, not copied as base64.

It is deliberately independent of the reader: protobuf's wire format spelled out again (varints,
keys, length-delimited fields), so a reader bug is not mirrored here. Every function can also
write what real encoders never do (wrong wire types, unknown fields) to build hostile inputs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote

VARINT = 0
FIXED64 = 1
LENGTH = 2
FIXED32 = 5

SHA1, SHA256, SHA512, MD5 = 1, 2, 3, 4
SIX, EIGHT = 1, 2
HOTP, TOTP = 1, 2


def varint(value: int) -> bytes:
    """Protobuf's base-128 varint; a negative number is written as its 64-bit two's complement."""
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def number_field(number: int, value: int) -> bytes:
    return key(number, VARINT) + varint(value)


def bytes_field(number: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return key(number, LENGTH) + varint(len(data)) + data


@dataclass(frozen=True)
class Otp:
    """One OtpParameters message; None leaves a field out, as proto3 does for defaults."""

    secret: bytes | None = b"Hello!\xde\xad\xbe\xef"
    name: str | None = "alice@example.com"
    issuer: str | None = "Example"
    algorithm: int | None = SHA1
    digits: int | None = SIX
    type: int | None = TOTP
    counter: int | None = None
    extra: bytes = b""

    def encode(self) -> bytes:
        out = b""
        if self.secret is not None:
            out += bytes_field(1, self.secret)
        if self.name is not None:
            out += bytes_field(2, self.name)
        if self.issuer is not None:
            out += bytes_field(3, self.issuer)
        for number, value in ((4, self.algorithm), (5, self.digits), (6, self.type)):
            if value is not None:
                out += number_field(number, value)
        if self.counter is not None:
            out += number_field(7, self.counter)
        return out + self.extra


def payload(
    *otps: Otp | bytes,
    version: int | None = 1,
    batch_size: int | None = 1,
    batch_index: int | None = 0,
    batch_id: int | None = -1320898453,
    extra: bytes = b"",
) -> bytes:
    """A MigrationPayload; an entry given as bytes is embedded as is (for broken entries)."""
    out = b""
    for otp in otps:
        out += bytes_field(1, otp.encode() if isinstance(otp, Otp) else otp)
    for number, value in ((2, version), (3, batch_size), (4, batch_index), (5, batch_id)):
        if value is not None:
            out += number_field(number, value)
    return out + extra


def migration_uri(data: bytes, *, padded: bool = True) -> str:
    """The link as Google writes it: standard base64, then percent-encoded."""
    text = base64.b64encode(data).decode("ascii")
    if not padded:
        text = text.rstrip("=")
    return "otpauth-migration://offline?data=" + quote(text, safe="")
