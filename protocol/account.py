"""The account model: what a person types or a QR code holds, checked before it enters the vault.

Rules per kind (digits / period / algorithm / PIN):

- totp, hotp: 6 to 10 digits (RFC 4226 section 5.3 asks for at least 6; 31 bits
  hold at most 10), any period from 1 s to a day, SHA1/SHA256/SHA512 (RFC 6238
  section 1.2) or MD5. MD5 is accepted so imports never lose an account (Google
  Authenticator exports can carry it). No standard truncates a 16-byte MAC, so
  Twofold clamps the RFC 4226 section 5.3 offset to len(mac) - 4 (min(offset, 12)
  for MD5): the standard value whenever the offset fits (13 of 16 cases), a
  defined code otherwise, which may not match the service's.
- steam: 5 characters, 30 s, SHA1 (Aegis SteamInfo.java).
- motp: 6 hex characters, 10 s, MD5, a PIN of exactly 4 digits (Aegis
  MotpInfo.java and the PIN check in its EditEntryActivity.java).
- yandex: 8 letters, 30 s, SHA256, a PIN of 4 to 16 digits (Aegis
  YandexInfo.java asks for at least 4; Yandex Key PINs are 4 to 16 digits). The
  secret is 16 bytes; the 26-byte form with its 12-bit checksum is checked and cut
  to 16, as Aegis YandexInfo.parseSecret does.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, TypeVar

from .errors import InputError, InvalidAccount
from .text import check_visible, describe, hidden, strip_hidden

MAX_SECRET_BYTES: Final = 1024
MAX_LABEL_CHARS: Final = 256
MAX_NOTE_CHARS: Final = 4096
MAX_PERIOD: Final = 86400
MAX_COUNTER: Final = 2**63 - 1

YANDEX_SECRET_BYTES: Final = 16
YANDEX_SECRET_FULL_BYTES: Final = 26
_YANDEX_CHECKSUM_POLY: Final = 0b1_1000_1111_0011

_BASE32_ALPHABET: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

_E = TypeVar("_E", bound=StrEnum)


class OtpKind(StrEnum):
    """How codes are computed; the value is what otpauth URIs and stored ops carry."""

    TOTP = "totp"
    HOTP = "hotp"
    STEAM = "steam"
    MOTP = "motp"
    YANDEX = "yandex"


class HashAlgorithm(StrEnum):
    """The hash under the code; values are spelled as otpauth URIs spell them."""

    SHA1 = "SHA1"
    SHA256 = "SHA256"
    SHA512 = "SHA512"
    MD5 = "MD5"


@dataclass(frozen=True, slots=True)
class _Scheme:
    algorithm: HashAlgorithm
    digits: int
    period: int
    pin_lengths: tuple[int, int] | None


FIXED_SCHEMES: Final[dict[OtpKind, _Scheme]] = {
    OtpKind.STEAM: _Scheme(HashAlgorithm.SHA1, 5, 30, None),
    OtpKind.MOTP: _Scheme(HashAlgorithm.MD5, 6, 10, (4, 4)),
    OtpKind.YANDEX: _Scheme(HashAlgorithm.SHA256, 8, 30, (4, 16)),
}
PIN_KINDS: Final = frozenset({OtpKind.MOTP, OtpKind.YANDEX})


@dataclass(frozen=True, slots=True)
class OtpParams:
    """Everything code generation needs; a value that exists always makes working codes."""

    kind: OtpKind
    secret: bytes = field(repr=False)
    algorithm: HashAlgorithm = HashAlgorithm.SHA1
    digits: int = 6
    period: int = 30
    pin: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        kind = _coerce_enum(OtpKind, self.kind, "kind", str.lower)
        algorithm = _coerce_enum(HashAlgorithm, self.algorithm, "algorithm", str.upper)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "secret", _check_secret(kind, self.secret))
        _require_int(self.digits, "digits")
        _require_int(self.period, "period")
        scheme = FIXED_SCHEMES.get(kind)
        if scheme is None:
            if not 6 <= self.digits <= 10:
                raise InvalidAccount("digits", "digits must be between 6 and 10")
            if not 1 <= self.period <= MAX_PERIOD:
                raise InvalidAccount("period", f"period must be between 1 and {MAX_PERIOD} seconds")
        else:
            if self.digits != scheme.digits:
                raise InvalidAccount(
                    "digits", f"{kind} codes have exactly {scheme.digits} characters"
                )
            if self.period != scheme.period:
                raise InvalidAccount("period", f"{kind} codes change every {scheme.period} seconds")
            if algorithm is not scheme.algorithm:
                raise InvalidAccount("algorithm", f"{kind} always uses {scheme.algorithm}")
        _check_pin(kind, self.pin)

    @classmethod
    def create(
        cls,
        kind: OtpKind | str,
        secret: bytes,
        *,
        algorithm: HashAlgorithm | str | None = None,
        digits: int | None = None,
        period: int | None = None,
        pin: str | None = None,
    ) -> OtpParams:
        """Fill in what the kind's scheme fixes, so callers name only what they know."""
        coerced = _coerce_enum(OtpKind, kind, "kind", str.lower)
        scheme = FIXED_SCHEMES.get(coerced)
        return cls(
            kind=coerced,
            secret=secret,
            algorithm=_coerce_enum(
                HashAlgorithm,
                algorithm or (scheme.algorithm if scheme else HashAlgorithm.SHA1),
                "algorithm",
                str.upper,
            ),
            digits=digits if digits is not None else (scheme.digits if scheme else 6),
            period=period if period is not None else (scheme.period if scheme else 30),
            pin=pin,
        )


@dataclass(frozen=True, slots=True)
class AccountDraft:
    """An account as a person enters it or a URI carries it, before it becomes ops."""

    issuer: str
    name: str
    otp: OtpParams
    counter: int = 0
    note: str = ""

    def __post_init__(self) -> None:
        check_label(self.issuer, "issuer")
        check_label(self.name, "name")
        if not self.issuer and not self.name:
            raise InvalidAccount("name", "give the account a name or an issuer")
        if not isinstance(self.otp, OtpParams):
            raise InvalidAccount("otp", "otp must be OtpParams")
        _require_int(self.counter, "counter")
        if not 0 <= self.counter <= MAX_COUNTER:
            raise InvalidAccount("counter", f"counter must be between 0 and {MAX_COUNTER}")
        if self.counter and self.otp.kind is not OtpKind.HOTP:
            raise InvalidAccount("counter", "only hotp accounts have a counter")
        check_note(self.note)


def base32_secret(
    text: str, field: str = "secret", *, error: type[InputError] = InvalidAccount
) -> bytes:
    """Read a base32 key as QR codes and people write it: any case, padded or not, grouped.

    Spaces, other whitespace and hyphens are dropped anywhere (Aegis's
    GoogleAuthInfo.parseSecret drops spaces and hyphens: sites print keys in
    groups of four). Trailing '=' padding is optional.
    """
    if not isinstance(text, str):
        raise error(field, f"{field} must be text")
    cleaned = "".join(text.split()).replace("-", "").rstrip("=")
    if not cleaned:
        raise error(field, f"{field} is empty")
    if not cleaned.isascii() or not set(cleaned.upper()) <= _BASE32_ALPHABET:
        raise error(field, f"{field} is not valid base32 (letters A-Z and digits 2-7)")
    if len(cleaned) % 8 in (1, 3, 6):
        raise error(field, f"{field} is not valid base32: its length is wrong, check it is whole")
    padded = cleaned.upper() + "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(padded)
    except binascii.Error:
        raise error(field, f"{field} is not valid base32") from None


def secret_to_base32(secret: bytes) -> str:
    """Write a key the way authenticator apps expect to read it: upper case, unpadded."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def yandex_checksum_ok(secret: bytes) -> bool:
    """Tell whether a 26-byte Yandex secret is whole, before its checksum is cut away.

    The last 12 bits are the remainder of the first 196 bits, read as a GF(2)
    polynomial, divided by x^12+x^11+x^7+x^6+x^5+x^4+x+1 (the scheme KeeYaOtp
    and Aegis YandexInfo.validateSecret check).
    """
    if len(secret) != YANDEX_SECRET_FULL_BYTES:
        return False
    whole = int.from_bytes(secret, "big")
    expected = whole & 0xFFF
    remainder = whole >> 12
    degree = _YANDEX_CHECKSUM_POLY.bit_length() - 1
    for shift in range(remainder.bit_length() - 1 - degree, -1, -1):
        if remainder >> (shift + degree) & 1:
            remainder ^= _YANDEX_CHECKSUM_POLY << shift
    return remainder == expected


def _coerce_enum(enum: type[_E], value: object, name: str, fold: Callable[[str], str]) -> _E:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        try:
            return enum(fold(value))
        except ValueError:
            pass
    choices = ", ".join(member.value for member in enum)
    raise InvalidAccount(name, f"{name} must be one of {choices}")


def _require_int(value: object, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAccount(name, f"{name} must be a whole number")


def _check_secret(kind: OtpKind, secret: object) -> bytes:
    if isinstance(secret, bytearray | memoryview):
        secret = bytes(secret)
    if not isinstance(secret, bytes):
        raise InvalidAccount("secret", "secret must be bytes")
    if not secret:
        raise InvalidAccount("secret", "secret is empty")
    if len(secret) > MAX_SECRET_BYTES:
        raise InvalidAccount("secret", f"secret must be at most {MAX_SECRET_BYTES} bytes")
    if kind is OtpKind.YANDEX:
        if len(secret) == YANDEX_SECRET_FULL_BYTES:
            if not yandex_checksum_ok(secret):
                raise InvalidAccount(
                    "secret", "the yandex secret's checksum does not match: check it is whole"
                )
            return secret[:YANDEX_SECRET_BYTES]
        if len(secret) != YANDEX_SECRET_BYTES:
            raise InvalidAccount("secret", "a yandex secret is 16 bytes (26 with its checksum)")
    return secret


def _check_pin(kind: OtpKind, pin: object) -> None:
    scheme = FIXED_SCHEMES.get(kind)
    lengths = scheme.pin_lengths if scheme else None
    if lengths is None:
        if pin is not None:
            raise InvalidAccount("pin", f"{kind} accounts have no PIN")
        return
    if pin is None or pin == "":
        raise InvalidAccount("pin", f"{kind} needs a PIN")
    if not isinstance(pin, str):
        raise InvalidAccount("pin", "pin must be text")
    if not (pin.isascii() and pin.isdigit()):
        raise InvalidAccount("pin", "pin must be digits only")
    low, high = lengths
    if not low <= len(pin) <= high:
        span = f"{low}" if low == high else f"{low} to {high}"
        raise InvalidAccount("pin", f"a {kind} PIN is {span} digits")


def check_label(value: object, name: str) -> None:
    """An issuer or name a person could have typed: the same rule for creating and editing.

    This is the shape every draft has, older data included; what a person writes now must
    also pass `check_shown` (nothing hidden or reordering)."""
    if not isinstance(value, str):
        raise InvalidAccount(name, f"{name} must be text")
    if len(value) > MAX_LABEL_CHARS:
        raise InvalidAccount(name, f"{name} must be at most {MAX_LABEL_CHARS} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise InvalidAccount(name, f"{name} must not hold control characters or lone surrogates")
    if value != value.strip():
        raise InvalidAccount(name, f"{name} must not start or end with spaces")


def check_note(value: object) -> None:
    """A free note: any text a person can type, within a bound."""
    if not isinstance(value, str):
        raise InvalidAccount("note", "note must be text")
    if len(value) > MAX_NOTE_CHARS:
        raise InvalidAccount("note", f"note must be at most {MAX_NOTE_CHARS} characters")
    if any(unicodedata.category(c) == "Cs" for c in value):
        raise InvalidAccount("note", "note holds characters that are not valid Unicode")


SHOWN_FIELDS: Final = ("issuer", "name", "note")


def check_shown(value: str, name: str) -> None:
    """Refuse an issuer, name or note that a person writes now if a character of it hides
    or reorders text (protocol/text.py; a note may also hold tabs and line breaks)."""
    check_visible(value, name, lines=name == "note")


def visible_draft(draft: AccountDraft) -> tuple[AccountDraft, list[str]]:
    """The draft with every character the rule refuses taken out of its issuer, name and
    note, and what was taken from where ("issuer: U+202E RIGHT-TO-LEFT OVERRIDE"), for
    drafts a person did not type just now (an import, accounts carried to a new vault).

    Such characters show nothing themselves, so the account keeps every character a person
    could see; taking them out is what makes it read as it is stored. A label left empty,
    or with spaces at an end, is cut to what remains; if both labels end up empty, the
    draft is refused (InvalidAccount), as any nameless account is."""
    changes: dict[str, str] = {}
    removed: list[str] = []
    for field_name in SHOWN_FIELDS:
        value = getattr(draft, field_name)
        lines = field_name == "note"
        found = hidden(value, lines=lines)
        if not found:
            continue
        cleaned = strip_hidden(value, lines=lines)
        changes[field_name] = cleaned if lines else cleaned.strip()
        names = sorted({describe(value[i]) for i in found})
        removed.append(f"{field_name}: {', '.join(names)}")
    if not changes:
        return draft, []
    return replace(draft, **changes), removed  # type: ignore[arg-type]
