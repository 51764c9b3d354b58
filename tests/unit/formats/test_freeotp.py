"""FreeOTP+ JSON exports as Gson writes FreeOTP's Token: signed secret bytes, counter one behind."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twofold.protocol.account import AccountDraft, HashAlgorithm, OtpKind, OtpParams
from twofold.protocol.errors import UnreadableImport
from twofold.protocol.formats import freeotp

TOTP_KEY = b"twofold-totp-key"
HOTP_KEY = bytes([0xED, 0x40, 0xC5, 0xEE, 0xFB, 0xEC, 0xCE, 0x22, 0x06, 0xB1, 0x5D, 0x75])
STEAM_KEY = b"steam-guard-key-20b!"


def signed(key: bytes) -> list[int]:
    """A byte[] as Gson writes it."""
    return [b - 256 if b > 127 else b for b in key]


def token(**fields: Any) -> dict[str, Any]:
    return {
        "algo": "SHA1",
        "counter": 0,
        "digits": 6,
        "issuerExt": "Example",
        "issuerInt": "Example",
        "label": "alice@example.com",
        "period": 30,
        "secret": signed(TOTP_KEY),
        "type": "TOTP",
        **fields,
    }


EXPORT = {
    "tokenOrder": ["Issuu:bob", "Example:alice@example.com", "Steam:gaben"],
    "tokens": [
        token(algo="SHA256", digits=7, period=20),
        token(
            algo="SHA512",
            counter=10299,
            digits=8,
            issuerExt="Issuu",
            issuerInt="Issuu",
            label="bob",
            secret=[-19, 64, -59, -18, -5, -20, -50, 34, 6, -79, 93, 117],
            type="HOTP",
        ),
        token(digits=5, issuerExt="Steam", issuerInt=None, label="gaben", secret=signed(STEAM_KEY)),
    ],
}


def dump(doc: object) -> bytes:
    return json.dumps(doc).encode()


def drafts(doc: object) -> list[AccountDraft]:
    parsed = freeotp.parse(dump(doc))
    assert parsed.failures == ()
    return [account.draft for account in parsed.accounts]


def test_an_export_gives_every_type_with_every_field() -> None:
    parsed = freeotp.parse(dump(EXPORT))
    assert parsed.format == "freeotp"
    assert [account.draft for account in parsed.accounts] == [
        AccountDraft(
            "Example",
            "alice@example.com",
            OtpParams(OtpKind.TOTP, TOTP_KEY, HashAlgorithm.SHA256, digits=7, period=20),
        ),
        AccountDraft(
            "Issuu",
            "bob",
            OtpParams(OtpKind.HOTP, HOTP_KEY, HashAlgorithm.SHA512, digits=8),
            counter=10300,
        ),
        AccountDraft("Steam", "gaben", OtpParams.create(OtpKind.STEAM, STEAM_KEY)),
    ]
    assert parsed.accounts[1].source == "entry 2 (Issuu: bob)"


def test_secret_bytes_are_read_signed_or_not() -> None:
    every_byte = bytes(range(256))
    (as_java,) = drafts({"tokenOrder": [], "tokens": [token(secret=signed(every_byte))]})
    (unsigned,) = drafts({"tokenOrder": [], "tokens": [token(secret=list(every_byte))]})
    assert as_java.otp.secret == unsigned.otp.secret == every_byte


@pytest.mark.parametrize(("stored", "counter"), [(-1, 0), (0, 1), (41, 42)])
def test_the_counter_is_the_one_freeotp_would_put_in_its_uri(stored: int, counter: int) -> None:
    hotp = token(type="HOTP", counter=stored)
    (draft,) = drafts({"tokenOrder": [], "tokens": [hotp]})
    assert draft.counter == counter


@pytest.mark.parametrize(
    ("fields", "issuer", "name"),
    [
        ({}, "Example", "alice@example.com"),
        ({"issuerAlt": "Renamed", "labelAlt": "alice (work)"}, "Renamed", "alice (work)"),
        ({"issuerExt": "", "issuerInt": "FromUri"}, "FromUri", "alice@example.com"),
        ({"issuerExt": None, "issuerInt": None, "label": " bare "}, "", "bare"),
        ({"labelAlt": ""}, "Example", ""),
    ],
)
def test_labels_are_picked_as_freeotp_shows_them(
    fields: dict[str, Any], issuer: str, name: str
) -> None:
    (draft,) = drafts({"tokenOrder": [], "tokens": [token(**fields)]})
    assert (draft.issuer, draft.name) == (issuer, name)


def test_only_a_totp_token_of_issuer_steam_is_steam() -> None:
    doc = {
        "tokenOrder": [],
        "tokens": [
            token(issuerExt="steam", issuerInt="Steam"),
            token(issuerExt="Steam", type="HOTP", counter=4),
        ],
    }
    totp, hotp = drafts(doc)
    assert totp.otp.kind is OtpKind.TOTP
    assert (hotp.otp.kind, hotp.counter) == (OtpKind.HOTP, 5)


def test_a_broken_token_fails_alone() -> None:
    doc = {
        "tokenOrder": [],
        "tokens": [
            token(issuerExt="Bytes", secret=[1, 2, 300]),
            EXPORT["tokens"][0],
            token(issuerExt="Kind", type="MOTP"),
            token(issuerExt="Short", digits=5),
            token(issuerExt="Steam", label="g", digits=6),
            token(issuerExt="Count", type="HOTP", counter=-2),
            token(issuerExt="Text", secret="OR3W6ZTPNRSC25DPORYC223FPE"),
            token(issuerExt="Label", label=["x"]),
            [],
        ],
    }
    parsed = freeotp.parse(dump(doc))
    assert [account.source for account in parsed.accounts] == [
        "entry 2 (Example: alice@example.com)"
    ]
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert list(reasons) == [
        "entry 1 (Bytes: alice@example.com)",
        "entry 3 (Kind: alice@example.com)",
        "entry 4 (Short: alice@example.com)",
        "entry 5 (Steam: g)",
        "entry 6 (Count: alice@example.com)",
        "entry 7 (Text: alice@example.com)",
        "entry 8 (Label)",
        "entry 9",
    ]
    assert "byte values" in reasons["entry 1 (Bytes: alice@example.com)"]
    assert "'MOTP'" in reasons["entry 3 (Kind: alice@example.com)"]
    assert "digits" in reasons["entry 4 (Short: alice@example.com)"]
    assert "steam" in reasons["entry 5 (Steam: g)"]
    assert "counter" in reasons["entry 6 (Count: alice@example.com)"]
    assert "secret" in reasons["entry 7 (Text: alice@example.com)"]
    assert "label" in reasons["entry 8 (Label)"]


@pytest.mark.parametrize(
    "data",
    [dump(EXPORT)[:60], b"[]", b'{"tokenOrder": []}', b'{"tokens": {}}', b"\xff", b""],
)
def test_a_file_that_is_not_an_export_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImport):
        freeotp.parse(data)


def test_matches_knows_the_shape_and_never_raises() -> None:
    assert freeotp.matches(EXPORT)
    assert freeotp.matches({"tokenOrder": [], "tokens": []})
    for other in (
        {"tokens": []},
        {"tokens": {}, "tokenOrder": []},
        [{"secret": "X", "label": "y"}],
        {"version": 1, "header": {"slots": None, "params": None}, "db": {}},
        None,
        "tokens",
    ):
        assert not freeotp.matches(other)
