"""Aegis vaults, plain or sealed with a password: read them, and write plain ones Aegis imports.

Followed, in github.com/beemdevelopment/Aegis:

- docs/vault.md: the file is {"version": 1, "header": {"slots", "params"}, "db"}. A
  password slot (type 1) holds the master key sealed with AES-256-GCM under
  scrypt(password, salt, N, r, p) with `key`, `key_params.nonce`, `key_params.tag`
  and `salt` in hex; the db is base64 of the content sealed with AES-256-GCM
  under the master key, its nonce and tag in `header.params` (hex). Raw (type
  0) and biometric (type 2) slots need a key that never leaves the phone, so
  they are skipped. docs/decrypt.py does the same steps: every password slot
  is tried, a tag failure meaning "not this slot". No associated data. The
  slots' scrypt work, summed, is held to kdf.py's budget for one file before
  any slot is derived (every slot is tried with a wrong password).
- app/.../vault/VaultFile.java: the vault is plain exactly when `slots` and
  `params` are both null; file versions above 1 are refused.
- app/.../vault/Vault.java and VaultEntry.java: content versions up to 3 are
  read alike. Versions 1 and 2 kept an entry's group as a `group` name; version
  3 lists groups at the top and entries name them by uuid. Groups, icons,
  favourites and uuids are not imported, so the versions differ in nothing
  read here. `note` may be absent (older versions had none).
- app/.../otp/OtpInfo.java: `info.secret` is base32 for every type, mOTP
  included (hex is only the URI form); `algo` may carry a "Hmac" prefix; MD5
  on any type but motp is read as SHA1, a workaround Aegis applies for a bug
  that let people pick it. HotpInfo, TotpInfo, SteamInfo: `counter` for hotp,
  `period` for the rest. MotpInfo and YandexInfo: `pin`, with algorithm,
  digits and period fixed by the type, so Aegis ignores what the file says.
- app/.../encoding/Base32.java: secrets are written upper-case, unpadded.

Not done: ui/tasks/PasswordSlotDecryptTask.java retries a slot not marked
`repaired` with the older password encoding (CryptoUtils.toBytesOld), which
gives another key for passwords over 64 bytes. Such a slot is repaired the
first time a current Aegis opens the vault; until then Twofold reports the
password as wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..account import (
    AccountDraft,
    HashAlgorithm,
    OtpKind,
    OtpParams,
    base32_secret,
    secret_to_base32,
)
from ..errors import InputError, PasswordRequired, UnreadableImport, WrongPassword
from . import kdf
from .entries import Collector, ParsedFile, describe
from .fields import MalformedEntry, get_int, get_obj, get_str, load_json, require_obj
from .password import password_bytes

FORMAT: Final = "aegis"
VAULT_VERSION: Final = 1
CONTENT_VERSION: Final = 3
MAX_PASSWORD_SLOTS: Final = 8

_WHAT: Final = "an Aegis vault"
_PASSWORD_SLOT: Final = 1
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_KINDS: Final = {kind.value: kind for kind in OtpKind}
_FIXED_BY_TYPE: Final = frozenset({OtpKind.MOTP, OtpKind.YANDEX})


class UnexportableAccount(InputError):
    """An account Aegis would import with codes different from Twofold's."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        super().__init__(None, f"{source}: {reason}")


def matches(doc: object) -> bool:
    """Tell an Aegis vault by its shape alone, so detection never pays for a decryption."""
    if not isinstance(doc, dict) or "version" not in doc or "db" not in doc:
        return False
    header = doc.get("header")
    return isinstance(header, dict) and "slots" in header and "params" in header


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a plain or password-sealed vault; each entry that cannot be read fails alone."""
    doc = load_json(data, _WHAT)
    header, db = _outer(doc)
    if header is None:
        return _read_content(db)
    return _read_content(_open(header, db, password))


def unexportable_reason(draft: AccountDraft) -> str | None:
    """Why Aegis could not hold this account with its codes intact, or None when it can."""
    otp = draft.otp
    if otp.algorithm is HashAlgorithm.MD5 and otp.kind is not OtpKind.MOTP:
        return f"Aegis reads MD5 on a {otp.kind} account as SHA1, so its codes would be wrong"
    return None


def export_aegis(drafts: Sequence[AccountDraft], *, uuid_seed: bytes | None = None) -> bytes:
    """A plain vault as Aegis writes one (content version 3), for Aegis's "Import from file".

    The file is not encrypted: the caller decides where it may go. Entry uuids
    are random, or derived from `uuid_seed` so that one export can be written
    again byte for byte. hotp entries also carry `period`, which Aegis ignores,
    so that reading the file back gives the very accounts written.
    """
    entries = []
    for index, draft in enumerate(drafts):
        reason = unexportable_reason(draft)
        if reason is not None:
            raise UnexportableAccount(describe(index, draft.issuer, draft.name), reason)
        entries.append(_entry_json(draft, _uuid(uuid_seed, index)))
    vault = {
        "version": VAULT_VERSION,
        "header": {"slots": None, "params": None},
        "db": {
            "version": CONTENT_VERSION,
            "entries": entries,
            "groups": [],
            "icons_optimized": True,
        },
    }
    return json.dumps(vault, indent=4, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Slot:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes
    nonce: bytes
    tag: bytes


def _outer(doc: object) -> tuple[dict[str, Any] | None, Any]:
    """The header when the vault is sealed (None when plain), and the db."""
    if not isinstance(doc, dict) or "header" not in doc or "db" not in doc:
        raise UnreadableImport("this is not an Aegis vault: it has no header and db")
    version = doc.get("version")
    if not _whole(version):
        raise UnreadableImport("this is not an Aegis vault: its version is not a whole number")
    if version > VAULT_VERSION:
        raise UnreadableImport(
            f"a newer Aegis wrote this vault (file version {version}); "
            f"Twofold reads version {VAULT_VERSION}"
        )
    header, db = doc["header"], doc["db"]
    if not isinstance(header, dict):
        raise UnreadableImport("this is not an Aegis vault: its header is not a JSON object")
    if header.get("slots") is None and header.get("params") is None:
        if not isinstance(db, dict):
            raise UnreadableImport(
                "this Aegis vault is not encrypted, but its db is not a JSON object"
            )
        return None, db
    if not isinstance(header.get("slots"), list) or not isinstance(header.get("params"), dict):
        raise UnreadableImport("this Aegis vault's header needs both slots and params")
    if not isinstance(db, str):
        raise UnreadableImport("this Aegis vault is encrypted, but its db is not text")
    return header, db


def _open(header: dict[str, Any], db: str, password: str | None) -> dict[str, Any]:
    raw_slots = [slot for slot in header["slots"] if _is_password_slot(slot)]
    if not raw_slots:
        raise UnreadableImport(
            "this Aegis vault opens only with biometrics or a raw key, never a password: "
            "in Aegis, set a password and export the vault again"
        )
    if len(raw_slots) > MAX_PASSWORD_SLOTS:
        raise UnreadableImport(
            f"this Aegis vault has {len(raw_slots)} password slots; "
            f"Twofold tries at most {MAX_PASSWORD_SLOTS}"
        )
    slots = [_read_slot(slot) for slot in raw_slots]
    # Every slot may be tried with the same password: their summed work is refused up front,
    # before a password is asked for and before the first slot is derived.
    kdf.check_work(
        (kdf.scrypt_work(n=n, r=r, p=p) for _, n, r, p in {_derivation(slot) for slot in slots}),
        "this Aegis vault",
    )
    params = header["params"]
    nonce = _hex(params.get("nonce"), "its nonce", _NONCE_BYTES)
    tag = _hex(params.get("tag"), "its tag", _TAG_BYTES)
    try:
        sealed = base64.b64decode(db, validate=True)
    except (binascii.Error, ValueError):
        raise UnreadableImport("this Aegis vault's db is not valid base64") from None
    if password is None:
        raise PasswordRequired()
    master = _master_key(slots, password_bytes(password))
    try:
        plain = AESGCM(master).decrypt(nonce, sealed + tag, None)
    except InvalidTag:
        raise UnreadableImport(
            "the password is right, but the vault's contents do not match their tag: "
            "the file is damaged"
        ) from None
    except ValueError:
        raise UnreadableImport(
            "the vault's master key is not an AES key: the file is damaged"
        ) from None
    try:
        content = load_json(plain, "an Aegis vault's contents")
    except UnreadableImport:
        raise UnreadableImport(
            "the vault opened, but its contents are not JSON: the file is damaged"
        ) from None
    if not isinstance(content, dict):
        raise UnreadableImport("the vault opened, but its contents are not a JSON object")
    return content


def _master_key(slots: list[_Slot], secret: bytes) -> bytes:
    keys: dict[tuple[bytes, int, int, int], bytes] = {}
    for slot in slots:
        derivation = _derivation(slot)
        if derivation not in keys:
            keys[derivation] = kdf.scrypt(secret, slot.salt, n=slot.n, r=slot.r, p=slot.p)
        key = keys[derivation]
        try:
            return AESGCM(key).decrypt(slot.nonce, slot.key + slot.tag, None)
        except InvalidTag:
            continue
    raise WrongPassword()


def _derivation(slot: _Slot) -> tuple[bytes, int, int, int]:
    """Slots alike in salt and cost derive the same key: it is derived, and counted, once."""
    return slot.salt, slot.n, slot.r, slot.p


def _is_password_slot(slot: object) -> bool:
    return isinstance(slot, dict) and _whole(slot.get("type")) and slot["type"] == _PASSWORD_SLOT


def _read_slot(slot: dict[str, Any]) -> _Slot:
    params = slot.get("key_params")
    if not isinstance(params, dict):
        raise UnreadableImport("this Aegis vault is damaged: a password slot has no key_params")
    return _Slot(
        n=_slot_number(slot, "n"),
        r=_slot_number(slot, "r"),
        p=_slot_number(slot, "p"),
        salt=_hex(slot.get("salt"), "a password slot's salt"),
        key=_hex(slot.get("key"), "a password slot's key"),
        nonce=_hex(params.get("nonce"), "a password slot's nonce", _NONCE_BYTES),
        tag=_hex(params.get("tag"), "a password slot's tag", _TAG_BYTES),
    )


def _slot_number(slot: dict[str, Any], name: str) -> int:
    value = slot.get(name)
    if not _whole(value):
        raise UnreadableImport(
            f"this Aegis vault is damaged: a password slot's {name} is not a whole number"
        )
    return value


def _hex(value: object, what: str, length: int | None = None) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else None
    except ValueError:
        raw = None
    if not raw or (length is not None and len(raw) != length):
        size = f"{length} bytes of " if length is not None else ""
        raise UnreadableImport(f"this Aegis vault is damaged: {what} is not {size}hexadecimal")
    return raw


def _read_content(content: dict[str, Any]) -> ParsedFile:
    version = content.get("version")
    if not _whole(version):
        raise UnreadableImport("the vault's contents have no version")
    if version > CONTENT_VERSION:
        raise UnreadableImport(
            f"a newer Aegis wrote this vault (content version {version}); "
            f"Twofold reads versions up to {CONTENT_VERSION}"
        )
    entries = content.get("entries")
    if not isinstance(entries, list):
        raise UnreadableImport("the vault's contents hold no list of entries")
    collector = Collector(FORMAT)
    collector.each(entries, _entry)
    return collector.result()


def _entry(raw: object) -> AccountDraft:
    entry = require_obj(raw, "the entry")
    type_name = get_str(entry, "type")
    kind = _KINDS.get(type_name)
    if kind is None:
        known = ", ".join(_KINDS)
        raise MalformedEntry("type", f"Twofold cannot import {type_name[:20]!r} entries ({known})")
    info = get_obj(entry, "info")
    secret = base32_secret(get_str(info, "secret"), error=MalformedEntry)
    if kind in _FIXED_BY_TYPE:
        otp = OtpParams.create(kind, secret, pin=get_str(info, "pin"))
    else:
        otp = OtpParams.create(
            kind,
            secret,
            algorithm=_algorithm(get_str(info, "algo")),
            digits=get_int(info, "digits"),
            period=_optional_int(info, "period")
            if kind is OtpKind.HOTP
            else get_int(info, "period"),
        )
    return AccountDraft(
        issuer=get_str(entry, "issuer", default="").strip(),
        name=get_str(entry, "name", default="").strip(),
        otp=otp,
        counter=get_int(info, "counter") if kind is OtpKind.HOTP else 0,
        note=get_str(entry, "note", default=""),
    )


def _algorithm(spelled: str) -> str:
    """Aegis's spelling, with its reading of MD5 (only motp, whose algorithm is fixed, keeps it)."""
    name = spelled.removeprefix("Hmac").upper()
    return HashAlgorithm.SHA1.value if name == HashAlgorithm.MD5.value else name


def _optional_int(doc: dict[str, Any], key: str) -> int | None:
    return None if doc.get(key) is None else get_int(doc, key)


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_json(draft: AccountDraft, entry_uuid: str) -> dict[str, Any]:
    otp = draft.otp
    info: dict[str, Any] = {
        "secret": secret_to_base32(otp.secret),
        "algo": otp.algorithm.value,
        "digits": otp.digits,
    }
    if otp.kind is OtpKind.HOTP:
        info["counter"] = draft.counter
    info["period"] = otp.period
    if otp.pin is not None:
        info["pin"] = otp.pin
    return {
        "type": otp.kind.value,
        "uuid": entry_uuid,
        "name": draft.name,
        "issuer": draft.issuer,
        "note": draft.note,
        "favorite": False,
        "icon": None,
        "info": info,
        "groups": [],
    }


def _uuid(seed: bytes | None, index: int) -> str:
    if seed is None:
        return str(uuid.uuid4())
    digest = hashlib.sha256(seed + index.to_bytes(8, "big")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
