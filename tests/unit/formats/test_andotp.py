"""andOTP plain backups as andOTP's Entry.toJSON writes them, and the older ones without issuer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twofold.protocol.account import AccountDraft, HashAlgorithm, OtpKind, OtpParams
from twofold.protocol.errors import UnreadableImport
from twofold.protocol.formats import andotp

TOTP_KEY = b"twofold-totp-key"  # base32 OR3W6ZTPNRSC25DPORYC223FPE
HOTP_KEY = b"hotp-key-for-tests!!"  # NBXXI4BNNNSXSLLGN5ZC25DFON2HGIJB
STEAM_KEY = b"steam-guard-key-20b!"  # ON2GKYLNFVTXKYLSMQWWWZLZFUZDAYRB


def entry(**fields: Any) -> dict[str, Any]:
    """Every field Entry.toJSON writes; andOTP pads secrets to whole base32 blocks."""
    return {
        "secret": "OR3W6ZTPNRSC25DPORYC223FPE======",
        "issuer": "Example",
        "label": "alice@example.com",
        "digits": 6,
        "type": "TOTP",
        "algorithm": "SHA1",
        "thumbnail": "Default",
        "last_used": 1608146844162,
        "used_frequency": 3,
        "period": 30,
        "tags": ["work"],
        **fields,
    }


BACKUP = [
    entry(algorithm="SHA256", digits=7, period=20),
    entry(
        secret="NBXXI4BNNNSXSLLGN5ZC25DFON2HGIJB",
        issuer="Issuu",
        label="bob",
        type="HOTP",
        algorithm="SHA512",
        digits=8,
        period=None,
        counter=10300,
    ),
    # andOTP writes no period for STEAM entries.
    entry(
        secret="ON2GKYLNFVTXKYLSMQWWWZLZFUZDAYRB",
        issuer="Steam",
        label="gaben",
        type="STEAM",
        digits=5,
        period=None,
    ),
]


def dump(doc: object) -> bytes:
    return json.dumps(doc).encode()


def drafts(doc: object) -> list[AccountDraft]:
    parsed = andotp.parse(dump(doc))
    assert parsed.failures == ()
    return [account.draft for account in parsed.accounts]


def test_a_backup_gives_every_type_with_every_field() -> None:
    parsed = andotp.parse(dump(BACKUP))
    assert parsed.format == "andotp"
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
    assert [account.source for account in parsed.accounts] == [
        "entry 1 (Example: alice@example.com)",
        "entry 2 (Issuu: bob)",
        "entry 3 (Steam: gaben)",
    ]


@pytest.mark.parametrize(
    ("label", "issuer", "name"),
    [
        ("Example - alice@example.com", "Example", "alice@example.com"),
        ("Example - alice - work", "Example", "alice - work"),
        ("alice@example.com", "", "alice@example.com"),
        ("Example-alice", "", "Example-alice"),
        ("Example - ", "", "Example"),
        (" - alice", "", "alice"),
    ],
)
def test_an_old_backup_without_issuer_splits_the_label(label: str, issuer: str, name: str) -> None:
    old = entry(label=label)
    del old["issuer"], old["thumbnail"], old["tags"], old["last_used"], old["used_frequency"]
    (draft,) = drafts([old])
    assert (draft.issuer, draft.name) == (issuer, name)


def test_a_label_is_kept_whole_when_the_issuer_is_its_own_field() -> None:
    (draft,) = drafts([entry(issuer=" Example ", label="Example - alice ")])
    assert (draft.issuer, draft.name) == ("Example", "Example - alice")


def test_missing_fields_take_andotp_defaults() -> None:
    bare = {"secret": "or3w6ztpnrsc25dporyc223fpe", "label": "x"}
    steam = {**bare, "type": "steam"}
    totp, steam_draft = drafts([bare, steam])
    assert totp.otp == OtpParams(OtpKind.TOTP, TOTP_KEY)
    assert (totp.issuer, totp.name) == ("", "x")
    assert (steam_draft.otp.kind, steam_draft.otp.digits, steam_draft.otp.period) == (
        OtpKind.STEAM,
        5,
        30,
    )


def test_a_broken_entry_fails_alone() -> None:
    doc = [
        entry(secret="not base32!", issuer="Broken", label="a"),
        BACKUP[0],
        entry(type="MOTP", issuer="Other", label="b"),
        entry(type="HOTP", issuer="Counterless", label="c"),
        entry(issuer="Short", label="d", digits=4),
        entry(issuer="Odd", label="e", algorithm="SHA3"),
        "not an entry",
        entry(issuer=7, label="f"),
    ]
    parsed = andotp.parse(dump(doc))
    assert [account.source for account in parsed.accounts] == [
        "entry 2 (Example: alice@example.com)"
    ]
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert list(reasons) == [
        "entry 1 (Broken: a)",
        "entry 3 (Other: b)",
        "entry 4 (Counterless: c)",
        "entry 5 (Short: d)",
        "entry 6 (Odd: e)",
        "entry 7",
        "entry 8 (f)",
    ]
    assert "base32" in reasons["entry 1 (Broken: a)"]
    assert "'MOTP'" in reasons["entry 3 (Other: b)"]
    assert "counter" in reasons["entry 4 (Counterless: c)"]
    assert "digits" in reasons["entry 5 (Short: d)"]
    assert "algorithm" in reasons["entry 6 (Odd: e)"]
    assert "issuer" in reasons["entry 8 (f)"]


@pytest.mark.parametrize(
    "data",
    [dump(BACKUP)[:50], b"\x00\x01 encrypted bytes", b'{"entries": []}', b'"text"', b""],
)
def test_a_file_that_is_not_a_plain_backup_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableImport):
        andotp.parse(data)


def test_an_empty_backup_holds_nothing() -> None:
    assert andotp.parse(b"[]").accounts == ()


def test_matches_knows_the_shape_and_never_raises() -> None:
    assert andotp.matches(BACKUP)
    assert andotp.matches([{"secret": "X", "label": "y"}])
    for other in (
        [],
        [1],
        [{"secret": "X"}],
        {"tokens": [], "tokenOrder": []},
        {"version": 1, "header": {}, "db": {}},
        None,
        "[]",
    ):
        assert not andotp.matches(other)
