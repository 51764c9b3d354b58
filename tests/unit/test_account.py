"""The account model refuses what could not make working codes, naming the field to fix."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twofold.protocol.account import (
    AccountDraft,
    HashAlgorithm,
    OtpKind,
    OtpParams,
    base32_secret,
    secret_to_base32,
    yandex_checksum_ok,
)
from twofold.protocol.errors import InvalidAccount, InvalidUri

KEY = b"12345678901234567890"
YANDEX_FULL = "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI"


def refused(field: str, word: str, **kwargs: object) -> None:
    with pytest.raises(InvalidAccount) as caught:
        OtpParams(**kwargs)
    assert caught.value.field == field
    assert word in caught.value.detail


def test_defaults_are_google_authenticators() -> None:
    otp = OtpParams(kind=OtpKind.TOTP, secret=KEY)
    assert (otp.algorithm, otp.digits, otp.period, otp.pin) == (HashAlgorithm.SHA1, 6, 30, None)


def test_enums_given_as_text_are_stored_as_enums() -> None:
    otp = OtpParams(kind="TOTP", secret=KEY, algorithm="sha256")
    assert otp.kind is OtpKind.TOTP
    assert otp.algorithm is HashAlgorithm.SHA256
    assert otp == OtpParams(kind=OtpKind.TOTP, secret=KEY, algorithm=HashAlgorithm.SHA256)


def test_secret_and_pin_stay_out_of_repr() -> None:
    shown = repr(OtpParams.create(OtpKind.MOTP, b"\xab" * 8, pin="9876"))
    assert "9876" not in shown
    assert "\\xab" not in shown
    assert "secret=" not in shown


def test_bytearray_secret_is_stored_as_bytes() -> None:
    assert type(OtpParams(kind=OtpKind.TOTP, secret=bytearray(KEY)).secret) is bytes


@pytest.mark.parametrize(
    ("kwargs", "field", "word"),
    [
        ({"kind": "sms", "secret": KEY}, "kind", "one of"),
        ({"kind": 1, "secret": KEY}, "kind", "one of"),
        ({"kind": "totp", "secret": KEY, "algorithm": "SHA3"}, "algorithm", "one of"),
        ({"kind": "totp", "secret": b""}, "secret", "empty"),
        ({"kind": "totp", "secret": "JBSWY3DP"}, "secret", "bytes"),
        ({"kind": "totp", "secret": b"k" * 1025}, "secret", "1024"),
        ({"kind": "totp", "secret": KEY, "digits": 5}, "digits", "between 6 and 10"),
        ({"kind": "hotp", "secret": KEY, "digits": 11}, "digits", "between 6 and 10"),
        ({"kind": "totp", "secret": KEY, "digits": "6"}, "digits", "whole number"),
        ({"kind": "totp", "secret": KEY, "digits": True}, "digits", "whole number"),
        ({"kind": "totp", "secret": KEY, "period": 0}, "period", "between 1 and 86400"),
        ({"kind": "hotp", "secret": KEY, "period": 86401}, "period", "between 1 and 86400"),
        ({"kind": "totp", "secret": KEY, "period": 30.0}, "period", "whole number"),
        ({"kind": "totp", "secret": KEY, "pin": "1234"}, "pin", "no PIN"),
        ({"kind": "hotp", "secret": KEY, "pin": ""}, "pin", "no PIN"),
    ],
)
def test_totp_hotp_refusals(kwargs: dict[str, object], field: str, word: str) -> None:
    refused(field, word, **kwargs)


@pytest.mark.parametrize("digits", range(6, 11))
@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_totp_accepts_the_rfc_range(digits: int, algorithm: str) -> None:
    OtpParams(kind=OtpKind.TOTP, secret=KEY, digits=digits, algorithm=algorithm)


@pytest.mark.parametrize("kind", [OtpKind.TOTP, OtpKind.HOTP])
@pytest.mark.parametrize("algorithm", ["MD5", "md5", HashAlgorithm.MD5])
def test_totp_hotp_accept_md5(kind: OtpKind, algorithm: str) -> None:
    # Google Authenticator exports can carry MD5; refusing it would lose the account.
    otp = OtpParams(kind=kind, secret=KEY, algorithm=algorithm, digits=8)
    assert otp.algorithm is HashAlgorithm.MD5
    assert OtpParams.create(kind, KEY, algorithm=algorithm).algorithm is HashAlgorithm.MD5


def test_hotp_period_is_kept_though_unused() -> None:
    assert OtpParams(kind=OtpKind.HOTP, secret=KEY, period=86400).period == 86400


@pytest.mark.parametrize(
    ("kind", "algorithm", "digits", "period", "pin"),
    [
        (OtpKind.STEAM, HashAlgorithm.SHA1, 5, 30, None),
        (OtpKind.MOTP, HashAlgorithm.MD5, 6, 10, "1234"),
        (OtpKind.YANDEX, HashAlgorithm.SHA256, 8, 30, "1234"),
    ],
)
def test_create_fills_fixed_schemes(
    kind: OtpKind, algorithm: HashAlgorithm, digits: int, period: int, pin: str | None
) -> None:
    otp = OtpParams.create(kind, b"k" * 16, pin=pin)
    assert (otp.algorithm, otp.digits, otp.period, otp.pin) == (algorithm, digits, period, pin)


@pytest.mark.parametrize(
    ("kwargs", "field", "word"),
    [
        ({"kind": "steam", "secret": KEY}, "digits", "exactly 5"),
        ({"kind": "steam", "secret": KEY, "digits": 5, "period": 60}, "period", "every 30"),
        ({"kind": "steam", "secret": KEY, "digits": 5, "algorithm": "SHA256"}, "algorithm", "SHA1"),
        ({"kind": "steam", "secret": KEY, "digits": 5, "pin": "1234"}, "pin", "no PIN"),
        ({"kind": "motp", "secret": KEY, "period": 10, "algorithm": "MD5"}, "pin", "needs a PIN"),
        (
            {"kind": "motp", "secret": KEY, "period": 10, "algorithm": "MD5", "pin": "12345"},
            "pin",
            "4 digits",
        ),
        (
            {"kind": "motp", "secret": KEY, "period": 10, "algorithm": "MD5", "pin": "12a4"},
            "pin",
            "digits only",
        ),
        (
            {"kind": "motp", "secret": KEY, "period": 10, "algorithm": "MD5", "pin": "١٢٣٤"},
            "pin",
            "digits only",
        ),
        ({"kind": "motp", "secret": KEY, "algorithm": "MD5", "pin": "1234"}, "period", "every 10"),
        ({"kind": "motp", "secret": KEY, "period": 10, "pin": "1234"}, "algorithm", "MD5"),
        (
            {"kind": "yandex", "secret": b"k" * 16, "digits": 8, "algorithm": "SHA256"},
            "pin",
            "needs a PIN",
        ),
        (
            {"kind": "yandex", "secret": b"k" * 16, "digits": 8, "algorithm": "SHA256", "pin": "1"},
            "pin",
            "4 to 16",
        ),
        (
            {
                "kind": "yandex",
                "secret": b"k" * 16,
                "digits": 8,
                "algorithm": "SHA256",
                "pin": "1" * 17,
            },
            "pin",
            "4 to 16",
        ),
        (
            {"kind": "yandex", "secret": b"k" * 16, "algorithm": "SHA256", "pin": "1234"},
            "digits",
            "exactly 8",
        ),
        (
            {
                "kind": "yandex",
                "secret": b"k" * 20,
                "digits": 8,
                "algorithm": "SHA256",
                "pin": "1234",
            },
            "secret",
            "16 bytes",
        ),
    ],
)
def test_fixed_scheme_refusals(kwargs: dict[str, object], field: str, word: str) -> None:
    refused(field, word, **kwargs)


def test_yandex_secret_with_checksum_is_cut_to_16_bytes() -> None:
    full = base32_secret(YANDEX_FULL)
    otp = OtpParams.create(OtpKind.YANDEX, full, pin="7586")
    assert otp.secret == full[:16]
    assert otp == OtpParams.create(OtpKind.YANDEX, full[:16], pin="7586")


def test_yandex_checksum() -> None:
    # Aegis app/src/test/.../otp/YandexInfoTest.java: a correct secret, and the same
    # secret with its first letter changed.
    assert yandex_checksum_ok(base32_secret(YANDEX_FULL))
    bad = base32_secret("A" + YANDEX_FULL[1:])
    assert not yandex_checksum_ok(bad)
    with pytest.raises(InvalidAccount, match="checksum") as caught:
        OtpParams.create(OtpKind.YANDEX, bad, pin="7586")
    assert caught.value.field == "secret"


def draft(**kwargs: object) -> AccountDraft:
    fields: dict[str, object] = {
        "issuer": "GitHub",
        "name": "alice",
        "otp": OtpParams(kind=OtpKind.TOTP, secret=KEY),
    }
    fields.update(kwargs)
    return AccountDraft(**fields)


def test_draft_accepts_issuer_only_or_name_only() -> None:
    assert draft(name="").issuer == "GitHub"
    assert draft(issuer="").name == "alice"


@pytest.mark.parametrize(
    ("kwargs", "field", "word"),
    [
        ({"issuer": "", "name": ""}, "name", "name or an issuer"),
        ({"issuer": "x" * 257}, "issuer", "256"),
        ({"name": "x" * 257}, "name", "256"),
        ({"name": "a\nb"}, "name", "control"),
        ({"issuer": "a\x00"}, "issuer", "control"),
        ({"issuer": "\ud800"}, "issuer", "control"),
        ({"name": " alice"}, "name", "spaces"),
        ({"issuer": "GitHub "}, "issuer", "spaces"),
        ({"issuer": None}, "issuer", "text"),
        ({"name": 5}, "name", "text"),
        ({"otp": {"kind": "totp"}}, "otp", "OtpParams"),
        ({"counter": -1}, "counter", "between 0"),
        ({"counter": 2**63}, "counter", "between 0"),
        ({"counter": "3"}, "counter", "whole number"),
        ({"counter": 3}, "counter", "only hotp"),
        ({"note": "x" * 4097}, "note", "4096"),
        ({"note": None}, "note", "text"),
        ({"note": "\udfff"}, "note", "Unicode"),
    ],
)
def test_draft_refusals(kwargs: dict[str, object], field: str, word: str) -> None:
    with pytest.raises(InvalidAccount) as caught:
        draft(**kwargs)
    assert caught.value.field == field
    assert word in caught.value.detail


def test_draft_limits_are_inclusive() -> None:
    hotp = OtpParams(kind=OtpKind.HOTP, secret=KEY)
    assert draft(issuer="é" * 256, name="n" * 256, note="a\nb" * 1365, otp=hotp, counter=2**63 - 1)


@pytest.mark.parametrize(
    "text",
    [
        "JBSWY3DPEHPK3PXP",
        "jbswy3dpehpk3pxp",
        "jbsw y3dp ehpk 3pxp",
        "JBSW-Y3DP-EHPK-3PXP",
        " JBSWY3DPEHPK3PXP\n",
        "JBSWY3DPEHPK3PXP====",
    ],
)
def test_base32_secret_accepts_what_qr_codes_hold(text: str) -> None:
    assert base32_secret(text) == b"Hello!\xde\xad\xbe\xef"


def test_base32_secret_unpadded_lengths() -> None:
    assert base32_secret("MY") == b"f"
    assert base32_secret("MZXQ") == b"fo"
    assert base32_secret("mzxw6") == b"foo"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("", "empty"),
        (" - ", "empty"),
        ("====", "empty"),
        ("JBSWY3DP1", "base32"),
        ("JBSW=Y3DP", "base32"),
        ("ßBSWY3DP", "base32"),
        ("MZXW6Y", "length"),
        ("A", "length"),
        (b"JBSWY3DP", "text"),
    ],
)
def test_base32_secret_refusals(text: str, word: str) -> None:
    with pytest.raises(InvalidAccount) as caught:
        base32_secret(text)
    assert caught.value.field == "secret"
    assert word in caught.value.detail


def test_base32_secret_can_raise_uri_errors_for_any_field() -> None:
    with pytest.raises(InvalidUri) as caught:
        base32_secret("!!", "pin", error=InvalidUri)
    assert caught.value.field == "pin"
    assert "not valid base32" in caught.value.detail


def test_secret_to_base32_is_upper_and_unpadded() -> None:
    assert secret_to_base32(b"f") == "MY"
    assert secret_to_base32(b"Hello!\xde\xad\xbe\xef") == "JBSWY3DPEHPK3PXP"


@given(st.binary(min_size=1, max_size=200))
def test_base32_round_trip(secret: bytes) -> None:
    text = secret_to_base32(secret)
    assert base32_secret(text) == secret
    assert base32_secret(text.lower()) == secret
