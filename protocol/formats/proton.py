"""Proton Authenticator exports, plain or password protected.

Followed: Proton's own code (protonpass/proton-pass-common:
proton-authenticator/src/entry/exporter.rs, entry/password_exporter.rs,
crypto.rs, steam/mod.rs, parser/proton_authenticator/mod.rs;
proton-pass-totp/src/totp.rs) and Aegis's reader (beemdevelopment/Aegis:
importers/ProtonAuthenticatorImporter.java).

    plain:     {"version": 1, "entries": [{"id", "content": {"uri", "entry_type", "name"},
                                           "note"}]}
    protected: {"version": 1, "salt": b64 (16 bytes), "content": b64(nonce || ct || tag)}

- entry_type "Totp": `uri` is an otpauth://totp URI as proton-pass-totp writes
  it (label = the account name, issuer as a parameter). The issuer comes from
  the URI; the name is `content.name` (what Proton shows: the label, else the
  issuer), as Aegis reads it, else the URI's label. A URI without a label,
  which Proton writes when it has none, is given `content.name` as its label.
- entry_type "Steam": `uri` is "steam://" followed by the secret in standard
  base64 (SteamTotp::uri, not base32); the issuer is "Steam" and the name is
  `content.name`. Aegis passes Steam entries to its otpauth parser, which
  cannot read them; Proton's own reader is followed instead.
- `note` becomes the account's note; `id` is Proton's own and is not kept.
- Password protected: key = Argon2id v1.3 (19 MiB, 2 passes, 1 lane, 32
  bytes) over the password's UTF-8 and the 16-byte salt; the parameters are
  fixed by the format, not read from the file. `content` is a 12-byte nonce,
  then AES-256-GCM ciphertext and tag, with associated data
  "proton.authenticator.export.v1"; the plaintext is the plain export. A
  wrong password and changed bytes are the same failure to the AEAD: both are
  reported as a wrong password.
"""

from __future__ import annotations

import base64
import binascii
from functools import partial
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..account import AccountDraft, OtpKind, OtpParams
from ..errors import InvalidAccount, PasswordRequired, UnreadableImport, WrongPassword
from ..otpauth import parse_uri, with_label
from . import kdf
from .entries import Collector, ParsedFile, describe
from .fields import (
    MalformedEntry,
    get_int,
    get_list,
    get_obj,
    get_str,
    load_json,
    require_obj,
)
from .password import password_bytes

FORMAT: Final[str] = "proton"
VERSION: Final = 1
ARGON2_MEMLIMIT: Final = 19 << 20
ARGON2_OPSLIMIT: Final = 2
AAD: Final = b"proton.authenticator.export.v1"

_WHAT: Final = "a Proton Authenticator export"
_NONCE: Final = 12
_STEAM: Final = "steam://"


def matches(doc: object) -> bool:
    """Proton's export is a version and entries, or a version, a salt and sealed content."""
    if not isinstance(doc, dict) or not isinstance(doc.get("version"), int):
        return False
    if isinstance(doc.get("entries"), list):
        return all(isinstance(entry, dict) and "content" in entry for entry in doc["entries"][:3])
    return set(doc) == {"version", "salt", "content"} and isinstance(doc.get("content"), str)


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a Proton Authenticator export; a password-protected one needs its password."""
    doc = load_json(data, _WHAT)
    if not isinstance(doc, dict):
        raise UnreadableImport(f"this is not {_WHAT}: it is not a JSON object")
    try:
        _check_version(get_int(doc, "version"))
        if "entries" not in doc and "salt" in doc:
            doc = _open(get_str(doc, "salt"), get_str(doc, "content"), password)
            _check_version(get_int(doc, "version"))
        entries = get_list(doc, "entries")
    except MalformedEntry as error:
        raise UnreadableImport(f"this is not {_WHAT}: {error.detail}") from None
    collector = Collector(FORMAT)
    for index, entry in enumerate(entries):
        fields = entry if isinstance(entry, dict) else {}
        content = fields.get("content")
        name = content.get("name") if isinstance(content, dict) else None
        collector.entry(describe(index, name), partial(_draft, entry))
    return collector.result()


def _check_version(version: int) -> None:
    if version != VERSION:
        raise UnreadableImport(
            f"the export has version {version}; Twofold reads Proton's version {VERSION}"
        )


def _open(salt_text: str, content_text: str, password: str | None) -> dict[str, Any]:
    salt, sealed = _b64(salt_text, "salt"), _b64(content_text, "content")
    if len(salt) != kdf.ARGON2_SALT_BYTES:
        raise UnreadableImport(f"the export's salt must be {kdf.ARGON2_SALT_BYTES} bytes")
    if len(sealed) < _NONCE + 16:
        raise UnreadableImport("the export's content is cut short")
    if not password:
        raise PasswordRequired(
            "the Proton Authenticator export is password protected: give that password"
        )
    key = kdf.argon2id(
        password_bytes(password), salt, opslimit=ARGON2_OPSLIMIT, memlimit=ARGON2_MEMLIMIT
    )
    try:
        plaintext = AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], AAD)
    except InvalidTag:
        raise WrongPassword from None
    doc = load_json(plaintext, "the decrypted Proton Authenticator export")
    if not isinstance(doc, dict):
        raise UnreadableImport("the export opened but does not hold a list of entries")
    return doc


def _draft(entry: object) -> AccountDraft:
    fields = require_obj(entry, "the entry")
    content = get_obj(fields, "content")
    kind = get_str(content, "entry_type")
    uri = get_str(content, "uri").strip()
    name = get_str(content, "name", default="").strip()
    note = get_str(fields, "note", default="")
    if kind == "Totp":
        draft = parse_uri(with_label(uri, "", name), visible_only=False)
        return AccountDraft(issuer=draft.issuer, name=name or draft.name, otp=draft.otp, note=note)
    if kind == "Steam":
        if not uri.lower().startswith(_STEAM):
            raise MalformedEntry("uri", "a Steam entry's uri must start with steam://")
        otp = OtpParams.create(OtpKind.STEAM, _steam_secret(uri[len(_STEAM) :]))
        return AccountDraft(issuer="Steam", name=name, otp=otp, note=note)
    raise MalformedEntry(
        "entry_type", f"unknown entry_type {kind[:20]!r}: Proton writes Totp or Steam"
    )


def _steam_secret(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAccount("secret", "the Steam secret is not valid base64") from None


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedEntry(field, f"{field} is not valid base64") from None
