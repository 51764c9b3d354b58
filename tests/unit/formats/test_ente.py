"""Ente Auth encrypted exports, sealed here as Ente seals them, and every refusal."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any
from urllib.parse import quote_plus

import pytest
from nacl import bindings

from twofold.protocol.account import HashAlgorithm, OtpKind
from twofold.protocol.errors import (
    PasswordRequired,
    UnreadableImport,
    UnsafeKdfParameters,
    WrongPassword,
)
from twofold.protocol.formats import ente

from .keys import HELLO, HELLO_BYTES, OTHER, OTHER_BYTES

PASSWORD = "ente password"
MEMLIMIT = 8 << 20
OPSLIMIT = 2


def display(**fields: Any) -> str:
    """The codeDisplay parameter as Code.toOTPAuthUrlFormat writes it: CodeDisplay JSON, encoded."""
    shown = {"pinned": False, "trashed": False, "lastUsedAt": 0, "tapCount": 0, "tags": []}
    shown |= {"note": "", "position": 0, "iconSrc": "", "iconID": ""} | fields
    return "&codeDisplay=" + quote_plus(json.dumps(shown, separators=(",", ":")))


CODES = [
    f"otpauth://totp/Example:alice@example.com?algorithm=SHA256&digits=8&issuer=Example"
    f"&period=60&secret={HELLO}" + display(note="backup codes: 1234 5678", tags=["work"]),
    f"otpauth://hotp/Counter:bob?algorithm=SHA512&digits=6&issuer=Counter&period=30"
    f"&secret={OTHER}&counter=9",
    f"otpauth://steam/Steam:gamer?algorithm=SHA1&digits=5&issuer=Steam&period=30&secret={HELLO}",
    f"otpauth://totp/Old:carol?secret={OTHER}&issuer=Old" + display(trashed=True),
]


def sealed(
    text: str,
    password: str = PASSWORD,
    *,
    memlimit: int = MEMLIMIT,
    opslimit: int = OPSLIMIT,
    tag: int = bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
) -> dict[str, Any]:
    """EnteAuthExport v1: crypto_pwhash Argon2id key, one secretstream message, all base64."""
    salt = os.urandom(bindings.crypto_pwhash_SALTBYTES)
    key = bindings.crypto_pwhash_alg(
        32, password.encode(), salt, opslimit, memlimit, bindings.crypto_pwhash_ALG_ARGON2ID13
    )
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    header = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    data = bindings.crypto_secretstream_xchacha20poly1305_push(state, text.encode(), None, tag)
    return {
        "version": 1,
        "kdfParams": {
            "memLimit": memlimit,
            "opsLimit": opslimit,
            "salt": base64.b64encode(salt).decode(),
        },
        "encryptedData": base64.b64encode(data).decode(),
        "encryptionNonce": base64.b64encode(header).decode(),
    }


def encode(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_reads_every_kind_field_note_and_trash_state() -> None:
    parsed = ente.parse(encode(sealed("\n".join(CODES) + "\n")), PASSWORD)
    assert parsed.format == "ente"
    assert parsed.failures == ()
    totp, hotp, steam, old = parsed.accounts
    assert [account.source for account in parsed.accounts] == [f"line {n}" for n in (1, 2, 3, 4)]

    assert (totp.draft.issuer, totp.draft.name) == ("Example", "alice@example.com")
    assert totp.draft.otp.secret == HELLO_BYTES
    otp = totp.draft.otp
    assert (otp.kind, otp.algorithm, otp.digits, otp.period) == (
        OtpKind.TOTP,
        HashAlgorithm.SHA256,
        8,
        60,
    )
    assert totp.draft.note == "backup codes: 1234 5678"
    assert not totp.trashed

    assert hotp.draft.otp.kind is OtpKind.HOTP
    assert (hotp.draft.counter, hotp.draft.otp.algorithm) == (9, HashAlgorithm.SHA512)
    assert hotp.draft.otp.secret == OTHER_BYTES
    assert hotp.draft.note == ""

    assert steam.draft.otp.kind is OtpKind.STEAM
    assert (steam.draft.issuer, steam.draft.name, steam.draft.otp.digits) == ("Steam", "gamer", 5)

    assert (old.draft.issuer, old.draft.name, old.trashed) == ("Old", "carol", True)


def test_a_message_tag_reads_like_a_final_one() -> None:
    tag = bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
    parsed = ente.parse(encode(sealed(CODES[0], tag=tag)), PASSWORD)
    assert [account.draft.otp.secret for account in parsed.accounts] == [HELLO_BYTES]


def test_blank_lines_windows_endings_and_quoted_lines_are_read() -> None:
    quoted = json.dumps(CODES[1])
    text = f"\r\n{CODES[0]}\r\n\r\n{quoted}\r\n  \n"
    parsed = ente.parse(encode(sealed(text)), PASSWORD)
    assert [account.source for account in parsed.accounts] == ["line 2", "line 4"]
    assert parsed.accounts[1].draft.counter == 9


def test_a_bad_line_fails_alone() -> None:
    lines = [
        CODES[0],
        "otpauth://totp/Bad:eve?secret=not-base32!&issuer=Bad",
        "just some words",
        CODES[1] + display(note="x" * 5000),
        "otpauth://totp/Broken:display?secret=" + HELLO + "&codeDisplay=%7Bnot-json",
        CODES[2],
    ]
    parsed = ente.parse(encode(sealed("\n".join(lines))), PASSWORD)
    assert [account.source for account in parsed.accounts] == ["line 1", "line 5", "line 6"]
    assert parsed.accounts[1].draft.note == ""
    reasons = {failure.source: failure.reason for failure in parsed.failures}
    assert "base32" in reasons["line 2"]
    assert "otpauth://" in reasons["line 3"]
    assert "note" in reasons["line 4"]


def test_a_code_display_that_nests_too_deeply_is_no_note() -> None:
    """The display JSON sits inside the sealed file: it is read within the bounds of any
    file, so a container bomb there costs a scan, and the code is still read; a note that
    is not text fails its line alone."""
    bomb = "&codeDisplay=" + quote_plus("[" * 5000 + "]" * 5000)
    surrogate = "&codeDisplay=" + quote_plus('{"note":"\\ud800"}')
    lines = [CODES[1] + bomb, json.dumps(CODES[2] + surrogate)]
    parsed = ente.parse(encode(sealed("\n".join(lines))), PASSWORD)
    assert [account.draft.note for account in parsed.accounts] == [""]
    assert [(f.source, "not valid Unicode" in f.reason) for f in parsed.failures] == [
        ("line 2", True)
    ]


def test_the_export_needs_its_password() -> None:
    data = encode(sealed(CODES[0]))
    for missing in (None, ""):
        with pytest.raises(PasswordRequired):
            ente.parse(data, missing)


def test_a_wrong_password_says_only_that() -> None:
    with pytest.raises(WrongPassword) as caught:
        ente.parse(encode(sealed(CODES[0])), "not the password")
    assert str(caught.value) == "password: the password is wrong"


def test_changed_ciphertext_cannot_be_told_from_a_wrong_password() -> None:
    doc = sealed(CODES[0])
    changed = bytearray(base64.b64decode(doc["encryptedData"]))
    changed[-1] ^= 1
    doc["encryptedData"] = base64.b64encode(changed).decode()
    with pytest.raises(WrongPassword):
        ente.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("memlimit", "opslimit"),
    [(2**40, 3), (MEMLIMIT, 10**6), (2**40, 10**6), (1024, 2), (1 << 30, 8)],
)
def test_absurd_kdf_parameters_are_refused_before_any_work(memlimit: int, opslimit: int) -> None:
    doc = sealed(CODES[0])
    doc["kdfParams"] |= {"memLimit": memlimit, "opsLimit": opslimit}
    started = time.monotonic()
    with pytest.raises(UnsafeKdfParameters):
        ente.parse(encode(doc), PASSWORD)
    assert time.monotonic() - started < 0.5


def test_a_salt_of_the_wrong_size_is_refused() -> None:
    doc = sealed(CODES[0])
    doc["kdfParams"]["salt"] = base64.b64encode(bytes(8)).decode()
    with pytest.raises(UnsafeKdfParameters, match="salt"):
        ente.parse(encode(doc), PASSWORD)


def test_a_stream_ending_in_a_tag_ente_never_writes_is_refused() -> None:
    tag = bindings.crypto_secretstream_xchacha20poly1305_TAG_REKEY
    with pytest.raises(UnreadableImport, match="never writes"):
        ente.parse(encode(sealed(CODES[0], tag=tag)), PASSWORD)


def test_contents_that_are_not_text_are_refused() -> None:
    doc = sealed("")
    salt = base64.b64decode(doc["kdfParams"]["salt"])
    key = bindings.crypto_pwhash_alg(
        32, PASSWORD.encode(), salt, OPSLIMIT, MEMLIMIT, bindings.crypto_pwhash_ALG_ARGON2ID13
    )
    state = bindings.crypto_secretstream_xchacha20poly1305_state()
    header = bindings.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    data = bindings.crypto_secretstream_xchacha20poly1305_push(state, b"\xff\xfe")
    doc["encryptedData"] = base64.b64encode(data).decode()
    doc["encryptionNonce"] = base64.b64encode(header).decode()
    with pytest.raises(UnreadableImport, match="not text"):
        ente.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"version": 2}, "version 2"),
        ({"version": None}, "version"),
        ({"kdfParams": None}, "kdfParams"),
        ({"kdfParams": {"memLimit": "8", "opsLimit": 2, "salt": ""}}, "memLimit"),
        ({"encryptedData": "!!!"}, "encryptedData is not valid base64"),
        ({"encryptedData": ""}, "too short"),
        ({"encryptionNonce": base64.b64encode(bytes(12)).decode()}, "24 bytes"),
    ],
)
def test_a_malformed_export_is_refused(changes: dict[str, Any], word: str) -> None:
    doc = sealed(CODES[0]) | changes
    with pytest.raises(UnreadableImport, match=word):
        ente.parse(encode(doc), PASSWORD)


@pytest.mark.parametrize(
    ("data", "word"), [(b'{"version": 1, "kdfParams": {', "broken"), (b"[]", "not a JSON object")]
)
def test_a_file_that_is_not_json_of_an_export_is_refused(data: bytes, word: str) -> None:
    with pytest.raises(UnreadableImport, match=word):
        ente.parse(data, PASSWORD)


def test_matches_ente_shape_only_and_never_raises() -> None:
    assert ente.matches(sealed(""))
    for other in (
        None,
        [],
        "ente",
        {"kdfParams": [], "encryptedData": "", "encryptionNonce": ""},
        {"version": 1, "salt": "", "content": ""},
        {"encrypted": False, "items": []},
    ):
        assert not ente.matches(other)
