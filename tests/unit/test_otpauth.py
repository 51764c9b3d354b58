"""Key URIs as real QR codes and exports carry them, every refusal, and round trips."""

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
)
from twofold.protocol.errors import InvalidUri
from twofold.protocol.otpauth import emit_uri, parse_uri
from twofold.protocol.text import invisible

HELLO = "JBSWY3DPEHPK3PXP"  # Google's Key URI example secret
HELLO_BYTES = b"Hello!\xde\xad\xbe\xef"
STEAM = "63BEDWCQZKTQWPESARIERL5DTTQFCJTK"  # KeePassXC tests/TestTotp.cpp
YANDEX = "LA2V6KMCGYMWWVEW64RNP3JA3IAAAAAAHTSG4HRZPI"  # Aegis YAOTPTest.java


def totp(secret: bytes = HELLO_BYTES, **kwargs: object) -> OtpParams:
    return OtpParams(kind=OtpKind.TOTP, secret=secret, **kwargs)


REAL_WORLD = [
    # Google Authenticator wiki, "Key Uri Format": the example and the full form.
    (
        f"otpauth://totp/Example:alice@google.com?secret={HELLO}&issuer=Example",
        AccountDraft("Example", "alice@google.com", totp()),
    ),
    (
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
        AccountDraft(
            "ACME Co",
            "john.doe@email.com",
            totp(base32_secret("HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ")),
        ),
    ),
    # The wiki's label example: encoded colon, then an encoded space before the name.
    (
        f"otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?secret={HELLO}",
        AccountDraft("Big Corporation", "alice@bigco.com", totp()),
    ),
    (
        f"otpauth://totp/GitHub:octocat?secret={HELLO}&issuer=GitHub",
        AccountDraft("GitHub", "octocat", totp()),
    ),
    (
        "otpauth://totp/Amazon%20Web%20Services:alice@123456789012"
        f"?secret={HELLO}&issuer=Amazon%20Web%20Services",
        AccountDraft("Amazon Web Services", "alice@123456789012", totp()),
    ),
    (
        f"otpauth://totp/Microsoft:alice%40outlook.com?secret={HELLO}&issuer=Microsoft",
        AccountDraft("Microsoft", "alice@outlook.com", totp()),
    ),
    (
        f"otpauth://totp/ACME%3A%20Labs:bob?secret={HELLO}&issuer=ACME%3A%20Labs",
        AccountDraft("ACME: Labs", "bob", totp()),
    ),
    (
        f"otpauth://totp/B%C3%BCcher:anna?secret={HELLO}&issuer=B%C3%BCcher",
        AccountDraft("Bücher", "anna", totp()),
    ),
    (
        f"otpauth://totp/Bücher:anna?secret={HELLO}&issuer=Bücher",
        AccountDraft("Bücher", "anna", totp()),
    ),
    (
        "otpauth://totp/Example:alice?secret=jbsw%20y3dp%20ehpk%203pxp&issuer=Example",
        AccountDraft("Example", "alice", totp()),
    ),
    (
        "otpauth://totp/Example:alice?secret=jbsw+y3dp+ehpk+3pxp====",
        AccountDraft("Example", "alice", totp()),
    ),
    (
        f"otpauth://totp/Team #1:alice#work?secret={HELLO}",
        AccountDraft("Team #1", "alice#work", totp()),
    ),
    (
        f"otpauth://totp/C++:bob?secret={HELLO}&issuer=C%2B%2B",
        AccountDraft("C++", "bob", totp()),
    ),
    (
        f"otpauth://totp/alice?secret={HELLO}&issuer=Big+Corp",
        AccountDraft("Big Corp", "alice", totp()),
    ),
    (
        f"otpauth://totp/alice@google.com?secret={HELLO}&issuer=Example",
        AccountDraft("Example", "alice@google.com", totp()),
    ),
    (
        f"otpauth://totp/Old%20Name:alice?secret={HELLO}&issuer=New%20Name",
        AccountDraft("New Name", "alice", totp()),
    ),
    (
        f"otpauth://totp/dev/ops:alice?secret={HELLO}",
        AccountDraft("dev/ops", "alice", totp()),
    ),
    (
        f"otpauth://totp/Mail:?secret={HELLO}",
        AccountDraft("Mail", "", totp()),
    ),
    (
        f"OTPAUTH://TOTP/X:Y?SECRET={HELLO}&ALGORITHM=sha256&Digits=8&PERIOD=60",
        AccountDraft("X", "Y", totp(algorithm="SHA256", digits=8, period=60)),
    ),
    (
        f"otpauth://totp/X:y?secret={HELLO}&algorithm=HmacSHA512&image=https://x/y.png&foo",
        AccountDraft("X", "y", totp(algorithm="SHA512")),
    ),
    (
        f"otpauth://totp/X:y?secret={HELLO}&digits=8&digits=8&counter=junk",
        AccountDraft("X", "y", totp(digits=8)),
    ),
    (
        f"  otpauth://hotp/Bank:alice?secret={HELLO}&counter=42\n",
        AccountDraft("Bank", "alice", OtpParams(kind=OtpKind.HOTP, secret=HELLO_BYTES), 42),
    ),
    # Steam as Aegis writes it, and as KeePassXC writes it (its own test URI).
    (
        f"otpauth://steam/Steam:gamer?secret={STEAM}&issuer=Steam&period=30&digits=5&algorithm=SHA1",
        AccountDraft("Steam", "gamer", OtpParams.create("steam", base32_secret(STEAM))),
    ),
    (
        f"otpauth://totp/test:test@example.com?secret={STEAM}&issuer=Valve&algorithm=SHA1"
        "&digits=5&period=30&encoder=steam",
        AccountDraft("Valve", "test@example.com", OtpParams.create("steam", base32_secret(STEAM))),
    ),
    (
        f"otpauth://steam/Steam:gamer?secret={STEAM}",
        AccountDraft("Steam", "gamer", OtpParams.create("steam", base32_secret(STEAM))),
    ),
    # mOTP as privacyIDEA and Authenticator Pro write it (hex secret), PIN in the URI.
    (
        "motp://privacyidea:mylabel?secret=e3152afee62599c8&pin=1234",
        AccountDraft(
            "privacyidea",
            "mylabel",
            OtpParams.create("motp", bytes.fromhex("e3152afee62599c8"), pin="1234"),
        ),
    ),
    # Yandex as Aegis writes it: yaotp host, PIN as base32 of its UTF-8 ("7586").
    (
        f"otpauth://yaotp/Yandex:me?period=30&digits=8&algorithm=SHA256&secret={YANDEX}"
        "&pin=G42TQNQ&issuer=Yandex",
        AccountDraft("Yandex", "me", OtpParams.create("yandex", base32_secret(YANDEX), pin="7586")),
    ),
    (
        f"otpauth://yaotp/me?secret={YANDEX[:26]}&pin=7586",
        AccountDraft("", "me", OtpParams.create("yandex", base32_secret(YANDEX), pin="7586")),
    ),
]


@pytest.mark.parametrize(("uri", "expected"), REAL_WORLD)
def test_real_world_uris(uri: str, expected: AccountDraft) -> None:
    assert parse_uri(uri) == expected
    assert parse_uri(emit_uri(expected)) == expected


def test_pin_can_come_from_the_person() -> None:
    uri = "motp://privacyidea:mylabel?secret=12345678"
    with pytest.raises(InvalidUri) as caught:
        parse_uri(uri)
    assert caught.value.field == "pin"
    assert parse_uri(uri, pin="4321").otp.pin == "4321"
    assert parse_uri(f"{uri}&pin=1111", pin="4321").otp.pin == "1111"


def uri_with(**params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"otpauth://totp/Example:alice?{query}"


REFUSALS = [
    ("", "uri", "otpauth://"),
    ("http://example.com/?secret=JBSWY3DP", "uri", "otpauth://"),
    ("otpauth:totp/x?secret=JBSWY3DP", "uri", "otpauth://"),
    ("otpauth-migration://offline?data=CjEKCkhlbGxv", "uri", "otpauth://"),
    ("otpauth://totp/x?secret=" + "A" * 70000, "uri", "longer"),
    ("otpauth://sms/x?secret=JBSWY3DP", "type", "unknown type"),
    ("otpauth:///x?secret=JBSWY3DP", "type", "no type"),
    ("otpauth://totp?secret=JBSWY3DP", "label", "no label"),
    ("otpauth://totp/?secret=JBSWY3DP&issuer=X", "label", "empty"),
    ("otpauth://totp/%20:%20?secret=JBSWY3DP", "label", "empty"),
    ("otpauth://totp/Example:alice", "secret", "no secret"),
    (uri_with(secret=""), "secret", "empty"),
    (uri_with(secret="JBSWY3D1"), "secret", "base32"),
    (uri_with(secret="JBSWY3DPE"), "secret", "length"),
    (uri_with(secret="%FF%FE"), "secret", "UTF-8"),
    (uri_with(secret="A" * 1640), "secret", "1024"),
    (uri_with(secret=HELLO, issuer="%C3"), "issuer", "UTF-8"),
    ("otpauth://totp/%FF:alice?secret=JBSWY3DP", "issuer", "UTF-8"),
    ("otpauth://totp/Example:%FF?secret=JBSWY3DP", "name", "UTF-8"),
    ("otpauth://totp/Example:a%0Ab?secret=JBSWY3DP", "name", "control"),
    ("otpauth://totp/Example:" + "n" * 257 + "?secret=JBSWY3DP", "name", "256"),
    ("otpauth://hotp/Example:alice?secret=JBSWY3DP", "counter", "hotp needs a counter"),
    ("otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=", "counter", "whole number"),
    ("otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=-1", "counter", "whole number"),
    ("otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=1.5", "counter", "whole number"),
    ("otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=" + "9" * 30, "counter", "whole"),
    (
        "otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=9223372036854775808",
        "counter",
        "between 0",
    ),
    (uri_with(secret=HELLO, digits="six"), "digits", "whole number"),
    (uri_with(secret=HELLO, digits="-6"), "digits", "whole number"),
    (uri_with(secret=HELLO, digits="٦"), "digits", "whole number"),
    (uri_with(secret=HELLO, digits="12"), "digits", "between 6 and 10"),
    (uri_with(secret=HELLO, digits="5"), "digits", "between 6 and 10"),
    (uri_with(secret=HELLO, period="0"), "period", "between 1"),
    (uri_with(secret=HELLO, period="86401"), "period", "between 1"),
    (uri_with(secret=HELLO, period="thirty"), "period", "whole number"),
    (uri_with(secret=HELLO, period="30.5"), "period", "whole number"),
    (uri_with(secret=HELLO, algorithm="SHA3"), "algorithm", "SHA1, SHA256, SHA512 or MD5"),
    (f"{uri_with(secret=HELLO, digits='6')}&Digits=8", "digits", "twice"),
    (f"{uri_with(secret=HELLO)}&secret=GEZDGNBV", "secret", "twice"),
    (uri_with(secret=HELLO, encoder="base26"), "encoder", "steam"),
    (
        "otpauth://hotp/Example:alice?secret=JBSWY3DP&counter=1&encoder=steam",
        "encoder",
        "totp",
    ),
    (f"otpauth://steam/Steam:x?secret={STEAM}&digits=6", "digits", "exactly 5"),
    (f"otpauth://steam/Steam:x?secret={STEAM}&period=60", "period", "every 30"),
    (f"otpauth://steam/Steam:x?secret={STEAM}&algorithm=SHA256", "algorithm", "SHA1"),
    ("motp://x:y?secret=JBSWY3DP&pin=1234", "secret", "hexadecimal"),
    ("motp://x:y?secret=abc&pin=1234", "secret", "hexadecimal"),
    ("motp://x:y?secret=e3152afee62599c8", "pin", "needs a PIN"),
    ("motp://x:y?secret=e3152afee62599c8&pin=12", "pin", "4 digits"),
    ("motp://x:y?secret=e3152afee62599c8&pin=1234&period=30", "period", "every 10"),
    (f"otpauth://yaotp/me?secret={YANDEX}", "pin", "needs a PIN"),
    (f"otpauth://yaotp/me?secret={YANDEX}&pin=!!!!", "pin", "base32"),
    (f"otpauth://yaotp/me?secret={YANDEX}&pin=MFRGGZA", "pin", "digits only"),
    (f"otpauth://yaotp/me?secret={YANDEX}&pin=74", "pin", "4 to 16"),
    (f"otpauth://yaotp/me?secret={YANDEX}&pin=7586&digits=6", "digits", "exactly 8"),
    (f"otpauth://yaotp/me?secret={HELLO}&pin=7586", "secret", "16 bytes"),
    (f"otpauth://yaotp/me?secret=A{YANDEX[1:]}&pin=7586", "secret", "checksum"),
]


@pytest.mark.parametrize("spelled", ["MD5", "md5", "Md5", "HMAC-MD5"])
@pytest.mark.parametrize(
    "uri",
    [
        f"otpauth://totp/Example:alice?secret={HELLO}",
        f"otpauth://hotp/Example:alice?secret={HELLO}&counter=7",
    ],
)
def test_md5_is_accepted_for_totp_and_hotp(uri: str, spelled: str) -> None:
    draft = parse_uri(f"{uri}&algorithm={spelled}")
    assert draft.otp.algorithm is HashAlgorithm.MD5
    assert "algorithm=MD5" in emit_uri(draft)
    assert parse_uri(emit_uri(draft)) == draft


@pytest.mark.parametrize(("uri", "field", "word"), REFUSALS)
def test_refusals(uri: str, field: str, word: str) -> None:
    with pytest.raises(InvalidUri) as caught:
        parse_uri(uri)
    assert caught.value.field == field
    assert word in caught.value.detail


def test_non_text_is_refused() -> None:
    with pytest.raises(InvalidUri) as caught:
        parse_uri(b"otpauth://totp/x?secret=JBSWY3DP")
    assert caught.value.field == "uri"


def test_yandex_pin_that_is_not_utf8_is_refused() -> None:
    pin = secret_to_base32(b"\xff\xfe\xfd\xfc")
    with pytest.raises(InvalidUri) as caught:
        parse_uri(f"otpauth://yaotp/me?secret={YANDEX}&pin={pin}")
    assert caught.value.field == "pin"
    assert "base32" in caught.value.detail


CANONICAL = [
    (
        AccountDraft("Example", "alice@google.com", totp()),
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
        "&algorithm=SHA1&digits=6&period=30",
    ),
    (
        AccountDraft("A:B & C", "x+y #1/?=%", totp(algorithm="SHA512", digits=8, period=60)),
        "otpauth://totp/A%3AB%20%26%20C:x%2By%20%231%2F%3F%3D%25?secret=JBSWY3DPEHPK3PXP"
        "&issuer=A%3AB%20%26%20C&algorithm=SHA512&digits=8&period=60",
    ),
    (
        AccountDraft("", "alice", totp()),
        "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30",
    ),
    (
        AccountDraft("", "a:b", totp()),
        "otpauth://totp/:a%3Ab?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30",
    ),
    (
        AccountDraft("Bücher", "anna", OtpParams(kind=OtpKind.HOTP, secret=HELLO_BYTES), 7),
        "otpauth://hotp/B%C3%BCcher:anna?secret=JBSWY3DPEHPK3PXP&issuer=B%C3%BCcher"
        "&algorithm=SHA1&digits=6&period=30&counter=7",
    ),
    (
        AccountDraft("Steam", "gamer", OtpParams.create("steam", base32_secret(STEAM))),
        f"otpauth://steam/Steam:gamer?secret={STEAM}&issuer=Steam&algorithm=SHA1"
        "&digits=5&period=30",
    ),
    (
        AccountDraft(
            "Corp", "bob", OtpParams.create("motp", bytes.fromhex("e3152afee62599c8"), pin="1234")
        ),
        "motp://Corp:bob?secret=e3152afee62599c8&issuer=Corp&pin=1234",
    ),
    (
        AccountDraft("Yandex", "me", OtpParams.create("yandex", base32_secret(YANDEX), pin="7586")),
        "otpauth://yaotp/Yandex:me?secret=LA2V6KMCGYMWWVEW64RNP3JA3I&issuer=Yandex"
        "&algorithm=SHA256&digits=8&period=30&pin=G42TQNQ",
    ),
]


@pytest.mark.parametrize(("draft", "uri"), CANONICAL)
def test_emit_canonical_form(draft: AccountDraft, uri: str) -> None:
    assert emit_uri(draft) == uri
    assert parse_uri(uri) == draft


def test_note_is_not_carried() -> None:
    draft = AccountDraft("Example", "alice", totp(), note="recovery codes in the safe")
    assert "safe" not in emit_uri(draft)
    assert parse_uri(emit_uri(draft)).note == ""


# What a label may hold: no control and nothing that hides or reorders (protocol/text.py).
LABEL_CHARS = st.one_of(
    st.sampled_from([*":#@%+ /?&=;,'\"\\<>[]{}|^`~!$*()", "%3A", "%25", "é", "ü", "😀"]),
    st.characters(blacklist_categories=("Cc", "Cs")).filter(lambda c: not invisible(c)),
)
LABEL_TEXT = st.lists(LABEL_CHARS, max_size=12).map(lambda parts: "".join(parts)[:256].strip())
DIGIT_PIN = st.text(alphabet="0123456789", min_size=4, max_size=16)


@st.composite
def otp_params(draw: st.DrawFn) -> OtpParams:
    kind = draw(st.sampled_from(OtpKind))
    secret = draw(st.binary(min_size=1, max_size=64))
    if kind in (OtpKind.TOTP, OtpKind.HOTP):
        return OtpParams(
            kind=kind,
            secret=secret,
            algorithm=draw(st.sampled_from(HashAlgorithm)),
            digits=draw(st.integers(6, 10)),
            period=draw(st.integers(1, 86400)),
        )
    if kind is OtpKind.STEAM:
        return OtpParams.create(kind, secret)
    if kind is OtpKind.MOTP:
        return OtpParams.create(kind, secret, pin=draw(DIGIT_PIN.map(lambda p: p[:4])))
    return OtpParams.create(kind, draw(st.binary(min_size=16, max_size=16)), pin=draw(DIGIT_PIN))


@st.composite
def drafts(draw: st.DrawFn) -> AccountDraft:
    otp = draw(otp_params())
    issuer = draw(LABEL_TEXT)
    name = draw(LABEL_TEXT if issuer else LABEL_TEXT.filter(bool))
    counter = draw(st.integers(0, 2**63 - 1)) if otp.kind is OtpKind.HOTP else 0
    return AccountDraft(issuer=issuer, name=name, otp=otp, counter=counter)


@given(drafts())
def test_emit_then_parse_is_identity(draft: AccountDraft) -> None:
    assert parse_uri(emit_uri(draft)) == draft


KNOWN_KEYS = ["secret", "issuer", "algorithm", "digits", "period", "counter", "pin", "encoder"]
URI_LIKE = st.builds(
    lambda scheme, kind, label, params: (
        f"{scheme}{kind}{label}?" + "&".join(f"{k}={v}" for k, v in params)
    ),
    st.sampled_from(["otpauth://", "OTPAUTH://", "motp://", "otpauth:/", ""]),
    st.sampled_from(["totp/", "hotp/", "steam/", "yaotp/", "", "x/"]),
    st.text(max_size=20),
    st.lists(
        st.tuples(
            st.sampled_from([*KNOWN_KEYS, "Digits", "x", ""]),
            st.one_of(st.text(max_size=20), st.sampled_from([HELLO, "8", "%FF", "+", "-1"])),
        ),
        max_size=6,
    ),
)
MUTATED = st.builds(
    lambda uri, at, junk: uri[:at] + junk + uri[at:],
    drafts().map(emit_uri),
    st.integers(0, 300),
    st.text(max_size=5),
)


@given(st.one_of(st.text(), URI_LIKE, MUTATED))
def test_parse_returns_a_draft_or_refuses(text: str) -> None:
    try:
        result: AccountDraft | InvalidUri = parse_uri(text)
    except InvalidUri as error:
        result = error
    if isinstance(result, InvalidUri):
        assert result.field
        assert result.detail
    else:
        assert isinstance(result, AccountDraft)


@pytest.mark.parametrize("spelled", ["%C5%BFha1", "%C5%BFHA256", "SHA%C4%B1"])
def test_an_algorithm_spelled_with_letters_that_only_case_into_ascii_is_refused(
    spelled: str,
) -> None:
    """Long s (U+017F) upper-cases to S and dotless i (U+0131) to I: any case of ASCII is
    read, nothing else."""
    with pytest.raises(InvalidUri) as caught:
        parse_uri(f"otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm={spelled}")
    assert caught.value.field == "algorithm"
    assert parse_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=sha256").otp.algorithm
