"""One-time codes for every account kind, from a time the caller passes in (never read here).

HOTP and TOTP go through pyotp (RFC 4226, RFC 6238), except over MD5: pyotp's
truncation runs off a 16-byte MAC, so _truncate clamps the offset (see account.py).
Steam, mOTP and Yandex.Key are not in pyotp; they follow Aegis (crypto/otp/TOTP.java
toSteamString, MOTP.java, YAOTP.java), which is what people migrate from.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
from dataclasses import dataclass
from typing import Final

import pyotp

from .account import HashAlgorithm, OtpKind, OtpParams, secret_to_base32
from .errors import UsageError

STEAM_ALPHABET: Final = "23456789BCDFGHJKMNPQRTVWXY"
MAX_MOVING_FACTOR: Final = 2**64 - 1

_DIGESTS: Final = {
    HashAlgorithm.SHA1: hashlib.sha1,
    HashAlgorithm.SHA256: hashlib.sha256,
    HashAlgorithm.SHA512: hashlib.sha512,
}


class _Hotp(pyotp.HOTP):
    """pyotp's HOTP without its 112-bit floor: real accounts carry 80-bit keys.

    Google's own Key URI example secret is 10 bytes; the account model already
    bounds secret length, so refusing short keys here would only strand them.
    """

    min_secret_length_bits = 8


@dataclass(frozen=True, slots=True)
class Code:
    """A code and the window it is good for, so a display can count down without math."""

    value: str
    valid_from: float | None
    valid_until: float | None


def code_at(otp: OtpParams, *, now: float, counter: int = 0) -> Code:
    """Compute the code a person types; HOTP uses `counter` and ignores `now`."""
    if otp.kind is OtpKind.HOTP:
        _check_moving_factor(counter, "counter")
        return Code(_hotp(otp, counter), None, None)
    return _code_for_step(otp, _time_step(otp, now))


@functools.lru_cache(maxsize=4096)
def _code_for_step(otp: OtpParams, step: int) -> Code:
    """A time step's code, computed once: a list of every code is asked for every second."""
    if otp.kind is OtpKind.TOTP:
        value = _hotp(otp, step)
    elif otp.kind is OtpKind.STEAM:
        value = _steam(otp.secret, step)
    elif otp.kind is OtpKind.MOTP:
        value = _motp(otp, step)
    else:
        value = _yandex(otp, step)
    return Code(value, float(step * otp.period), float((step + 1) * otp.period))


def forget_codes() -> None:
    """Drop the cache of codes, whose keys hold the accounts' secrets (a vault locked)."""
    _code_for_step.cache_clear()


def seconds_left(otp: OtpParams, now: float) -> int | None:
    """Whole seconds until the code changes (1..period), or None for counter-based HOTP."""
    if otp.kind is OtpKind.HOTP:
        return None
    step = _time_step(otp, now)
    return math.ceil((step + 1) * otp.period - now)


def _time_step(otp: OtpParams, now: float) -> int:
    if (
        not isinstance(now, int | float)
        or isinstance(now, bool)
        or not math.isfinite(now)
        or now < 0
    ):
        raise UsageError("now must be a finite Unix time, not before 1970")
    step = math.floor(now) // otp.period
    _check_moving_factor(step, "now")
    return step


def _check_moving_factor(value: object, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_MOVING_FACTOR:
        raise UsageError(f"{name} must give a counter between 0 and 2**64-1")


def _hotp(otp: OtpParams, counter: int) -> str:
    if otp.algorithm is HashAlgorithm.MD5:
        value = _truncate(_mac(otp.secret, counter, "md5")) % 10**otp.digits
        return str(value).zfill(otp.digits)
    generator = _Hotp(
        secret_to_base32(otp.secret), digits=otp.digits, digest=_DIGESTS[otp.algorithm]
    )
    return generator.at(counter)


def _mac(key: bytes, counter: int, algorithm: str) -> bytes:
    return hmac.new(key, counter.to_bytes(8, "big"), algorithm).digest()


def _truncate(mac: bytes) -> int:
    """RFC 4226 section 5.3 dynamic truncation, its offset clamped to len(mac) - 4.

    The clamp changes nothing for MACs of 20 bytes or more (the offset is at most
    15); for HMAC-MD5's 16 bytes it caps the offset at 12 instead of reading past the end.
    """
    offset = min(mac[-1] & 0x0F, len(mac) - 4)
    return int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF


def _steam(secret: bytes, step: int) -> str:
    value = _truncate(_mac(secret, step, "sha1"))
    chars = []
    for _ in range(5):
        value, index = divmod(value, len(STEAM_ALPHABET))
        chars.append(STEAM_ALPHABET[index])
    return "".join(chars)


def _motp(otp: OtpParams, step: int) -> str:
    message = f"{step}{otp.secret.hex()}{otp.pin}".encode()
    # mOTP is defined over MD5; the scheme, not us, picks the hash.
    digest = hashlib.md5(message).hexdigest()  # noqa: S324
    return digest[: otp.digits]


def _yandex(otp: OtpParams, step: int) -> str:
    pin = (otp.pin or "").encode()
    key = hashlib.sha256(pin + otp.secret).digest()
    if key[0] == 0:
        key = key[1:]
    mac = bytearray(_mac(key, step, "sha256"))
    offset = mac[-1] & 0x0F
    mac[offset] &= 0x7F
    value = int.from_bytes(mac[offset : offset + 8], "big") % 26**otp.digits
    letters = []
    for _ in range(otp.digits):
        value, index = divmod(value, 26)
        letters.append(chr(ord("a") + index))
    return "".join(reversed(letters))
