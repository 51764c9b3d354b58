"""The encrypted backup (specs/backup.md): round trips, keys, and files that lie."""

from __future__ import annotations

import hashlib
import struct

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings

from twofold.protocol import backup
from twofold.protocol.account import AccountDraft, OtpParams
from twofold.protocol.backup import BackupEntry, BadRecoveryKey, WeakPassphrase
from twofold.protocol.errors import (
    InputError,
    PasswordRequired,
    UnreadableImport,
    UnsafeKdfParameters,
    WrongPassword,
)

from .test_otpauth import LABEL_TEXT, drafts

FAST = {"opslimit": 1, "memlimit": 8 << 20}
PASSPHRASE = "correct horse battery staple"
KEY = "Q5ZX-USW7-L4AB-EHE3-FNLL-NNAP-CH4S-3VTF"


def draft(issuer: str = "GitHub", name: str = "alice", **kw: object) -> AccountDraft:
    otp = OtpParams.create("totp", b"12345678901234567890")
    return AccountDraft(issuer, name, otp, **kw)  # type: ignore[arg-type]


def test_a_passphrase_backup_round_trips_with_notes_and_the_trash() -> None:
    entries = [
        BackupEntry(draft(note="recovery codes in the safe")),
        BackupEntry(draft("Bank", "bob"), trashed=True),
        BackupEntry(AccountDraft("Steam", "gamer", OtpParams.create("steam", b"k" * 10))),
        BackupEntry(AccountDraft("Yandex", "y", OtpParams.create("yandex", b"y" * 16, pin="1234"))),
        BackupEntry(
            AccountDraft("Ex", "hotp", OtpParams.create("hotp", b"h" * 20, digits=8), counter=41)
        ),
    ]
    sealed = backup.seal(entries, passphrase=PASSPHRASE, created_ms=1, **FAST)
    parsed = backup.parse(sealed, PASSPHRASE)
    assert parsed.format == "twofold-backup"
    assert parsed.failures == ()
    assert [(a.draft, a.trashed) for a in parsed.accounts] == [
        (e.draft, e.trashed) for e in entries
    ]
    assert b"alice" not in sealed
    assert b"12345678901234567890" not in sealed


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(drafts(), st.booleans(), LABEL_TEXT), max_size=5))
def test_any_vault_round_trips_under_a_recovery_key(
    items: list[tuple[AccountDraft, bool, str]],
) -> None:
    entries = [
        BackupEntry(AccountDraft(d.issuer, d.name, d.otp, d.counter, note), trashed)
        for d, trashed, note in items
    ]
    sealed = backup.seal(entries, recovery_key=KEY, created_ms=1)
    parsed = backup.parse(sealed, KEY)
    assert [BackupEntry(a.draft, a.trashed) for a in parsed.accounts] == entries


def test_the_passphrase_is_normalised_so_another_keyboard_opens_it() -> None:
    composed, decomposed = "caf\u00e9 au lait!", "cafe\u0301 au lait!"
    sealed = backup.seal([BackupEntry(draft())], passphrase=composed, created_ms=1, **FAST)
    assert len(backup.parse(sealed, decomposed).accounts) == 1


def test_the_header_records_the_argon2_parameters_and_defaults_are_strong() -> None:
    sealed = backup.seal([], passphrase=PASSPHRASE, created_ms=1, **FAST)
    header, _ = backup._read_header(sealed)
    assert (header["kdf"], header["opslimit"], header["memlimit"]) == ("argon2id", 1, 8 << 20)
    assert backup.DEFAULT_MEMLIMIT >= 256 << 20
    assert backup.DEFAULT_OPSLIMIT >= 3
    assert backup.sealed_with(sealed) == "argon2id"


def test_a_wrong_passphrase_says_so_and_nothing_else() -> None:
    sealed = backup.seal([BackupEntry(draft())], passphrase=PASSPHRASE, created_ms=1, **FAST)
    with pytest.raises(WrongPassword) as caught:
        backup.parse(sealed, PASSPHRASE + "!")
    assert str(caught.value) == "password: the passphrase is wrong"
    with pytest.raises(PasswordRequired, match="passphrase"):
        backup.parse(sealed)


def test_recovery_keys_are_random_checked_and_forgiving_to_type() -> None:
    first, second = backup.new_recovery_key(), backup.new_recovery_key()
    assert first != second
    assert len(first) == 39
    assert first.count("-") == 7
    sealed = backup.seal([BackupEntry(draft())], recovery_key=first, created_ms=1)
    typed = first.lower().replace("-", " ").replace("o", "0")
    assert len(backup.parse(sealed, typed).accounts) == 1
    with pytest.raises(PasswordRequired, match="recovery key"):
        backup.parse(sealed)
    typo = ("A" if first[0] != "A" else "B") + first[1:]
    with pytest.raises(BadRecoveryKey, match="typo"):
        backup.parse(sealed, typo)
    with pytest.raises(BadRecoveryKey, match="8 groups"):
        backup.parse(sealed, "a passphrase instead")
    with pytest.raises(WrongPassword, match="the recovery key is wrong"):
        backup.parse(sealed, backup.new_recovery_key())


def test_weak_passphrases_and_two_secrets_are_refused() -> None:
    with pytest.raises(WeakPassphrase):
        backup.seal([], passphrase="short", created_ms=1)
    with pytest.raises(InputError):
        backup.seal([], passphrase=PASSPHRASE, recovery_key=KEY, created_ms=1)


def rebuild(header: dict[str, object], body: bytes, key: bytes, version: int = 1) -> bytes:
    raw = cbor2.dumps(header, canonical=True)
    prefix = backup.MAGIC + struct.pack(">BH", version, len(raw)) + raw
    nonce = header["nonce"]
    assert isinstance(nonce, bytes)
    return prefix + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(body, prefix, nonce, key)


def recovery_header() -> dict[str, object]:
    return {"kdf": "recovery-key", "salt": b"s" * 16, "nonce": b"n" * 24}


def recovery_file_key() -> bytes:
    random = backup._read_recovery_key(KEY)
    return backup._recovery_key(random, b"s" * 16)


def test_every_changed_byte_is_caught() -> None:
    sealed = backup.seal([BackupEntry(draft())], recovery_key=KEY, created_ms=1)
    for index in range(len(sealed)):
        changed = bytearray(sealed)
        changed[index] ^= 0x01
        with pytest.raises(InputError):
            backup.parse(bytes(changed), KEY)


def test_every_truncation_is_a_clear_error() -> None:
    sealed = backup.seal([BackupEntry(draft())], recovery_key=KEY, created_ms=1)
    for length in range(len(sealed)):
        with pytest.raises((UnreadableImport, WrongPassword)):
            backup.parse(sealed[:length], KEY)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(1, 1 << 40), (10**6, 64 << 20), (8, 1 << 30), (0, 8 << 20), (1, 10)],
)
def test_absurd_argon2_parameters_are_refused_before_any_memory_is_spent(
    opslimit: int, memlimit: int
) -> None:
    header = {"kdf": "argon2id", "salt": b"s" * 16, "nonce": b"n" * 24}
    header |= {"opslimit": opslimit, "memlimit": memlimit}
    bomb = rebuild(header, b"", b"k" * 32)
    with pytest.raises(UnsafeKdfParameters):
        backup.parse(bomb, PASSPHRASE)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"kdf": "rot13"}, "unknown method"),
        ({"salt": b"short"}, "salt"),
        ({"nonce": None}, "nonce"),
        ({"kdf": "argon2id"}, "opslimit"),
    ],
)
def test_a_header_that_lies_is_refused(change: dict[str, object], complaint: str) -> None:
    header = recovery_header() | change
    if header["nonce"] is None:
        header["nonce"] = b"n" * 24
        raw = cbor2.dumps({k: v for k, v in header.items() if k != "nonce"}, canonical=True)
        data = backup.MAGIC + struct.pack(">BH", 1, len(raw)) + raw + b"x" * 40
    else:
        data = rebuild(header, b"", recovery_file_key())
    with pytest.raises(UnreadableImport, match=complaint):
        backup.parse(data, KEY)


def test_another_version_is_named() -> None:
    data = rebuild(recovery_header(), b"", recovery_file_key(), version=2)
    with pytest.raises(UnreadableImport, match="version 2; this Twofold reads version 1"):
        backup.parse(data, KEY)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff",
        cbor2.dumps([1, 2]),
        cbor2.dumps({"format": "other", "accounts": []}),
        cbor2.dumps({"format": "twofold-backup", "accounts": "many"}),
    ],
)
def test_a_body_that_opens_but_is_damaged_is_unreadable(body: bytes) -> None:
    data = rebuild(recovery_header(), body, recovery_file_key())
    with pytest.raises(UnreadableImport):
        backup.parse(data, KEY)


def test_a_broken_account_fails_alone() -> None:
    good = backup._record(BackupEntry(draft()))
    records = [
        good,
        good | {"digits": 99},
        good | {"secret": "not bytes"},
        "not a map",
        good | {"kind": "sms"},
        good | {"name": "bob", "pin": 7},
    ]
    body = cbor2.dumps({"format": "twofold-backup", "created": 1, "accounts": records})
    parsed = backup.parse(rebuild(recovery_header(), body, recovery_file_key()), KEY)
    assert [a.draft for a in parsed.accounts] == [draft()]
    assert [f.source for f in parsed.failures] == [
        "entry 2 (GitHub: alice)",
        "entry 3 (GitHub: alice)",
        "entry 4",
        "entry 5 (GitHub: alice)",
        "entry 6 (GitHub: bob)",
    ]
    assert "digits" in parsed.failures[0].reason


def test_the_recovery_key_check_is_sha256() -> None:
    random = backup._read_recovery_key(KEY)
    raw = random + hashlib.sha256(random).digest()[:4]
    assert backup._b32(raw) == KEY.replace("-", "")
