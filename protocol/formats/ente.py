"""Ente Auth's encrypted export.

Followed: Ente's own code (ente-io/ente: auth/lib/models/export/ente.dart,
auth/lib/ui/settings/data/export_widget.dart, auth/lib/ui/settings/data/
import/encrypted_ente_import.dart, auth/lib/models/code.dart and
code_display.dart; ente_crypto_dart CryptoUtil.deriveSensitiveKey,
deriveKey, encryptData and decryptData) and its published description
(ente-io/ente: docs/docs/auth/migration/export.md).

    {"version": 1,
     "kdfParams": {"memLimit": bytes, "opsLimit": passes, "salt": b64 (16 bytes)},
     "encryptedData": b64, "encryptionNonce": b64 (24 bytes)}

- Key: libsodium crypto_pwhash, Argon2id 1.3, 32 bytes, over the password's
  UTF-8 with the file's memLimit (bytes) and opsLimit, bounded by
  kdf.argon2id. Ente starts at libsodium's SENSITIVE limits (1 GiB, 4) and
  halves the memory and doubles the passes on a device that cannot spare it.
- Data: one crypto_secretstream_xchacha20poly1305 message; encryptionNonce is
  the stream's header. Some builds push it with the FINAL tag, others
  (ente_crypto_dart's createPush) as a MESSAGE followed by a final chunk that
  is not exported; Ente pulls without requiring FINAL, so both are accepted.
- Plaintext: each code's rawData, one otpauth URI per line. Each non-empty
  line is read alone ("line N"); a line that fails, fails alone. Ente keeps
  a code's note and trash state in a `codeDisplay` parameter holding JSON
  (CodeDisplay.toJson: note, trashed, pinned, tags, ...): the note becomes
  the account's note and trashed codes are marked trashed. A codeDisplay that
  does not parse is ignored, as Ente's safe parsing does.
- A wrong password and changed ciphertext are the same failure to an AEAD:
  both are reported as a wrong password.

Ente's plain-text export (the same URI lines, unencrypted) is the URI-list
reader's business, not this one's.
"""

from __future__ import annotations

import base64
import binascii
from functools import partial
from typing import Any, Final
from urllib.parse import unquote_plus

import nacl.bindings
import nacl.exceptions

from ..account import AccountDraft
from ..errors import PasswordRequired, UnreadableImport, WrongPassword
from ..otpauth import parse_uri
from . import kdf
from .entries import Collector, ParsedFile
from .fields import MalformedEntry, get_int, get_obj, get_str, load_json, load_json_text
from .password import password_bytes

FORMAT: Final[str] = "ente"
VERSION: Final = 1

_WHAT: Final = "an Ente Auth encrypted export"
_HEADER_BYTES: Final = nacl.bindings.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_TAGS: Final = frozenset(
    {
        nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
        nacl.bindings.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    }
)
_DISPLAY: Final = "codedisplay"


def matches(doc: object) -> bool:
    """Ente's export is its KDF parameters, the sealed codes and the stream header."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("kdfParams"), dict)
        and "encryptedData" in doc
        and "encryptionNonce" in doc
    )


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Open an Ente Auth encrypted export with the password it was exported with."""
    doc = load_json(data, _WHAT)
    if not isinstance(doc, dict):
        raise UnreadableImport(f"this is not {_WHAT}: it is not a JSON object")
    try:
        version = get_int(doc, "version")
        params = get_obj(doc, "kdfParams")
        memlimit = get_int(params, "memLimit")
        opslimit = get_int(params, "opsLimit")
        salt = _b64(get_str(params, "salt"), "salt")
        sealed = _b64(get_str(doc, "encryptedData"), "encryptedData")
        header = _b64(get_str(doc, "encryptionNonce"), "encryptionNonce")
    except MalformedEntry as error:
        raise UnreadableImport(f"this is not {_WHAT}: {error.detail}") from None
    if version != VERSION:
        raise UnreadableImport(
            f"the export has version {version}; Twofold reads Ente's version {VERSION}"
        )
    if len(header) != _HEADER_BYTES:
        raise UnreadableImport(f"encryptionNonce must be {_HEADER_BYTES} bytes")
    if not password:
        raise PasswordRequired(
            "the Ente Auth export is encrypted: give the password it was saved with"
        )
    key = kdf.argon2id(password_bytes(password), salt, opslimit=opslimit, memlimit=memlimit)
    try:
        text = _pull(key, header, sealed).decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableImport("the export opened but its contents are not text") from None
    collector = Collector(FORMAT)
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if line:
            collector.entry(f"line {number}", partial(_draft, line), trashed=_display(line)[1])
    return collector.result()


def _pull(key: bytes, header: bytes, sealed: bytes) -> bytes:
    """The one message of the stream, or WrongPassword when it does not authenticate."""
    state = nacl.bindings.crypto_secretstream_xchacha20poly1305_state()
    nacl.bindings.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    try:
        message, tag = nacl.bindings.crypto_secretstream_xchacha20poly1305_pull(state, sealed)
    except nacl.exceptions.ValueError:
        raise UnreadableImport("encryptedData is too short to hold anything") from None
    except nacl.exceptions.RuntimeError:
        raise WrongPassword from None
    if tag not in _TAGS:
        raise UnreadableImport("the export's stream ends in a way Ente never writes")
    return bytes(message)


def _draft(line: str) -> AccountDraft:
    if line.startswith('"') and line.endswith('"'):
        line = _unquote_json(line)
    draft = parse_uri(line, visible_only=False)
    note, _ = _display(line)
    return AccountDraft(
        issuer=draft.issuer, name=draft.name, otp=draft.otp, counter=draft.counter, note=note
    )


def _display(line: str) -> tuple[str, bool]:
    """Ente's note and trash flag from the codeDisplay parameter; nothing if it is unreadable."""
    if line.startswith('"') and line.endswith('"'):
        line = _unquote_json(line)
    _, _, query = line.partition("?")
    for piece in query.split("&"):
        name, _, value = piece.partition("=")
        if unquote_plus(name).strip().lower() != _DISPLAY:
            continue
        try:
            display: Any = load_json_text(unquote_plus(value), "an Ente code's display")
        except UnreadableImport:
            return "", False
        if not isinstance(display, dict):
            return "", False
        note = display.get("note")
        return (note if isinstance(note, str) else ""), display.get("trashed") is True
    return "", False


def _unquote_json(line: str) -> str:
    """A code as Ente stores it (Code.toOTPAuthUrlFormat: the URI as a JSON string)."""
    try:
        value = load_json_text(line, "an Ente code")
    except UnreadableImport:
        return line
    return value if isinstance(value, str) else line


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEntry(field, f"{field} is not valid base64") from None
