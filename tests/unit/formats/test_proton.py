"""Proton Authenticator exports as proton-pass-common writes them, plain and protected."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl import bindings

from twofold.protocol.account import HashAlgorithm, OtpKind
from twofold.protocol.errors import PasswordRequired, UnreadableImport, WrongPassword
from twofold.protocol.formats import proton

from .keys import HELLO, HELLO_BYTES, OTHER, OTHER_BYTES

PASSWORD = "proton password"
STEAM_B64 = base64.b64encode(HELLO_BYTES).decode()


def entry(
    uri: str, entry_type: str = "Totp", name: str | None = None, note: Any = None
) -> dict[str, Any]:
    """ExportedAuthenticatorEntry: a UUID, the content Proton serialises, and the note."""
    return {
        "id": "0f8c3e2a-1b2c-4d5e-8f90-123456789abc",
        "content": {"uri": uri, "entry_type": entry_type, "name": name},
        "note": note,
    }


ENTRIES = [
    # TOTP::to_uri: the label is the account, every parameter written out.
    entry(
        f"otpauth://totp/alice%40example.com?secret={HELLO}&issuer=Example"
        "&algorithm=SHA256&digits=8&period=15",
        name="alice@example.com",
        note="A note",
    ),
    # No label: Proton writes the path empty and names the entry after the issuer.
    entry(
        f"otpauth://totp/?secret={OTHER}&issuer=Nameless&algorithm=SHA1&digits=6&period=30",
        name="Nameless",
    ),
    # SteamTotp::uri: the secret in standard base64.
    entry(f"steam://{STEAM_B64}", "Steam", name="gamer", note="steam note"),
    # An older export, written before content.name existed.
    entry(f"otpauth://totp/Old:carol?secret={HELLO}&algorithm=SHA512&digits=6&period=30"),
]


def export(entries: list[Any]) -> dict[str, Any]:
    return {"version": 1, "entries": entries}


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def protected(
    inner: Any, password: str = PASSWORD, *, aad: bytes = b"proton.authenticator.export.v1"
) -> dict[str, Any]:
    """export_entries_with_password: Argon2id 19 MiB x 2, then nonce || AES-256-GCM(ct || tag)."""
    salt = os.urandom(16)
    key = bindings.crypto_pwhash_alg(
        32, password.encode(), salt, 2, 19 * 1024 * 1024, bindings.crypto_pwhash_ALG_ARGON2ID13
    )
    nonce = os.urandom(12)
    content = nonce + AESGCM(key).encrypt(nonce, encode(inner), aad)
    return {
        "version": 1,
        "salt": base64.b64encode(salt).decode(),
        "content": base64.b64encode(content).decode(),
    }


def test_reads_every_kind_and_field() -> None:
    parsed = proton.parse(encode(export(ENTRIES)))
    assert parsed.format == "proton"
    assert parsed.failures == ()
    full, nameless, steam, old = (account.draft for account in parsed.accounts)

    assert (full.issuer, full.name, full.note) == ("Example", "alice@example.com", "A note")
    assert full.otp.kind is OtpKind.TOTP
    assert full.otp.secret == HELLO_BYTES
    assert (full.otp.algorithm, full.otp.digits, full.otp.period) == (HashAlgorithm.SHA256, 8, 15)

    assert (nameless.issuer, nameless.name, nameless.note) == ("Nameless", "Nameless", "")
    assert nameless.otp.secret == OTHER_BYTES

    assert (steam.issuer, steam.name, steam.note) == ("Steam", "gamer", "steam note")
    assert steam.otp.kind is OtpKind.STEAM
    assert (steam.otp.secret, steam.otp.digits, steam.otp.period) == (HELLO_BYTES, 5, 30)

    assert (old.issuer, old.name) == ("Old", "carol")
    assert old.otp.algorithm is HashAlgorithm.SHA512

    assert parsed.accounts[0].source == "entry 1 (alice@example.com)"
    assert parsed.accounts[3].source == "entry 4"


def test_the_entry_name_proton_shows_wins_over_the_uri_label() -> None:
    renamed = entry(f"otpauth://totp/Site:old-label?secret={HELLO}", name="Shown name")
    (account,) = proton.parse(encode(export([renamed]))).accounts
    assert (account.draft.issuer, account.draft.name) == ("Site", "Shown name")


def test_a_broken_entry_fails_alone_and_says_why() -> None:
    entries = [
        ENTRIES[0],
        entry("otpauth://totp/eve?secret=not-base32!", name="eve"),
        entry("steam://not base64!", "Steam", name="bad steam"),
        entry(f"otpauth://totp/x?secret={HELLO}", "Hotp", name="hotp"),
        entry(f"https://example.com/?secret={HELLO}", "Steam", name="wrong scheme"),
        {"id": "x", "note": None},
        "not an object",
        entry(f"otpauth://totp/n?secret={HELLO}", name="long", note="x" * 5000),
        ENTRIES[2],
    ]
    parsed = proton.parse(encode(export(entries)))
    assert [account.draft.name for account in parsed.accounts] == ["alice@example.com", "gamer"]
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert "base32" in reasons["entry 2 (eve)"]
    assert "base64" in reasons["entry 3 (bad steam)"]
    assert "Hotp" in reasons["entry 4 (hotp)"]
    assert "steam://" in reasons["entry 5 (wrong scheme)"]
    assert "content" in reasons["entry 6"]
    assert "not a JSON object" in reasons["entry 7"]
    assert "note" in reasons["entry 8 (long)"]


def test_reads_a_password_protected_export() -> None:
    parsed = proton.parse(encode(protected(export(ENTRIES))), PASSWORD)
    assert parsed.failures == ()
    assert [account.draft.otp.secret for account in parsed.accounts] == [
        HELLO_BYTES,
        OTHER_BYTES,
        HELLO_BYTES,
        HELLO_BYTES,
    ]
    assert parsed.accounts[2].draft.note == "steam note"


def test_a_protected_export_needs_its_password() -> None:
    data = encode(protected(export(ENTRIES)))
    for missing in (None, ""):
        with pytest.raises(PasswordRequired):
            proton.parse(data, missing)


def test_a_wrong_password_says_only_that() -> None:
    with pytest.raises(WrongPassword) as caught:
        proton.parse(encode(protected(export(ENTRIES))), "not the password")
    assert str(caught.value) == "password: the password is wrong"


def test_changed_content_or_associated_data_cannot_be_told_from_a_wrong_password() -> None:
    doc = protected(export(ENTRIES))
    changed = bytearray(base64.b64decode(doc["content"]))
    changed[20] ^= 1
    doc["content"] = base64.b64encode(changed).decode()
    with pytest.raises(WrongPassword):
        proton.parse(encode(doc), PASSWORD)
    with pytest.raises(WrongPassword):
        proton.parse(encode(protected(export(ENTRIES), aad=b"entrycontent")), PASSWORD)


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"version": 2}, "version 2"),
        ({"salt": base64.b64encode(bytes(8)).decode()}, "16 bytes"),
        ({"salt": "!!"}, "salt is not valid base64"),
        ({"content": base64.b64encode(bytes(20)).decode()}, "cut short"),
        ({"content": 5}, "content must be text"),
    ],
)
def test_a_malformed_protected_export_is_refused(changes: dict[str, Any], word: str) -> None:
    doc = protected(export([])) | changes
    with pytest.raises(UnreadableImport, match=word):
        proton.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("inner", "word"),
    [
        ({"version": 2, "entries": []}, "version 2"),
        ([], "does not hold"),
        ({"version": 1}, "entries"),
    ],
)
def test_a_protected_export_that_opens_to_something_else_is_refused(inner: Any, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        proton.parse(encode(protected(inner)), PASSWORD)


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b'{"version": 1, "entries": [', "broken"),
        (b"[]", "not a JSON object"),
        (b'{"entries": []}', "version"),
        (b'{"version": 3, "entries": []}', "version 3"),
        (b'{"version": 1, "entries": {}}', "entries"),
        (b'{"version": 1}', "entries"),
    ],
)
def test_a_file_that_is_not_a_readable_export_is_refused(data: bytes, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        proton.parse(data)


def test_matches_proton_shapes_only_and_never_raises() -> None:
    assert proton.matches(export(ENTRIES))
    assert proton.matches(export([]))
    assert proton.matches(protected(export([])))
    for other in (
        None,
        [],
        "proton",
        {"version": "1", "entries": []},
        {"version": 1, "entries": [1, 2]},
        {"version": 1, "header": {}, "db": {"version": 3, "entries": []}},
        {"version": 1, "salt": "", "content": "", "kdf": "x"},
        {"schemaVersion": 4, "services": []},
    ):
        assert not proton.matches(other)
