"""2FAS Authenticator backups (.2fas), plain or encrypted.

Followed: 2FAS for Android's own writer and reader (twofas/2fas-android:
data/services/.../domain/BackupContent.kt, BackupService.kt,
BackupRepositoryImpl.kt, mapper/ServiceMapper.kt, core/cipher/.../
BackupCipherImpl.kt, BackupKeyGeneratorPbkdf.kt, CipherAes.kt,
DataEncrypted.kt) and Aegis's reader (beemdevelopment/Aegis:
importers/TwoFASImporter.java).

    {"schemaVersion": 1..4, "services": [service, ...],
     "servicesEncrypted": "b64(ct||tag):b64(salt):b64(iv)", "reference": same shape}
    service: {"name", "secret", "otp": {"account", "label", "issuer", "digits",
              "period", "algorithm", "counter", "tokenType", "source", "link"}, ...}

- Encryption: key = PBKDF2-HMAC-SHA256(password as UTF-8, salt, 10,000
  iterations, 32 bytes); AES-256-GCM with the 12-byte IV and a 128-bit tag
  at the end of the ciphertext; the plaintext is the JSON list of services.
  `reference` is a fixed text 2FAS encrypts under the same key (same salt,
  its own IV): it decrypting proves the password, so a services blob that
  then fails is reported as damaged rather than as a wrong password. The
  decrypted reference text is not compared: the tag already proves the key.
- Labels: the issuer is the service's `name` (what 2FAS shows), else
  `otp.issuer`, as Aegis reads it; the name is `otp.account`, else
  `otp.label`, as 2FAS's own mapper reads it.
- tokenType TOTP (or absent, as schema 1 and 2 files leave it), HOTP (with
  `counter`, 0 when absent) or STEAM. Steam codes are fixed by Steam
  (5 characters, 30 s, SHA1), so a STEAM entry's digits, period and algorithm
  are not read. 2FAS also writes SHA224 and SHA384, which Twofold cannot
  compute: such an entry fails alone and says so.
- Versions: 1 to 4 are read with one reader, as Aegis reads every version up
  to 4; a newer file is refused rather than misread. 2FAS services carry no
  note, so none is imported.
"""

from __future__ import annotations

import base64
import binascii
from functools import partial
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..account import AccountDraft, OtpKind, OtpParams, base32_secret
from ..errors import PasswordRequired, UnreadableImport, WrongPassword
from . import kdf
from .entries import Collector, ParsedFile, describe
from .fields import (
    MalformedEntry,
    get_int,
    get_list,
    get_obj,
    get_str,
    load_json,
    load_json_text,
    require_obj,
)
from .password import password_bytes

FORMAT: Final[str] = "2fas"
ITERATIONS: Final = 10_000
MAX_SCHEMA_VERSION: Final = 4

_WHAT: Final = "a 2FAS backup"
_KINDS: Final = {"TOTP": OtpKind.TOTP, "HOTP": OtpKind.HOTP, "STEAM": OtpKind.STEAM}


def matches(doc: object) -> bool:
    """A 2FAS backup has a schemaVersion and its services, in the clear or encrypted."""
    if not isinstance(doc, dict) or not isinstance(doc.get("schemaVersion"), int):
        return False
    return isinstance(doc.get("services"), list) or isinstance(doc.get("servicesEncrypted"), str)


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a 2FAS backup; an encrypted one needs the password it was exported with."""
    doc = load_json(data, _WHAT)
    if not isinstance(doc, dict):
        raise UnreadableImport(f"this is not {_WHAT}: it is not a JSON object")
    try:
        version = get_int(doc, "schemaVersion")
        encrypted = get_str(doc, "servicesEncrypted", default=None)
        reference = get_str(doc, "reference", default=None)
        services = None if encrypted is not None else get_list(doc, "services")
    except MalformedEntry as error:
        raise UnreadableImport(f"this is not {_WHAT}: {error.detail}") from None
    if not 1 <= version <= MAX_SCHEMA_VERSION:
        raise UnreadableImport(
            f"the backup has schemaVersion {version}; Twofold reads versions 1 to "
            f"{MAX_SCHEMA_VERSION}: update Twofold or export again from an older 2FAS"
        )
    if services is None:
        services = _decrypt(encrypted or "", reference or None, password)
    collector = Collector(FORMAT)
    for index, service in enumerate(services):
        fields = service if isinstance(service, dict) else {}
        raw_otp = fields.get("otp")
        otp = raw_otp if isinstance(raw_otp, dict) else {}
        source = describe(index, fields.get("name") or otp.get("issuer"), otp.get("account"))
        collector.entry(source, partial(_draft, service))
    return collector.result()


def _decrypt(blob: str, reference: str | None, password: str | None) -> list[Any]:
    ciphertext, salt, iv = _split(blob, "servicesEncrypted")
    if not password:
        raise PasswordRequired("the 2FAS backup is encrypted: give the password it was saved with")
    secret = password_bytes(password)
    keys: dict[bytes, bytes] = {}

    def key_for(salt: bytes) -> bytes:
        if salt not in keys:
            keys[salt] = kdf.pbkdf2_sha256(secret, salt, iterations=ITERATIONS)
        return keys[salt]

    proven = False
    if reference is not None:
        ref_ciphertext, ref_salt, ref_iv = _split(reference, "reference")
        if _open(key_for(ref_salt), ref_iv, ref_ciphertext) is None:
            raise WrongPassword
        proven = True
    plaintext = _open(key_for(salt), iv, ciphertext)
    if plaintext is None:
        if proven:
            raise UnreadableImport("the password is right but the encrypted services are damaged")
        raise WrongPassword
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableImport("the backup opened but its services are not text") from None
    services = load_json_text(text, "the decrypted list of 2FAS services")
    if not isinstance(services, list):
        raise UnreadableImport("the backup opened but holds no list of services")
    return services


def _split(blob: str, field: str) -> tuple[bytes, bytes, bytes]:
    parts = blob.split(":")
    if len(parts) < 3:
        raise UnreadableImport(f"{field} must be three base64 parts separated by ':'")
    try:
        ciphertext, salt, iv = (base64.b64decode(part, validate=True) for part in parts[:3])
    except (binascii.Error, ValueError):
        raise UnreadableImport(f"{field} is not valid base64") from None
    if not salt or not iv:
        raise UnreadableImport(f"{field} has an empty salt or IV")
    return ciphertext, salt, iv


def _open(key: bytes, iv: bytes, ciphertext: bytes) -> bytes | None:
    """AES-256-GCM as Java's AES/GCM/NoPadding: None when the tag does not verify."""
    try:
        return AESGCM(key).decrypt(iv, ciphertext, None)
    except InvalidTag:
        return None
    except ValueError:
        raise UnreadableImport("the encrypted data has an IV of an impossible length") from None


def _draft(service: object) -> AccountDraft:
    fields = require_obj(service, "the service")
    otp = get_obj(fields, "otp")
    secret = base32_secret(get_str(fields, "secret"))
    token_type = get_str(otp, "tokenType", default="TOTP").upper()
    kind = _KINDS.get(token_type)
    if kind is None:
        raise MalformedEntry(
            "tokenType", f"unknown tokenType {token_type[:20]!r}: 2FAS writes TOTP, HOTP or STEAM"
        )
    if kind is OtpKind.STEAM:
        params = OtpParams.create(kind, secret)
    else:
        params = OtpParams.create(
            kind,
            secret,
            algorithm=get_str(otp, "algorithm", default="SHA1"),
            digits=get_int(otp, "digits", default=6, lenient=True),
            period=get_int(otp, "period", default=30, lenient=True),
        )
    counter = get_int(otp, "counter", default=0, lenient=True) if kind is OtpKind.HOTP else 0
    name = get_str(otp, "account", default="") or get_str(otp, "label", default="")
    issuer = get_str(fields, "name", default="") or get_str(otp, "issuer", default="")
    return AccountDraft(issuer=issuer.strip(), name=name.strip(), otp=params, counter=counter)
