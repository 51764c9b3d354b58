"""The encrypted backup: the whole vault in one file, for the day every device is gone.

specs/backup.md is the format's definition; this module is its only writer
and reader. In short:

    magic "twofold-backup\\0" | version 0x01 | header length (u16 BE) | header | ciphertext

The header is a CBOR map naming the key derivation and its parameters, the
salt and the nonce; the ciphertext is XChaCha20-Poly1305 of a CBOR document of
every account, with everything before it as associated data, so no header
byte can be changed unseen. The key comes from a passphrase through Argon2id
(parameters in the header, bounded on reading by kdf.argon2id) or from a
printable recovery key through HKDF, since a 128-bit random key needs no
stretching.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl import bindings

from . import cbor
from .account import AccountDraft, OtpParams
from .errors import InputError, MalformedPayload, PasswordRequired, UnreadableImport, WrongPassword
from .formats import kdf
from .formats.entries import Collector, ParsedFile, check_size
from .formats.fields import MalformedEntry, get_int, get_list, get_str, require_obj
from .text import is_text

FORMAT: Final = "twofold-backup"
MAGIC: Final = b"twofold-backup\x00"
VERSION: Final = 1
KDF_PASSPHRASE: Final = "argon2id"  # noqa: S105 - a method name, not a password
KDF_RECOVERY_KEY: Final = "recovery-key"
DEFAULT_OPSLIMIT: Final = 3
DEFAULT_MEMLIMIT: Final = 256 << 20
MIN_PASSPHRASE_CHARS: Final = 10
MAX_HEADER_BYTES: Final = 1024

_SALT: Final = 16
_NONCE: Final = 24
_RECOVERY_RANDOM: Final = 16
_RECOVERY_CHECK: Final = 4
_RECOVERY_GROUPS: Final = 8
_HKDF_INFO: Final = b"twofold backup key v1"
_BASE32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_LOOKALIKES: Final = str.maketrans({"0": "O", "1": "I", "8": "B"})
_PREFIX: Final = struct.Struct(">BH")


@dataclass(frozen=True, slots=True)
class BackupEntry:
    """One account as the backup keeps it: what a person typed, and whether it was in the trash."""

    draft: AccountDraft
    trashed: bool = False


class BadRecoveryKey(InputError):
    """Text that is not a recovery key, or one with a typo (its check does not match)."""


class WeakPassphrase(InputError):
    """A passphrase too short to hold up against guessing once the file is out of our hands."""

    def __init__(self) -> None:
        super().__init__(
            "passphrase", f"a backup passphrase needs at least {MIN_PASSPHRASE_CHARS} characters"
        )


class WrongPassphrase(WrongPassword):
    """The passphrase (or recovery key) does not open the backup: said in those words,
    since a backup has no "password"."""

    def __init__(self, what: str = "passphrase") -> None:
        InputError.__init__(self, "password", f"the {what} is wrong")


def new_recovery_key(rng: Any = os.urandom) -> str:
    """A printable key of 128 random bits and a 32-bit check, in 8 groups of 4 characters.

    The check lets a mistyped key be told from a wrong one, before any decryption.
    """
    random = rng(_RECOVERY_RANDOM)
    raw = random + hashlib.sha256(random).digest()[:_RECOVERY_CHECK]
    text = _b32(raw)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def seal(
    entries: Sequence[BackupEntry],
    *,
    passphrase: str | None = None,
    recovery_key: str | None = None,
    created_ms: int,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> bytes:
    """Write the backup file, sealed under exactly one of a passphrase or a recovery key."""
    if (passphrase is None) == (recovery_key is None):
        raise InputError("passphrase", "seal a backup with a passphrase or a recovery key")
    salt = os.urandom(_SALT)
    nonce = os.urandom(_NONCE)
    header: dict[str, Any] = {"salt": salt, "nonce": nonce}
    if recovery_key is not None:
        header["kdf"] = KDF_RECOVERY_KEY
        key = _recovery_key(_read_recovery_key(recovery_key), salt)
    else:
        if passphrase is None or len(passphrase) < MIN_PASSPHRASE_CHARS:
            raise WeakPassphrase
        if not is_text(passphrase):
            raise InputError(
                "passphrase",
                "the passphrase holds a lone surrogate, which is not a character: type it again",
            )
        header |= {"kdf": KDF_PASSPHRASE, "opslimit": opslimit, "memlimit": memlimit}
        key = kdf.argon2id(
            kdf.passphrase_bytes(passphrase), salt, opslimit=opslimit, memlimit=memlimit
        )
    header_bytes = cbor.dumps(header)
    prefix = MAGIC + _PREFIX.pack(VERSION, len(header_bytes)) + header_bytes
    body = cbor.dumps(
        {
            "format": FORMAT,
            "created": created_ms,
            "accounts": [_record(entry) for entry in entries],
        }
    )
    return prefix + bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(body, prefix, nonce, key)


def looks_like(data: bytes) -> bool:
    return data.startswith(MAGIC)


def sealed_with(data: bytes) -> str:
    """Which secret opens the file (KDF_PASSPHRASE or KDF_RECOVERY_KEY), so a client can ask."""
    return str(_read_header(data)[0]["kdf"])


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Open a backup with its passphrase or recovery key; the accounts come back as an import."""
    header, prefix_len = _read_header(data)
    if password is None:
        raise PasswordRequired(
            "the backup is sealed: give its recovery key"
            if header["kdf"] == KDF_RECOVERY_KEY
            else "the backup is sealed: give its passphrase"
        )
    if header["kdf"] == KDF_RECOVERY_KEY:
        key = _recovery_key(_read_recovery_key(password), header["salt"])
    else:
        try:
            secret = kdf.passphrase_bytes(password)
        except WrongPassword:  # a lone surrogate: formats/password.py says why
            raise WrongPassphrase() from None
        key = kdf.argon2id(
            secret,
            header["salt"],
            opslimit=header["opslimit"],
            memlimit=header["memlimit"],
        )
    prefix = data[:prefix_len]
    try:
        body = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            data[prefix_len:], prefix, header["nonce"], key
        )
    except Exception:  # noqa: BLE001 - libsodium's CryptoError: wrong key or changed bytes
        raise WrongPassphrase(
            "recovery key" if header["kdf"] == KDF_RECOVERY_KEY else "passphrase"
        ) from None
    return _read_body(body)


def _read_header(data: bytes) -> tuple[dict[str, Any], int]:
    check_size(data)
    if not data.startswith(MAGIC):
        raise UnreadableImport("this is not a Twofold backup")
    start = len(MAGIC)
    if len(data) < start + _PREFIX.size:
        raise UnreadableImport("the backup is cut short")
    version, length = _PREFIX.unpack_from(data, start)
    if version != VERSION:
        raise UnreadableImport(
            f"the backup has format version {version}; this Twofold reads version {VERSION}"
        )
    start += _PREFIX.size
    if length > MAX_HEADER_BYTES or len(data) < start + length:
        raise UnreadableImport("the backup's header is cut short or too long")
    try:
        header = cbor.loads(data[start : start + length], "the backup header")
    except MalformedPayload:
        raise UnreadableImport("the backup's header is damaged") from None
    if not isinstance(header, dict):
        raise UnreadableImport("the backup's header is damaged")
    salt, nonce, method = header.get("salt"), header.get("nonce"), header.get("kdf")
    if not (isinstance(salt, bytes) and len(salt) == _SALT):
        raise UnreadableImport("the backup's header has no valid salt")
    if not (isinstance(nonce, bytes) and len(nonce) == _NONCE):
        raise UnreadableImport("the backup's header has no valid nonce")
    if method == KDF_PASSPHRASE:
        for name in ("opslimit", "memlimit"):
            value = header.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise UnreadableImport(f"the backup's header has no valid {name}")
    elif method != KDF_RECOVERY_KEY:
        raise UnreadableImport(f"the backup is sealed with an unknown method {str(method)[:20]!r}")
    return header, start + length


def _record(entry: BackupEntry) -> dict[str, Any]:
    draft, otp = entry.draft, entry.draft.otp
    record: dict[str, Any] = {
        "issuer": draft.issuer,
        "name": draft.name,
        "note": draft.note,
        "kind": otp.kind.value,
        "secret": otp.secret,
        "algorithm": otp.algorithm.value,
        "digits": otp.digits,
        "period": otp.period,
        "counter": draft.counter,
        "trashed": entry.trashed,
    }
    if otp.pin is not None:
        record["pin"] = otp.pin
    return record


def _read_body(body: bytes) -> ParsedFile:
    try:
        doc = cbor.loads(body, "the backup")
    except MalformedPayload:
        raise UnreadableImport("the backup opened but its contents are damaged") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UnreadableImport("the backup opened but its contents are damaged")
    try:
        records = get_list(doc, "accounts")
    except MalformedEntry:
        raise UnreadableImport("the backup opened but holds no account list") from None
    collector = Collector(FORMAT)
    collector.each(records, _draft, trashed=_trashed)
    return collector.result()


def _trashed(record: object) -> bool:
    return isinstance(record, dict) and record.get("trashed") is True


def _draft(record: object) -> AccountDraft:
    fields = require_obj(record, "the account")
    secret = fields.get("secret")
    if not isinstance(secret, bytes):
        raise MalformedEntry("secret", "secret must be bytes")
    pin = fields.get("pin")
    if pin is not None and not isinstance(pin, str):
        raise MalformedEntry("pin", "pin must be text")
    otp = OtpParams(
        kind=get_str(fields, "kind"),  # type: ignore[arg-type]
        secret=secret,
        algorithm=get_str(fields, "algorithm"),  # type: ignore[arg-type]
        digits=get_int(fields, "digits"),
        period=get_int(fields, "period"),
        pin=pin,
    )
    return AccountDraft(
        issuer=get_str(fields, "issuer", default=""),
        name=get_str(fields, "name", default=""),
        otp=otp,
        counter=get_int(fields, "counter", default=0),
        note=get_str(fields, "note", default=""),
    )


def _read_recovery_key(text: str) -> bytes:
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_LOOKALIKES)
    expected = (_RECOVERY_RANDOM + _RECOVERY_CHECK) * 8 // 5
    if len(cleaned) != expected or not set(cleaned) <= set(_BASE32):
        raise BadRecoveryKey(
            "recovery_key",
            f"a recovery key is {_RECOVERY_GROUPS} groups of 4 letters and digits 2-7",
        )
    raw = _unb32(cleaned)
    random, check = raw[:_RECOVERY_RANDOM], raw[_RECOVERY_RANDOM:]
    if hashlib.sha256(random).digest()[:_RECOVERY_CHECK] != check:
        raise BadRecoveryKey("recovery_key", "the recovery key has a typo: check each group")
    return random


def _recovery_key(random: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_HKDF_INFO).derive(random)


def _b32(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    chars = len(raw) * 8 // 5
    return "".join(_BASE32[(number >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


def _unb32(text: str) -> bytes:
    number = 0
    for char in text:
        number = number << 5 | _BASE32.index(char)
    return number.to_bytes(len(text) * 5 // 8, "big")
