"""Known-answer tests for every code kind, from the RFCs and the apps people migrate from."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol.account import HashAlgorithm, OtpKind, OtpParams, base32_secret
from twofold.protocol.codes import STEAM_ALPHABET, Code, code_at, seconds_left
from twofold.protocol.errors import UsageError

RFC_SEED_SHA1 = b"12345678901234567890"
RFC_SEED_SHA256 = b"12345678901234567890123456789012"
RFC_SEED_SHA512 = b"1234567890" * 6 + b"1234"

# RFC 4226 appendix D: HOTP values for counts 0..9 with the 20-byte ASCII seed.
RFC4226_HOTP = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

# RFC 6238 appendix B: 8-digit TOTP, 30 s steps; each hash has its own seed length.
RFC6238_TOTP = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]

# KeePassXC tests/TestTotp.cpp (testSteamTotp): codes read off the Steam mobile app
# for a throw-away account whose shared secret was extracted for the test.
STEAM_SECRET = "63BEDWCQZKTQWPESARIERL5DTTQFCJTK"
STEAM_VECTORS = [(1511200518, "FR8RV"), (1511200714, "9P3VP")]

# Aegis app/src/test/.../crypto/otp/MOTPTest.java: (time, code, pin, hex secret).
MOTP_VECTORS = [
    (165892298, "e7d8b6", "1234", "e3152afee62599c8"),
    (123456789, "4ebfb2", "1234", "e3152afee62599c8"),
    (1659540020, "ced7b1", "9999", "bbb1912bb5c515be"),
    (1659540022, "ced7b1", "9999", "bbb1912bb5c515be"),
    (1659539870, "1a14f8", "9999", "bbb1912bb5c515be"),
    (1659539878, "1a14f8", "9999", "bbb1912bb5c515be"),
]

# Aegis app/src/test/.../crypto/otp/YAOTPTest.java: (pin, base32 secret with checksum,
# time, code).
YANDEX_VECTORS = [
    ("5239", "6SB2IKNM6OBZPAVBVTOHDKS4FAAAAAAADFUTQMBTRY", 1641559648, "umozdicq"),
    ("7586", "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI", 1581064020, "oactmacq"),
    ("7586", "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI", 1581090810, "wemdwrix"),
    ("5210481216086702", "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M", 1581091469, "dfrpywob"),
    ("5210481216086702", "JBGSAU4G7IEZG6OY4UAXX62JU4AAAAAAHTSG4HXU3M", 1581093059, "vunyprpd"),
]


@pytest.mark.parametrize(("count", "expected"), list(enumerate(RFC4226_HOTP)))
def test_rfc4226_hotp(count: int, expected: str) -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=RFC_SEED_SHA1)
    assert code_at(otp, now=0, counter=count) == Code(expected, None, None)


def test_hotp_ignores_now() -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=RFC_SEED_SHA1)
    assert code_at(otp, now=1e9, counter=1).value == code_at(otp, now=0, counter=1).value


@pytest.mark.parametrize(("now", "sha1", "sha256", "sha512"), RFC6238_TOTP)
def test_rfc6238_totp(now: int, sha1: str, sha256: str, sha512: str) -> None:
    for algorithm, seed, expected in [
        (HashAlgorithm.SHA1, RFC_SEED_SHA1, sha1),
        (HashAlgorithm.SHA256, RFC_SEED_SHA256, sha256),
        (HashAlgorithm.SHA512, RFC_SEED_SHA512, sha512),
    ]:
        otp = OtpParams(kind=OtpKind.TOTP, secret=seed, algorithm=algorithm, digits=8)
        code = code_at(otp, now=now)
        assert code.value == expected, algorithm
        step = now // 30
        assert (code.valid_from, code.valid_until) == (step * 30.0, (step + 1) * 30.0)


def test_totp_six_digits_is_the_tail_of_eight() -> None:
    eight = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1, digits=8)
    six = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1)
    assert code_at(six, now=59).value == code_at(eight, now=59).value[2:] == "287082"


def test_ten_digits_pad_with_zeros() -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1, digits=10)
    value = code_at(otp, now=1111111109).value
    assert len(value) == 10
    assert value.endswith("07081804")


def test_short_secret_still_makes_codes() -> None:
    # Google's Key URI example secret is 10 bytes, under pyotp's default floor.
    otp = OtpParams(kind=OtpKind.TOTP, secret=base32_secret("JBSWY3DPEHPK3PXP"))
    assert len(code_at(otp, now=0).value) == 6


def test_non_default_period_windows() -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1, period=60, digits=8)
    code = code_at(otp, now=119.9)
    assert (code.valid_from, code.valid_until) == (60.0, 120.0)
    # RFC 6238 with X=60 at T=119 is the RFC 4226 value for count 1.
    assert code.value[2:] == RFC4226_HOTP[1]


@pytest.mark.parametrize(("now", "expected"), STEAM_VECTORS)
def test_steam(now: int, expected: str) -> None:
    otp = OtpParams.create(OtpKind.STEAM, base32_secret(STEAM_SECRET))
    code = code_at(otp, now=now)
    assert code.value == expected
    assert set(code.value) <= set(STEAM_ALPHABET)


@pytest.mark.parametrize(("now", "expected", "pin", "secret"), MOTP_VECTORS)
def test_motp(now: int, expected: str, pin: str, secret: str) -> None:
    otp = OtpParams.create(OtpKind.MOTP, bytes.fromhex(secret), pin=pin)
    code = code_at(otp, now=now)
    assert code.value == expected
    assert code.valid_until - code.valid_from == 10


@pytest.mark.parametrize(("pin", "secret", "now", "expected"), YANDEX_VECTORS)
def test_yandex(pin: str, secret: str, now: int, expected: str) -> None:
    otp = OtpParams.create(OtpKind.YANDEX, base32_secret(secret), pin=pin)
    assert code_at(otp, now=now).value == expected


def test_yandex_from_qr_secret_without_checksum() -> None:
    full = base32_secret("LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI")
    short = OtpParams.create(OtpKind.YANDEX, full[:16], pin="7586")
    assert code_at(short, now=1581064020).value == "oactmacq"


@pytest.mark.parametrize(
    ("now", "left"), [(0, 30), (0.5, 30), (29, 1), (29.99, 1), (30, 30), (59.5, 1)]
)
def test_seconds_left(now: float, left: int) -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1)
    assert seconds_left(otp, now) == left


def test_seconds_left_motp_and_hotp() -> None:
    motp = OtpParams.create(OtpKind.MOTP, b"\x01" * 8, pin="1234")
    assert seconds_left(motp, 1234567891) == 9
    assert seconds_left(OtpParams(kind=OtpKind.HOTP, secret=b"k"), 5) is None


@pytest.mark.parametrize("now", [-1, -0.5, math.nan, math.inf, "59", None, True, 2.0**70])
def test_bad_now_is_a_usage_error(now: object) -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1)
    with pytest.raises(UsageError, match="now"):
        code_at(otp, now=now)


@pytest.mark.parametrize("counter", [-1, 2**64, 1.0, "1"])
def test_bad_counter_is_a_usage_error(counter: object) -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=RFC_SEED_SHA1)
    with pytest.raises(UsageError, match="counter"):
        code_at(otp, now=0, counter=counter)


@given(
    secret=st.binary(min_size=1, max_size=64),
    counter=st.integers(min_value=0, max_value=2**64 - 1),
    digits=st.integers(min_value=6, max_value=10),
)
def test_hotp_matches_rfc4226_by_hand(secret: bytes, counter: int, digits: int) -> None:
    mac = hmac.new(secret, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    truncated = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    expected = str(truncated % 10**digits).zfill(digits)
    otp = OtpParams(kind=OtpKind.HOTP, secret=secret, digits=digits)
    assert code_at(otp, now=0, counter=counter).value == expected


def _md5_truncated(secret: bytes, counter: int, digits: int, *, clamp: bool) -> tuple[int, str]:
    """RFC 4226 dynamic truncation over HMAC-MD5, written out by hand; returns (offset, code)."""
    mac = hmac.new(secret, counter.to_bytes(8, "big"), hashlib.md5).digest()
    assert len(mac) == 16
    offset = mac[-1] & 0x0F
    used = min(offset, len(mac) - 4) if clamp else offset
    window = mac[used : used + 4]
    assert len(window) == 4, "the straightforward RFC 4226 read runs off a 16-byte MAC"
    truncated = int.from_bytes(window, "big") & 0x7FFFFFFF
    return offset, str(truncated % 10**digits).zfill(digits)


@pytest.mark.parametrize("digits", [6, 8, 10])
def test_md5_hotp_is_rfc4226_where_the_offset_fits(digits: int) -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=RFC_SEED_SHA1, algorithm="MD5", digits=digits)
    checked = 0
    for counter in range(201):
        mac = hmac.new(RFC_SEED_SHA1, counter.to_bytes(8, "big"), hashlib.md5).digest()
        if mac[-1] & 0x0F > 12:
            continue
        _, expected = _md5_truncated(RFC_SEED_SHA1, counter, digits, clamp=False)
        assert code_at(otp, now=0, counter=counter).value == expected
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("digits", [6, 8, 10])
def test_md5_hotp_clamps_an_offset_past_the_mac(digits: int) -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=RFC_SEED_SHA1, algorithm="MD5", digits=digits)
    found = [
        counter
        for counter in range(201)
        if hmac.new(RFC_SEED_SHA1, counter.to_bytes(8, "big"), hashlib.md5).digest()[-1] & 0x0F > 12
    ]
    assert found, "no counter in 0..200 gives an MD5 offset of 13 to 15"
    for counter in found:
        offset, expected = _md5_truncated(RFC_SEED_SHA1, counter, digits, clamp=True)
        assert 13 <= offset <= 15
        value = code_at(otp, now=0, counter=counter).value
        assert value == expected
        assert len(value) == digits
        assert value.isdigit()


def test_md5_totp_uses_the_same_truncation() -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1, algorithm="MD5", digits=8)
    for now in range(0, 30 * 201, 30):
        code = code_at(otp, now=now)
        assert code.value == _md5_truncated(RFC_SEED_SHA1, now // 30, 8, clamp=True)[1]
        assert (code.valid_from, code.valid_until) == (float(now), now + 30.0)


@given(
    secret=st.binary(min_size=1, max_size=64),
    counter=st.integers(min_value=0, max_value=2**64 - 1),
    digits=st.integers(min_value=6, max_value=10),
)
def test_md5_hotp_never_raises(secret: bytes, counter: int, digits: int) -> None:
    otp = OtpParams(kind=OtpKind.HOTP, secret=secret, algorithm=HashAlgorithm.MD5, digits=digits)
    value = code_at(otp, now=0, counter=counter).value
    assert value == _md5_truncated(secret, counter, digits, clamp=True)[1]


@given(now=st.floats(min_value=0, max_value=2**40), period=st.integers(1, 86400))
def test_window_holds_now(now: float, period: int) -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=RFC_SEED_SHA1, period=period)
    code = code_at(otp, now=now)
    assert code.valid_from is not None
    assert code.valid_until is not None
    assert code.valid_from <= now < code.valid_until
    assert code.valid_until - code.valid_from == period
    left = seconds_left(otp, now)
    assert left is not None
    assert 1 <= left <= period
