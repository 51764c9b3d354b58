"""Bitwarden JSON exports: the plain one and the password-protected one.

Followed: Bitwarden's own code (bitwarden/clients: libs/importer/src/importers/
bitwarden/bitwarden-password-protected-importer.ts and
password-protected-kdf-config.ts, libs/common/src/platform/services/
key-generation.service.ts, libs/key-management Argon2KdfConfig; bitwarden/
sdk-internal: crates/bitwarden-vault/src/totp.rs, crates/bitwarden-crypto
derive_kdf_key) and Aegis's reader (beemdevelopment/Aegis:
importers/BitwardenImporter.java).

    plain:     {"encrypted": false, "folders": [...], "items": [item, ...]}
    item:      {"type": 1, "name", "notes", "login": {"username", "totp", ...}, ...}
    protected: {"encrypted": true, "passwordProtected": true, "salt", "kdfType",
                "kdfIterations", "kdfMemory", "kdfParallelism",
                "encKeyValidation_DO_NOT_EDIT": encstring, "data": encstring}

- Only items whose login has a `totp` become accounts; the rest are
  passwords, cards and notes, not authenticator entries, and are passed over
  without a word.
- `totp` is what Bitwarden's generator accepts (sdk totp.rs, prefixes matched
  in any case): an otpauth:// URI (its label and issuer win; what it lacks is
  filled from the item's name as issuer and the login's username as name), a
  `steam://SECRET` with a base32 secret, or a bare base32 secret, which
  Bitwarden reads as TOTP, SHA1, 6 digits, 30 s. The item's `notes` become the
  account's note.
- Password-protected: the key is KDF(password, salt) with the salt taken as
  the UTF-8 of the salt text: PBKDF2-HMAC-SHA256 with kdfIterations when
  kdfType is 0; Argon2id with kdfIterations passes, kdfMemory MiB and
  kdfParallelism lanes over SHA-256(salt) when kdfType is 1. It is stretched
  to 64 bytes by HKDF-Expand-SHA256 with info "enc" and "mac" (32 bytes
  each). An encstring "2.iv|ct|mac" (base64 parts) is AES-256-CBC with PKCS7
  under the enc key, authenticated by HMAC-SHA256(mac key, iv || ct). The
  validation string opening proves the password; `data` is the plain export.
- Argon2id bounds: Bitwarden's own (2 to 10 passes, 16 to 1024 MiB, 1 to 16
  lanes), further held to kdf.py's memory and memory x passes caps. libsodium
  (kdf.argon2id) runs only one lane, so Argon2id runs through cryptography.
- An "encrypted" export without "passwordProtected" is sealed with the
  account's own key, which only Bitwarden holds: it is refused with the way
  out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from ..account import AccountDraft, OtpKind, OtpParams, base32_secret
from ..errors import PasswordRequired, UnreadableImport, UnsafeKdfParameters, WrongPassword
from ..otpauth import parse_uri, with_label
from . import kdf
from .entries import Collector, ParsedFile, describe
from .fields import MalformedEntry, get_int, get_list, get_obj, get_str, load_json
from .password import password_bytes

FORMAT: Final[str] = "bitwarden"
KDF_PBKDF2: Final = 0
KDF_ARGON2ID: Final = 1
ARGON2_PASSES: Final = (2, 10)
ARGON2_MEMORY_MIB: Final = (16, 1024)
ARGON2_LANES: Final = (1, 16)

_WHAT: Final = "a Bitwarden JSON export"
_OTPAUTH: Final = "otpauth://"
_STEAM: Final = "steam://"
_ENC_TYPE: Final = "2"


def matches(doc: object) -> bool:
    """A Bitwarden export says whether it is encrypted and holds items or a sealed blob."""
    if not isinstance(doc, dict) or not isinstance(doc.get("encrypted"), bool):
        return False
    return (
        isinstance(doc.get("items"), list)
        or "passwordProtected" in doc
        or "encKeyValidation_DO_NOT_EDIT" in doc
    )


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read the authenticator keys out of a Bitwarden export; a protected one needs its password."""
    doc = load_json(data, _WHAT)
    if not isinstance(doc, dict):
        raise UnreadableImport(f"this is not {_WHAT}: it is not a JSON object")
    if doc.get("encrypted") is True:
        if doc.get("passwordProtected") is not True:
            raise UnreadableImport(
                "this Bitwarden export is sealed with your Bitwarden account's key, which only "
                "Bitwarden can open: export again as .json, or as .json (Encrypted) with "
                "'Password protected'"
            )
        doc = _open_protected(doc, password)
    try:
        items = get_list(doc, "items")
    except MalformedEntry as error:
        raise UnreadableImport(f"this is not {_WHAT}: {error.detail}") from None
    collector = Collector(FORMAT)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            collector.fail(describe(index), "the item is not a JSON object")
            continue
        login = item.get("login")
        if not isinstance(login, dict):
            continue
        totp = login.get("totp")
        if totp is None or (isinstance(totp, str) and not totp.strip()):
            continue
        source = describe(index, item.get("name"), login.get("username"))
        collector.entry(source, partial(_draft, item))
    return collector.result()


def _draft(item: dict[str, Any]) -> AccountDraft:
    login = get_obj(item, "login")
    totp = get_str(login, "totp").strip()
    item_name = get_str(item, "name", default="").strip()
    username = get_str(login, "username", default="").strip()
    note = get_str(item, "notes", default="")
    lowered = totp.lower()
    if lowered.startswith(_OTPAUTH):
        draft = parse_uri(with_label(totp, item_name, username), visible_only=False)
        return replace(
            draft, issuer=draft.issuer or item_name, name=draft.name or username, note=note
        )
    if lowered.startswith(_STEAM):
        otp = OtpParams.create(OtpKind.STEAM, base32_secret(totp[len(_STEAM) :], "totp"))
        return AccountDraft(issuer=item_name or "Steam", name=username, otp=otp, note=note)
    otp = OtpParams.create(OtpKind.TOTP, base32_secret(totp, "totp"))
    return AccountDraft(issuer=item_name, name=username, otp=otp, note=note)


def _open_protected(doc: dict[str, Any], password: str | None) -> dict[str, Any]:
    try:
        salt = _salt(get_str(doc, "salt"))
        kdf_type = get_int(doc, "kdfType")
        iterations = get_int(doc, "kdfIterations")
        validation = _EncString.read(get_str(doc, "encKeyValidation_DO_NOT_EDIT"))
        sealed = _EncString.read(get_str(doc, "data"))
        if kdf_type == KDF_ARGON2ID:
            derive = _argon2(
                salt, iterations, get_int(doc, "kdfMemory"), get_int(doc, "kdfParallelism")
            )
        elif kdf_type == KDF_PBKDF2:
            if not 1 <= iterations <= kdf.PBKDF2_MAX_ITERATIONS:
                raise UnsafeKdfParameters(f"PBKDF2 with {iterations} iterations is out of range")
            derive = partial(_pbkdf2, salt, iterations)
        else:
            raise UnreadableImport(f"the export uses an unknown kdfType {kdf_type}")
    except MalformedEntry as error:
        raise UnreadableImport(f"this is not {_WHAT}: {error.detail}") from None
    if not password:
        raise PasswordRequired("the Bitwarden export is password protected: give that password")
    master = derive(password_bytes(password))
    enc_key, mac_key = (
        HKDFExpand(algorithm=hashes.SHA256(), length=32, info=info).derive(master)
        for info in (b"enc", b"mac")
    )
    if validation.open(enc_key, mac_key) is None:
        raise WrongPassword
    plaintext = sealed.open(enc_key, mac_key)
    if plaintext is None:
        raise UnreadableImport("the password is right but the export's data is damaged")
    inner = load_json(plaintext, "the decrypted Bitwarden export")
    if not isinstance(inner, dict) or inner.get("encrypted") is True:
        raise UnreadableImport("the Bitwarden export opened but does not hold a plain export")
    return inner


def _salt(text: str) -> bytes:
    """The salt's UTF-8, as Bitwarden takes it; a lone surrogate has none: a damaged file."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableImport(
            f"this is not {_WHAT}: its salt holds a lone surrogate, which is not text"
        ) from None


def _pbkdf2(salt: bytes, iterations: int, password: bytes) -> bytes:
    return kdf.pbkdf2_sha256(password, salt, iterations=iterations)


def _argon2(salt: bytes, passes: int, memory_mib: int, lanes: int) -> Callable[[bytes], bytes]:
    """Check the cost first, so a file asking too much is refused before a password is asked."""
    _check_argon2(passes, memory_mib, lanes)

    def derive(password: bytes) -> bytes:
        return Argon2id(
            salt=hashlib.sha256(salt).digest(),
            length=32,
            iterations=passes,
            lanes=lanes,
            memory_cost=memory_mib * 1024,
        ).derive(password)

    return derive


def _check_argon2(passes: int, memory_mib: int, lanes: int) -> None:
    """Bitwarden's own bounds, and no more memory or work than kdf.py allows any file."""
    for value, (low, high), what in (
        (passes, ARGON2_PASSES, "passes"),
        (memory_mib, ARGON2_MEMORY_MIB, "MiB of memory"),
        (lanes, ARGON2_LANES, "lanes"),
    ):
        if not low <= value <= high:
            raise UnsafeKdfParameters(
                f"Argon2id with {value} {what} is outside what Bitwarden writes ({low} to {high})"
            )
    kdf.check_work(
        [kdf.argon2id_work(opslimit=passes, memlimit=memory_mib << 20)], "this Bitwarden export"
    )


class _EncString:
    """Bitwarden's type 2 encstring: AES-256-CBC, then HMAC-SHA256 over IV and ciphertext."""

    def __init__(self, iv: bytes, ciphertext: bytes, mac: bytes) -> None:
        self.iv, self.ciphertext, self.mac = iv, ciphertext, mac

    @classmethod
    def read(cls, text: str) -> _EncString:
        kind, _, body = text.partition(".")
        if kind != _ENC_TYPE:
            raise UnreadableImport(
                f"the export's encrypted strings are of type {kind[:8]!r}; Bitwarden writes type 2"
            )
        parts = body.split("|")
        if len(parts) != 3:
            raise UnreadableImport("an encrypted string of the export is not 'iv|data|mac'")
        try:
            iv, ciphertext, mac = (base64.b64decode(part, validate=True) for part in parts)
        except (binascii.Error, ValueError):
            raise UnreadableImport(
                "an encrypted string of the export is not valid base64"
            ) from None
        if len(iv) != 16 or len(mac) != 32 or not ciphertext or len(ciphertext) % 16:
            raise UnreadableImport("an encrypted string of the export is cut short")
        return cls(iv, ciphertext, mac)

    def open(self, enc_key: bytes, mac_key: bytes) -> bytes | None:
        """The plaintext, or None when the MAC shows another key or changed bytes."""
        expected = hmac.digest(mac_key, self.iv + self.ciphertext, "sha256")
        if not hmac.compare_digest(expected, self.mac):
            return None
        decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(self.iv)).decryptor()
        padded = decryptor.update(self.ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            return None
