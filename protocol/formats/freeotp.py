"""FreeOTP+'s JSON export: {"tokenOrder": [...], "tokens": [...]}, one token per account.

Followed: helloworld1/FreeOTPPlus, token-data/.../legacy/Token.java (the token
Gson writes, field for field), SavedTokens.java (the top level) and
legacy/ImportExportUtil.kt (the export), and beemdevelopment/Aegis
app/.../importers/FreeOtpImporter.java with FreeOtpPlusImporter.java, how
another app imports them.

- `secret` is the key's bytes as Java writes a byte[]: signed, -128 to 127.
  Values up to 255 are taken too, as Aegis casts each with (byte).
- `type` is TOTP or HOTP. A TOTP token whose `issuerExt` is "Steam" makes
  Steam codes in FreeOTP (Token.getHOTP) and Aegis imports it as steam; so
  does this reader.
- The issuer is `issuerAlt` (a person's edit), else `issuerExt` (the label's
  prefix), else `issuerInt` (the URI's issuer parameter), as Token.getIssuer
  picks; the name is `labelAlt`, else `label`, as Token.getLabel.
- `counter` is one less than the URI's: Token parses `counter - 1` and its
  toUri writes `counter + 1` (Aegis's importer test notes it too, "FreeOTP adds
  -1 to the counter"). Twofold's counter is the URI's, so one is added back;
  a token made from counter=0 is stored as -1 and becomes 0.
- `algo`, `digits` and `period` are taken as written; `image` is not imported.
  FreeOTP+ imports only the tokens `tokenOrder` names; this reader imports
  every token, in the file's order.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from ..account import AccountDraft, OtpKind, OtpParams
from ..errors import UnreadableImport
from .entries import Collector, ParsedFile, describe
from .fields import MalformedEntry, get_int, get_list, get_str, load_json, require_obj

FORMAT: Final = "freeotp"

_WHAT: Final = "a FreeOTP+ export"
_STEAM_ISSUER: Final = "Steam"


def matches(doc: object) -> bool:
    """FreeOTP+ always writes both lists, `tokens` and `tokenOrder`, and nothing else does."""
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("tokens"), list)
        and isinstance(doc.get("tokenOrder"), list)
    )


def parse(data: bytes, password: str | None = None) -> ParsedFile:
    """Read a FreeOTP+ JSON export; `password` is unused, since the export is never encrypted."""
    doc = load_json(data, _WHAT)
    tokens = doc.get("tokens") if isinstance(doc, dict) else None
    if not isinstance(tokens, list):
        raise UnreadableImport("this is not a FreeOTP+ export: it has no list of tokens")
    collector = Collector(FORMAT)
    for index, raw in enumerate(tokens):
        fields = raw if isinstance(raw, dict) else {}
        issuer, name = _labels(fields)
        collector.entry(describe(index, issuer, name), partial(_token, raw))
    return collector.result()


def _token(raw: object) -> AccountDraft:
    token = require_obj(raw, "the token")
    type_name = get_str(token, "type")
    if type_name.upper() == "TOTP":
        steam = token.get("issuerExt") == _STEAM_ISSUER
        kind = OtpKind.STEAM if steam else OtpKind.TOTP
    elif type_name.upper() == "HOTP":
        kind = OtpKind.HOTP
    else:
        raise MalformedEntry(
            "type", f"Twofold cannot import {type_name[:20]!r} tokens (TOTP, HOTP)"
        )
    otp = OtpParams.create(
        kind,
        _secret(get_list(token, "secret")),
        algorithm=get_str(token, "algo", default="SHA1"),
        digits=_optional_int(token, "digits"),
        period=_optional_int(token, "period"),
    )
    issuer, name = _labels(token)
    if not isinstance(issuer, str) or not isinstance(name, str):
        raise MalformedEntry("label", "the token's issuer and label must be text")
    return AccountDraft(
        issuer=issuer.strip(),
        name=name.strip(),
        otp=otp,
        counter=get_int(token, "counter") + 1 if kind is OtpKind.HOTP else 0,
    )


def _labels(token: dict[str, Any]) -> tuple[Any, Any]:
    """Issuer and name as FreeOTP shows them; not yet checked to be text."""
    issuer = next(
        (token[key] for key in ("issuerAlt", "issuerExt", "issuerInt") if token.get(key)), ""
    )
    name = token.get("labelAlt")
    if name is None:
        name = token.get("label") or ""
    return issuer, name


def _secret(values: list[Any]) -> bytes:
    if not all(isinstance(v, int) and not isinstance(v, bool) and -128 <= v <= 255 for v in values):
        raise MalformedEntry("secret", "secret must be a list of byte values, -128 to 255")
    return bytes(v & 0xFF for v in values)


def _optional_int(doc: dict[str, Any], key: str) -> int | None:
    return None if doc.get(key) is None else get_int(doc, key)
