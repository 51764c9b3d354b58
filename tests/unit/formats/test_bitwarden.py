"""Bitwarden JSON exports: every form of totp, password-protected files, and every refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from twofold.protocol.account import HashAlgorithm, OtpKind
from twofold.protocol.errors import (
    PasswordRequired,
    UnreadableImport,
    UnsafeKdfParameters,
    WrongPassword,
)
from twofold.protocol.formats import bitwarden

from .keys import HELLO, HELLO_BYTES, OTHER, OTHER_BYTES

PASSWORD = "export password"


def login(
    name: str, totp: Any, username: str | None = None, notes: str | None = None
) -> dict[str, Any]:
    """An item as Bitwarden's export writes a login (type 1)."""
    return {
        "id": "3b5e1c8a-0000-4000-8000-000000000000",
        "organizationId": None,
        "folderId": None,
        "type": 1,
        "reprompt": 0,
        "name": name,
        "notes": notes,
        "favorite": False,
        "login": {
            "uris": [{"match": None, "uri": "https://example.com"}],
            "username": username,
            "password": "hunter2",
            "totp": totp,
        },
        "collectionIds": None,
    }


ITEMS = [
    login(
        "Example site",
        f"otpauth://totp/Example:alice@example.com?secret={HELLO}&issuer=Example"
        "&algorithm=SHA256&digits=8&period=60",
        "someone-else",
        "recovery codes in the safe",
    ),
    login("GitHub", f"otpauth://totp/octocat?secret={OTHER}", "octo"),
    login("Labelless", f"otpauth://totp/?secret={HELLO}", "lee"),
    login("Counter", f"otpauth://hotp/Counter:bob?secret={OTHER}&counter=42&algorithm=SHA512", "b"),
    login("Plain key", "jbsw y3dp ehpk 3pxp", "carol@example.com"),
    login("Steam", f"Steam://{HELLO}", "gamer"),
]
NOT_AUTHENTICATORS = [
    login("Just a password", None, "dan"),
    login("Empty totp", "", "erin"),
    login("Blank totp", "   ", "frank"),
    {"type": 2, "name": "A secure note", "notes": "text", "secureNote": {"type": 0}},
    {"type": 3, "name": "A card", "card": {"number": "4111111111111111"}},
]


def export(items: list[Any]) -> dict[str, Any]:
    return {"encrypted": False, "folders": [], "items": items}


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_reads_every_form_of_totp_and_skips_what_is_not_an_authenticator() -> None:
    parsed = bitwarden.parse(encode(export(ITEMS + NOT_AUTHENTICATORS)))
    assert parsed.format == "bitwarden"
    assert parsed.failures == ()
    assert parsed.warnings == ()
    full, labelled, labelless, hotp, bare, steam = (account.draft for account in parsed.accounts)

    assert (full.issuer, full.name, full.note) == (
        "Example",
        "alice@example.com",
        "recovery codes in the safe",
    )
    assert full.otp.secret == HELLO_BYTES
    assert (full.otp.algorithm, full.otp.digits, full.otp.period) == (HashAlgorithm.SHA256, 8, 60)

    assert (labelled.issuer, labelled.name, labelled.note) == ("GitHub", "octocat", "")
    assert labelled.otp.secret == OTHER_BYTES

    assert (labelless.issuer, labelless.name) == ("Labelless", "lee")

    assert hotp.otp.kind is OtpKind.HOTP
    assert (hotp.counter, hotp.otp.algorithm) == (42, HashAlgorithm.SHA512)
    assert (hotp.issuer, hotp.name) == ("Counter", "bob")

    assert (bare.issuer, bare.name) == ("Plain key", "carol@example.com")
    assert bare.otp.kind is OtpKind.TOTP
    assert bare.otp.secret == HELLO_BYTES
    assert (bare.otp.algorithm, bare.otp.digits, bare.otp.period) == (HashAlgorithm.SHA1, 6, 30)

    assert (steam.issuer, steam.name) == ("Steam", "gamer")
    assert steam.otp.kind is OtpKind.STEAM
    assert (steam.otp.secret, steam.otp.digits) == (HELLO_BYTES, 5)

    assert parsed.accounts[0].source == "entry 1 (Example site: someone-else)"


def test_a_broken_entry_fails_alone_and_says_why() -> None:
    items = [
        ITEMS[0],
        login("Bad key", "not base32!", "eve"),
        login("Bad uri", "otpauth://totp/x?secret=", "mallory"),
        login("Not text", 12345, "trent"),
        "not an object",
        login("Long note", HELLO, "n", "x" * 5000),
        ITEMS[1],
    ]
    parsed = bitwarden.parse(encode(export(items)))
    assert [account.draft.issuer for account in parsed.accounts] == ["Example", "GitHub"]
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert "base32" in reasons["entry 2 (Bad key: eve)"]
    assert "secret" in reasons["entry 3 (Bad uri: mallory)"]
    assert "totp must be text" in reasons["entry 4 (Not text: trent)"]
    assert "not a JSON object" in reasons["entry 5"]
    assert "note" in reasons["entry 6 (Long note: n)"]


# Bitwarden's deriveVaultExportKey and EncString type 2, written from their published code.


def hkdf_expand(prk: bytes, info: bytes) -> bytes:
    """RFC 5869 HKDF-Expand to 32 bytes: a single block, T(1) = HMAC(PRK, info || 0x01)."""
    return hmac.digest(prk, info + b"\x01", "sha256")


def encstring(plaintext: bytes, enc_key: bytes, mac_key: bytes) -> str:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.digest(mac_key, iv + ciphertext, "sha256")
    return "2." + "|".join(base64.b64encode(part).decode() for part in (iv, ciphertext, mac))


def protected(
    inner: dict[str, Any],
    password: str = PASSWORD,
    *,
    kdf_type: int = 0,
    iterations: int = 5000,
    memory: int = 16,
    parallelism: int = 1,
) -> dict[str, Any]:
    salt = base64.b64encode(os.urandom(16)).decode()
    if kdf_type == 0:
        master = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations, 32)
    else:
        master = Argon2id(
            salt=hashlib.sha256(salt.encode()).digest(),
            length=32,
            iterations=iterations,
            lanes=parallelism,
            memory_cost=memory * 1024,
        ).derive(password.encode())
    enc_key, mac_key = hkdf_expand(master, b"enc"), hkdf_expand(master, b"mac")
    doc: dict[str, Any] = {
        "encrypted": True,
        "passwordProtected": True,
        "salt": salt,
        "kdfType": kdf_type,
        "kdfIterations": iterations,
        "kdfMemory": memory if kdf_type == 1 else None,
        "kdfParallelism": parallelism if kdf_type == 1 else None,
        "encKeyValidation_DO_NOT_EDIT": encstring(os.urandom(16).hex().encode(), enc_key, mac_key),
        "data": encstring(encode(inner), enc_key, mac_key),
    }
    return doc


def test_reads_a_pbkdf2_password_protected_export() -> None:
    parsed = bitwarden.parse(encode(protected(export(ITEMS))), PASSWORD)
    assert parsed.failures == ()
    assert [account.draft.otp.secret for account in parsed.accounts] == [
        HELLO_BYTES,
        OTHER_BYTES,
        HELLO_BYTES,
        OTHER_BYTES,
        HELLO_BYTES,
        HELLO_BYTES,
    ]
    assert parsed.accounts[0].draft.note == "recovery codes in the safe"


@pytest.mark.parametrize("parallelism", [1, 4])
def test_reads_an_argon2id_password_protected_export(parallelism: int) -> None:
    doc = protected(export(ITEMS[:1]), kdf_type=1, iterations=2, parallelism=parallelism)
    (account,) = bitwarden.parse(encode(doc), PASSWORD).accounts
    assert (account.draft.issuer, account.draft.otp.secret) == ("Example", HELLO_BYTES)


@pytest.mark.parametrize("kdf_type", [0, 1])
def test_a_protected_export_needs_its_password_and_refuses_a_wrong_one(kdf_type: int) -> None:
    data = encode(protected(export(ITEMS), kdf_type=kdf_type, iterations=2 if kdf_type else 5000))
    for missing in (None, ""):
        with pytest.raises(PasswordRequired):
            bitwarden.parse(data, missing)
    with pytest.raises(WrongPassword) as caught:
        bitwarden.parse(data, "not the password")
    assert str(caught.value) == "password: the password is wrong"


def test_changed_data_under_a_proven_password_is_damage() -> None:
    doc = protected(export(ITEMS))
    iv, ciphertext, mac = doc["data"][2:].split("|")
    changed = bytearray(base64.b64decode(ciphertext))
    changed[0] ^= 1
    doc["data"] = "2." + "|".join((iv, base64.b64encode(changed).decode(), mac))
    with pytest.raises(UnreadableImport, match="damaged"):
        bitwarden.parse(encode(doc), PASSWORD)


def test_a_changed_validation_reads_as_a_wrong_password() -> None:
    doc = protected(export(ITEMS))
    iv, ciphertext, _ = doc["encKeyValidation_DO_NOT_EDIT"][2:].split("|")
    doc["encKeyValidation_DO_NOT_EDIT"] = "2." + "|".join(
        (iv, ciphertext, base64.b64encode(bytes(32)).decode())
    )
    with pytest.raises(WrongPassword):
        bitwarden.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"kdfMemory": 2**20}, "MiB of memory"),
        ({"kdfMemory": 2**40}, "MiB of memory"),
        ({"kdfIterations": 10**6}, "passes"),
        ({"kdfParallelism": 1000}, "lanes"),
        ({"kdfMemory": 1024, "kdfIterations": 10}, "too costly"),
    ],
)
def test_absurd_argon2_parameters_are_refused_before_any_work(
    changes: dict[str, int], word: str
) -> None:
    doc = protected(export([]), kdf_type=1, iterations=2) | changes
    started = time.monotonic()
    for password in (None, PASSWORD):
        with pytest.raises(UnsafeKdfParameters, match=word):
            bitwarden.parse(encode(doc), password)
    assert time.monotonic() - started < 0.5


def test_absurd_pbkdf2_iterations_are_refused_before_any_work() -> None:
    doc = protected(export([])) | {"kdfIterations": 10**9}
    started = time.monotonic()
    for password in (None, PASSWORD):
        with pytest.raises(UnsafeKdfParameters, match="iterations"):
            bitwarden.parse(encode(doc), password)
    assert time.monotonic() - started < 0.5


def test_an_account_restricted_export_is_refused_with_the_way_out() -> None:
    doc = {"encrypted": True, "encKeyValidation_DO_NOT_EDIT": "2.a|b|c", "folders": [], "items": []}
    with pytest.raises(UnreadableImport, match="Password protected"):
        bitwarden.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"kdfType": 7}, "unknown kdfType"),
        ({"salt": None}, "salt"),
        ({"data": "0.AAAA|AAAA"}, "type '0'"),
        ({"data": "2.AAAA|AAAA"}, "iv|data|mac"),
        ({"data": "2.!!|AAAA|AAAA"}, "base64"),
        ({"data": "2.AAAA|AAAA|AAAA"}, "cut short"),
    ],
)
def test_a_malformed_protected_export_is_refused(changes: dict[str, Any], word: str) -> None:
    doc = protected(export([])) | changes
    with pytest.raises(UnreadableImport, match=word):
        bitwarden.parse(encode(doc), PASSWORD)


def test_a_protected_export_that_opens_to_something_else_is_refused() -> None:
    salt = "c2FsdA=="
    master = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt.encode(), 5000, 32)
    keys = hkdf_expand(master, b"enc"), hkdf_expand(master, b"mac")
    doc = protected(export([])) | {
        "salt": salt,
        "kdfIterations": 5000,
        "encKeyValidation_DO_NOT_EDIT": encstring(b"check", *keys),
        "data": encstring(encode({"encrypted": True, "items": []}), *keys),
    }
    with pytest.raises(UnreadableImport, match="does not hold a plain export"):
        bitwarden.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b'{"encrypted": false, "items": [', "broken"),
        (b'"items"', "not a JSON object"),
        (b'{"encrypted": false}', "items"),
        (b'{"encrypted": false, "items": {}}', "items"),
    ],
)
def test_a_file_that_is_not_a_readable_export_is_refused(data: bytes, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        bitwarden.parse(data)


def test_matches_bitwarden_shapes_only_and_never_raises() -> None:
    assert bitwarden.matches(export([]))
    assert bitwarden.matches(protected(export([])))
    assert bitwarden.matches({"encrypted": True, "encKeyValidation_DO_NOT_EDIT": "2.a|b|c"})
    for other in (
        None,
        [],
        "bitwarden",
        {"items": []},
        {"encrypted": "false", "items": []},
        {"schemaVersion": 4, "services": []},
        {"version": 1, "entries": []},
    ):
        assert not bitwarden.matches(other)
