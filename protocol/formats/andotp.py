"""andOTP's plain JSON backup: a list of entries, each one account.

Followed: andOTP/andOTP app/.../Database/Entry.java, which writes (toJSON) and
reads (its JSONObject constructor) each entry, and
beemdevelopment/Aegis app/.../importers/AndOtpImporter.java, how another app
imports them.

- `secret` is base32, in any case and with padding (Entry.java decodes it
  upper-cased); `label` is required.
- `type` is TOTP, HOTP or STEAM; missing, it is TOTP, as andOTP reads it. Any
  other value fails that entry: reading it as TOTP, as andOTP does, would give
  wrong codes without a word.
- `algorithm` (SHA1, SHA256, SHA512) defaults to SHA1 and `digits` to 6, as
  andOTP's reader defaults them (5 for STEAM, whose codes have no other
  length); `period` belongs to TOTP and STEAM (andOTP writes none for
  STEAM, so 30, as AndOtpImporter's optInt), `counter` to HOTP and is required
  there. andOTP shows the HOTP code of `counter`, as Aegis does, so the counter
  is kept as it is.
- `issuer` is its own field; older backups have none and kept
  "Issuer - name" in `label` ("Older backup version did not save issuer and
  label separately", Entry.java). AndOtpImporter then splits the label at
  " - " into issuer and name; so does this reader, except that a label with
  more than one " - " keeps everything after the first in the name, where
  Aegis drops it.
- `thumbnail`, `tags`, `last_used` and `used_frequency` are not imported.

andOTP's encrypted backups are not JSON, so they are not read here.
"""

from __future__ import annotations

from typing import Any, Final

from ..account import AccountDraft, OtpKind, OtpParams, base32_secret
from ..errors import UnreadableImport
from .entries import Collector, ParsedFile
from .fields import MalformedEntry, get_int, get_str, load_json, require_obj

FORMAT: Final = "andotp"

_WHAT: Final = "an andOTP backup"
_KINDS: Final = {"TOTP": OtpKind.TOTP, "HOTP": OtpKind.HOTP, "STEAM": OtpKind.STEAM}
_OLD_SEPARATOR: Final = " - "


def matches(doc: object) -> bool:
    """andOTP writes a bare JSON list whose entries carry a secret and a label."""
    if not isinstance(doc, list) or not doc:
        return False
    first = doc[0]
    return isinstance(first, dict) and "secret" in first and "label" in first


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a plain andOTP backup; `password` is unused, since only plain backups are JSON."""
    doc = load_json(data, _WHAT)
    if not isinstance(doc, list):
        raise UnreadableImport("this is not an andOTP backup: andOTP writes a JSON list")
    collector = Collector(FORMAT)
    collector.each(doc, _entry, name="label")
    return collector.result()


def _entry(raw: object) -> AccountDraft:
    entry = require_obj(raw, "the entry")
    type_name = get_str(entry, "type", default="TOTP")
    kind = _KINDS.get(type_name.upper())
    if kind is None:
        raise MalformedEntry(
            "type", f"Twofold cannot import {type_name[:20]!r} entries (TOTP, HOTP, STEAM)"
        )
    secret = base32_secret(get_str(entry, "secret"), error=MalformedEntry)
    otp = OtpParams.create(
        kind,
        secret,
        algorithm=get_str(entry, "algorithm", default="SHA1"),
        digits=_optional_int(entry, "digits"),
        period=None if kind is OtpKind.HOTP else _optional_int(entry, "period"),
    )
    issuer, name = _labels(entry)
    return AccountDraft(
        issuer=issuer,
        name=name,
        otp=otp,
        counter=get_int(entry, "counter") if kind is OtpKind.HOTP else 0,
    )


def _labels(entry: dict[str, Any]) -> tuple[str, str]:
    label = get_str(entry, "label")
    if entry.get("issuer") is not None:
        return get_str(entry, "issuer").strip(), label.strip()
    parts = label.split(_OLD_SEPARATOR)
    while parts and not parts[-1]:
        parts.pop()
    if len(parts) > 1:
        return parts[0].strip(), _OLD_SEPARATOR.join(parts[1:]).strip()
    return "", (parts[0] if parts else "").strip()


def _optional_int(doc: dict[str, Any], key: str) -> int | None:
    return None if doc.get(key) is None else get_int(doc, key)
