"""2FAS backups as 2FAS for Android writes them, plain and encrypted, and every refusal."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from twofold.protocol.account import HashAlgorithm, OtpKind
from twofold.protocol.errors import PasswordRequired, UnreadableImport, WrongPassword
from twofold.protocol.formats import twofas

from .keys import HELLO, HELLO_BYTES, OTHER, OTHER_BYTES

PASSWORD = "correct horse"
# BackupContent.Reference in 2FAS for Android: the text 2FAS encrypts to check a password.
REFERENCE = "tRViSsLKzd86Hprh4ceC2OP7xazn4rrt4xhfEUbOjxLX8Rc3mkISXE0lWbmnWfggogbBJhtYgpK6fMl1D6mt"


def service(name: str, secret: str, **otp: Any) -> dict[str, Any]:
    """A service as BackupService.kt serialises it (icon and order as 2FAS writes them)."""
    return {
        "name": name,
        "secret": secret,
        "updatedAt": 1700000000000,
        "serviceTypeID": None,
        "otp": {"link": None, "source": "Manual"} | otp,
        "order": {"position": 0},
        "badge": None,
        "icon": {"selected": "Label", "label": {"text": "EX", "backgroundColor": "Orange"}},
        "groupId": None,
    }


SERVICES = [
    service(
        "Example",
        HELLO,
        account="alice@example.com",
        label="alice@example.com",
        issuer="Example Inc",
        digits=8,
        period=60,
        algorithm="SHA256",
        tokenType="TOTP",
    ),
    service(
        "Counter",
        OTHER,
        account="bob",
        issuer=None,
        digits=6,
        algorithm="SHA512",
        counter=7,
        tokenType="HOTP",
    ),
    service("Steam", HELLO, account="gamer", digits=5, period=30, tokenType="STEAM"),
]


def backup(services: list[Any], version: int = 4, **extra: Any) -> bytes:
    doc = {
        "services": services,
        "groups": [],
        "updatedAt": 1700000000000,
        "schemaVersion": version,
        "appVersionCode": 5000000,
        "appVersionName": "5.0.0",
        "appOrigin": "android",
    }
    return json.dumps(doc | extra).encode()


def seal(plaintext: bytes, key: bytes, salt: bytes) -> str:
    """DataEncrypted: base64(ciphertext || tag) : base64(salt) : base64(iv), AES/GCM/NoPadding."""
    iv = os.urandom(12)
    parts = (AESGCM(key).encrypt(iv, plaintext, None), salt, iv)
    return ":".join(base64.b64encode(part).decode() for part in parts)


def encrypted_backup(
    services: list[Any], password: str = PASSWORD, *, reference: bool = True
) -> bytes:
    """BackupCipherImpl.encrypt: one 256-byte salt, PBKDF2WithHmacSHA256 x 10,000, 256 bits."""
    salt = os.urandom(256)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000, 32)
    extra: dict[str, Any] = {"servicesEncrypted": seal(json.dumps(services).encode(), key, salt)}
    if reference:
        extra["reference"] = seal(REFERENCE.encode(), key, salt)
    return backup([], **extra)


def test_reads_every_kind_and_field_of_a_plain_backup() -> None:
    parsed = twofas.parse(backup(SERVICES))
    assert parsed.format == "2fas"
    assert parsed.failures == ()
    totp, hotp, steam = (account.draft for account in parsed.accounts)
    assert (totp.issuer, totp.name) == ("Example", "alice@example.com")
    assert totp.otp.kind is OtpKind.TOTP
    assert totp.otp.secret == HELLO_BYTES
    assert (totp.otp.algorithm, totp.otp.digits, totp.otp.period) == (HashAlgorithm.SHA256, 8, 60)
    assert totp.counter == 0
    assert totp.note == ""
    assert (hotp.issuer, hotp.name, hotp.counter) == ("Counter", "bob", 7)
    assert hotp.otp.kind is OtpKind.HOTP
    assert hotp.otp.secret == OTHER_BYTES
    assert (hotp.otp.algorithm, hotp.otp.digits) == (HashAlgorithm.SHA512, 6)
    assert (steam.issuer, steam.name) == ("Steam", "gamer")
    assert steam.otp.kind is OtpKind.STEAM
    assert (steam.otp.digits, steam.otp.period, steam.otp.algorithm) == (5, 30, HashAlgorithm.SHA1)
    assert [account.source for account in parsed.accounts] == [
        "entry 1 (Example: alice@example.com)",
        "entry 2 (Counter: bob)",
        "entry 3 (Steam: gamer)",
    ]


def test_old_schema_without_token_type_reads_as_totp_with_defaults() -> None:
    old = {"name": "Old", "secret": "jbsw y3dp ehpk 3pxp", "otp": {"account": "carol"}}
    (account,) = twofas.parse(backup([old], version=1)).accounts
    assert account.draft.otp.kind is OtpKind.TOTP
    assert account.draft.otp.secret == HELLO_BYTES
    assert (account.draft.otp.digits, account.draft.otp.period) == (6, 30)
    assert account.draft.otp.algorithm is HashAlgorithm.SHA1


def test_issuer_and_name_fall_back_as_2fas_and_aegis_read_them() -> None:
    unnamed = service("", HELLO, issuer="From Otp", label="dave", tokenType="TOTP")
    (account,) = twofas.parse(backup([unnamed])).accounts
    assert (account.draft.issuer, account.draft.name) == ("From Otp", "dave")


def test_hotp_without_a_counter_starts_at_zero() -> None:
    (account,) = twofas.parse(backup([service("H", HELLO, tokenType="HOTP")])).accounts
    assert (account.draft.otp.kind, account.draft.counter) == (OtpKind.HOTP, 0)


def test_a_broken_entry_fails_alone_and_says_why() -> None:
    services = [
        SERVICES[0],
        service("Bad", "not base32!", account="eve", tokenType="TOTP"),
        service("Sha224", HELLO, account="x", algorithm="SHA224", tokenType="TOTP"),
        service("Odd", HELLO, account="y", tokenType="MOTP"),
        "not an object",
        {"name": "No otp", "secret": HELLO},
        SERVICES[1],
    ]
    parsed = twofas.parse(backup(services))
    assert [account.draft.issuer for account in parsed.accounts] == ["Example", "Counter"]
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert "base32" in reasons["entry 2 (Bad: eve)"]
    assert "algorithm" in reasons["entry 3 (Sha224: x)"]
    assert "MOTP" in reasons["entry 4 (Odd: y)"]
    assert "not a JSON object" in reasons["entry 5"]
    assert "otp" in reasons["entry 6 (No otp)"]


def test_reads_an_encrypted_backup() -> None:
    parsed = twofas.parse(encrypted_backup(SERVICES), PASSWORD)
    assert parsed.failures == ()
    assert [a.draft.otp.secret for a in parsed.accounts] == [HELLO_BYTES, OTHER_BYTES, HELLO_BYTES]
    assert parsed.accounts[1].draft.counter == 7


def test_reads_an_encrypted_backup_without_a_reference() -> None:
    parsed = twofas.parse(encrypted_backup(SERVICES, reference=False), PASSWORD)
    assert len(parsed.accounts) == 3


def test_an_encrypted_backup_needs_its_password() -> None:
    data = encrypted_backup(SERVICES)
    for missing in (None, ""):
        with pytest.raises(PasswordRequired):
            twofas.parse(data, missing)


@pytest.mark.parametrize("reference", [True, False])
def test_a_wrong_password_says_only_that(reference: bool) -> None:
    with pytest.raises(WrongPassword) as caught:
        twofas.parse(encrypted_backup(SERVICES, reference=reference), "wrong horse")
    assert str(caught.value) == "password: the password is wrong"


def test_changed_services_under_a_proven_password_are_damage_not_a_wrong_password() -> None:
    doc = json.loads(encrypted_backup(SERVICES))
    data, salt, iv = doc["servicesEncrypted"].split(":")
    flipped = bytearray(base64.b64decode(data))
    flipped[3] ^= 1
    doc["servicesEncrypted"] = ":".join((base64.b64encode(flipped).decode(), salt, iv))
    with pytest.raises(UnreadableImport, match="damaged"):
        twofas.parse(json.dumps(doc).encode(), PASSWORD)


def test_a_changed_reference_reads_as_a_wrong_password() -> None:
    doc = json.loads(encrypted_backup(SERVICES))
    _, salt, iv = doc["reference"].split(":")
    doc["reference"] = ":".join((base64.b64encode(b"x" * 40).decode(), salt, iv))
    with pytest.raises(WrongPassword):
        twofas.parse(json.dumps(doc).encode(), PASSWORD)


@pytest.mark.parametrize(
    ("blob", "word"),
    [
        ("onlyone", "three base64 parts"),
        ("a:b", "three base64 parts"),
        ("!!!:AAAA:AAAA", "base64"),
        ("AAAA::AAAA", "empty salt"),
    ],
)
def test_a_malformed_encrypted_blob_is_refused(blob: str, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        twofas.parse(backup([], servicesEncrypted=blob), PASSWORD)


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b'{"schemaVersion": 4, "services": [', "broken"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "UTF-8"),
        (b'{"services": []}', "schemaVersion"),
        (b'{"schemaVersion": 4, "services": {}}', "services"),
        (b'{"schemaVersion": 4}', "services"),
        (b'{"schemaVersion": 5, "services": []}', "versions 1 to 4"),
        (b'{"schemaVersion": 0, "services": []}', "versions 1 to 4"),
    ],
)
def test_a_file_that_is_not_a_readable_backup_is_refused(data: bytes, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        twofas.parse(data)


def test_decrypted_garbage_is_refused() -> None:
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, 10_000, 32)
    for plaintext, word in ((b'{"a": 1}', "no list"), (b"\xff", "not text"), (b"[", "broken")):
        data = backup([], servicesEncrypted=seal(plaintext, key, salt))
        with pytest.raises(UnreadableImport, match=word):
            twofas.parse(data, PASSWORD)


def test_matches_2fas_shapes_only_and_never_raises() -> None:
    assert twofas.matches(json.loads(backup(SERVICES)))
    assert twofas.matches(json.loads(encrypted_backup([])))
    for other in (
        None,
        [],
        "2fas",
        {"schemaVersion": "4", "services": []},
        {"schemaVersion": 4},
        {"encrypted": False, "items": []},
        {"version": 1, "entries": []},
    ):
        assert not twofas.matches(other)


def test_a_number_written_in_digits_that_are_not_ascii_fails_its_entry() -> None:
    """ "²".isdigit() is true and int("²") raises: only ASCII digits are a number in a string."""
    broken = service("Broken", HELLO, account="eve", digits="\u00b2", tokenType="TOTP")
    parsed = twofas.parse(backup([broken, SERVICES[2]]))
    assert [account.draft.issuer or account.draft.name for account in parsed.accounts] == ["Steam"]
    assert len(parsed.failures) == 1
    assert "digits" in parsed.failures[0].reason
