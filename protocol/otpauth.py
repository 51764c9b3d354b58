"""Key URIs (Google Authenticator's otpauth:// format): what QR codes and other apps' exports hold.

Theory of operation. The URI is split by hand, not by urllib: labels in the
wild carry an unescaped '#', which urllib would take for a fragment.

    otpauth://TYPE/LABEL?PARAMS      TYPE: totp, hotp, steam, yaotp (or yandex)
    motp://LABEL?PARAMS              mOTP as Aegis and privacyIDEA write it

- The label is everything between the type's '/' and the first '?'. It splits
  into issuer and name at its first literal ':'; when it has none, at its first
  "%3A" (Google's spec allows an encoded separator, and generators that run
  encodeURIComponent over "Issuer:name" produce one). Then each part is
  percent-decoded ('+' stays '+', as in any URI path) and stripped of spaces.
- Parameter names are matched in any case; values are percent-decoded with
  '+' read as a space, as Android's Uri.getQueryParameter does (Aegis and
  Google Authenticator read them that way). A parameter given twice must
  carry the same value. Unknown parameters are ignored.
- Issuer: the `issuer` parameter wins over the label prefix when both are
  present and differ (the spec says they should match; the parameter is the
  one made to be read by machines). The name is what follows the separator.
- Steam: `otpauth://steam/...` (Aegis) or `otpauth://totp/...?encoder=steam`
  (KeePassXC). Digits, period and algorithm, when given, must match Steam's.
- PINs: `pin` holds the PIN as plain digits or, as Aegis writes yaotp URIs, as
  the base32 of its UTF-8 bytes (a base32 PIN of digits always starts with
  'G', so the two never collide). A URI without one can be read when the
  caller passes the PIN the person typed.
- `algorithm` is read in any case, with or without an "HMAC-" prefix; MD5 is
  accepted for totp and hotp (account.py says how its codes are truncated).
- `counter` is required for hotp and ignored for every other type, as Aegis
  ignores it.

emit_uri writes the canonical form: literal ':' between issuer and name, every
other reserved character percent-encoded (so ':' inside an issuer or a name
round-trips), the secret unpadded upper-case base32 (hex for motp, as Aegis),
and parameters in a fixed order. The account's note is not part of a URI.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote, unquote, unquote_plus

from .account import (
    AccountDraft,
    HashAlgorithm,
    OtpKind,
    OtpParams,
    base32_secret,
    secret_to_base32,
)
from .errors import InvalidAccount, InvalidUri
from .text import check_text, check_visible

MAX_URI_CHARS: Final = 65536

_OTPAUTH: Final = "otpauth://"
_MOTP: Final = "motp://"
_TYPES: Final = {
    "totp": OtpKind.TOTP,
    "hotp": OtpKind.HOTP,
    "steam": OtpKind.STEAM,
    "yaotp": OtpKind.YANDEX,
    "yandex": OtpKind.YANDEX,
}
_EMIT_TYPES: Final = {
    OtpKind.TOTP: "totp",
    OtpKind.HOTP: "hotp",
    OtpKind.STEAM: "steam",
    OtpKind.YANDEX: "yaotp",
}
_OTPAUTH_SHAPE: Final = re.compile(r"([^/?]*)(/[^?]*)?(?:\?(.*))?", re.DOTALL)
_ENCODED_COLON: Final = re.compile("%3a", re.IGNORECASE)
_WHOLE_NUMBER: Final = re.compile(r"[0-9]{1,20}")
_SAFE: Final = "@"
_KNOWN_PARAMS: Final = frozenset(
    {"secret", "issuer", "algorithm", "digits", "period", "counter", "pin", "encoder"}
)


def parse_uri(uri: str, *, pin: str | None = None, visible_only: bool = True) -> AccountDraft:
    """Read a scanned or pasted key URI, or say which field makes it unusable.

    `pin` is the PIN a person typed for a motp or yaotp URI that carries none. A label
    holding a character that hides or reorders text (protocol/text.py: a QR code can say
    "PayPal" while its issuer reads otherwise) is refused; an import passes
    `visible_only=False` and strips such characters itself, entry by entry, saying so.
    """
    if not isinstance(uri, str):
        raise InvalidUri("uri", "uri must be text")
    text = uri.strip()
    if len(text) > MAX_URI_CHARS:
        raise InvalidUri("uri", f"uri is longer than {MAX_URI_CHARS} characters")
    head = text[: len(_OTPAUTH)].lower()
    if head == _OTPAUTH:
        kind, raw_label, query = _split_otpauth(text[len(_OTPAUTH) :])
    elif head.startswith(_MOTP):
        raw_label, _, query = text[len(_MOTP) :].partition("?")
        kind = OtpKind.MOTP
    else:
        raise InvalidUri("uri", "uri must start with otpauth:// (or motp://)")
    params = _parse_query(query)
    kind = _apply_encoder(kind, params)
    issuer, name = _read_label(raw_label, params)
    if visible_only:
        check_visible(issuer, "issuer", error=InvalidUri)
        check_visible(name, "name", error=InvalidUri)
    secret = _read_secret(kind, params)
    try:
        otp = OtpParams.create(
            kind,
            secret,
            algorithm=_read_algorithm(params),
            digits=_read_number(params, "digits", "digits must be a whole number, such as 6"),
            period=_read_number(params, "period", "period must be a whole number of seconds"),
            pin=_read_pin(kind, params, pin),
        )
        counter = 0
        if kind is OtpKind.HOTP:
            if "counter" not in params:
                raise InvalidUri("counter", "hotp needs a counter")
            counter = (
                _read_number(params, "counter", "counter must be a whole number, 0 or more") or 0
            )
        return AccountDraft(issuer=issuer, name=name, otp=otp, counter=counter)
    except InvalidAccount as error:
        raise InvalidUri(error.field, error.detail) from None


def emit_uri(draft: AccountDraft) -> str:
    """Write an account as a URI other apps import and parse_uri reads back unchanged."""
    otp = draft.otp
    params: list[tuple[str, str]] = []
    if otp.kind is OtpKind.MOTP:
        params.append(("secret", otp.secret.hex()))
    else:
        params.append(("secret", secret_to_base32(otp.secret)))
    if draft.issuer:
        params.append(("issuer", draft.issuer))
    if otp.kind is not OtpKind.MOTP:
        params.append(("algorithm", otp.algorithm.value))
        params.append(("digits", str(otp.digits)))
        params.append(("period", str(otp.period)))
    if otp.kind is OtpKind.HOTP:
        params.append(("counter", str(draft.counter)))
    if otp.kind is OtpKind.YANDEX and otp.pin is not None:
        params.append(("pin", secret_to_base32(otp.pin.encode())))
    elif otp.kind is OtpKind.MOTP and otp.pin is not None:
        params.append(("pin", otp.pin))
    query = "&".join(f"{key}={quote(value, safe=_SAFE)}" for key, value in params)
    label = _emit_label(draft.issuer, draft.name)
    if otp.kind is OtpKind.MOTP:
        return f"{_MOTP}{label}?{query}"
    return f"{_OTPAUTH}{_EMIT_TYPES[otp.kind]}/{label}?{query}"


def with_label(uri: str, issuer: str, name: str) -> str:
    """Label a URI that has none from the entry around it: Bitwarden and Proton store URIs
    with an empty label and keep the name beside them, which parse_uri alone would refuse.

    A label is percent-encoded UTF-8, which cannot carry a lone surrogate: an issuer or
    name holding one is refused (InvalidAccount), as an account holding one is
    (account.check_label), so the entry fails alone and says why."""
    head, sep, query = uri.partition("?")
    kind, _, label = head[len(_OTPAUTH) :].partition("/")
    if not head.lower().startswith(_OTPAUTH) or label.strip() or not (issuer or name):
        return uri
    check_text(issuer, "issuer")
    check_text(name, "name")
    filled = f"{quote(issuer, safe='')}:{quote(name, safe='')}"
    return f"{head[: len(_OTPAUTH)]}{kind}/{filled}{sep}{query}"


def _split_otpauth(rest: str) -> tuple[OtpKind, str, str]:
    match = _OTPAUTH_SHAPE.fullmatch(rest)
    if match is None:
        raise InvalidUri("uri", "uri cannot be read")
    raw_type, raw_label, query = match[1], match[2], match[3] or ""
    if not raw_type:
        raise InvalidUri("type", "the uri has no type: write otpauth://totp/...")
    kind = _TYPES.get(raw_type.lower())
    if kind is None:
        raise InvalidUri(
            "type",
            f"unknown type {raw_type[:20]!r}: an otpauth:// link is totp, hotp, steam or yaotp "
            "(Yandex); a motp:// link is mOTP",
        )
    if raw_label is None:
        raise InvalidUri("label", "the uri has no label: write otpauth://TYPE/Issuer:name?...")
    return kind, raw_label[1:], query


def _parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        raw_key, _, raw_value = piece.partition("=")
        key = unquote_plus(raw_key).strip().lower()
        if key not in _KNOWN_PARAMS:
            continue
        value = _decode(raw_value, key, plus=True).strip()
        if key in params and params[key] != value:
            raise InvalidUri(key, f"{key} is given twice with different values")
        params[key] = value
    return params


def _decode(raw: str, field: str, *, plus: bool) -> str:
    try:
        if plus:
            return unquote_plus(raw, errors="strict")
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise InvalidUri(field, f"{field} is not valid UTF-8 once percent-decoded") from None


def _apply_encoder(kind: OtpKind, params: dict[str, str]) -> OtpKind:
    encoder = params.get("encoder")
    if encoder is None:
        return kind
    if encoder.lower() != "steam" or kind not in (OtpKind.TOTP, OtpKind.STEAM):
        raise InvalidUri("encoder", "encoder can only be steam, on a totp uri")
    return OtpKind.STEAM


def _read_label(raw: str, params: dict[str, str]) -> tuple[str, str]:
    separator = raw.find(":")
    width = 1
    if separator < 0:
        encoded = _ENCODED_COLON.search(raw)
        separator, width = (encoded.start(), 3) if encoded else (-1, 0)
    if separator < 0:
        prefix, name = "", _decode(raw, "name", plus=False).strip()
    else:
        prefix = _decode(raw[:separator], "issuer", plus=False).strip()
        name = _decode(raw[separator + width :], "name", plus=False).strip()
    if not prefix and not name:
        raise InvalidUri("label", "label is empty: the uri must name the account")
    return params.get("issuer") or prefix, name


def _read_secret(kind: OtpKind, params: dict[str, str]) -> bytes:
    if "secret" not in params:
        raise InvalidUri("secret", "the uri has no secret")
    text = params["secret"]
    if not text:
        raise InvalidUri("secret", "secret is empty")
    if kind is not OtpKind.MOTP:
        return base32_secret(text, "secret", error=InvalidUri)
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidUri("secret", "secret is not valid hexadecimal") from None


def _read_algorithm(params: dict[str, str]) -> HashAlgorithm | None:
    if "algorithm" not in params:
        return None
    spelled = params["algorithm"]
    if not spelled.isascii():  # long s (U+017F) upper-cases to S: only ASCII is read in any case
        raise InvalidUri("algorithm", "algorithm must be SHA1, SHA256, SHA512 or MD5")
    spelled = spelled.upper().replace("-", "").replace("_", "")
    spelled = spelled.removeprefix("HMAC")
    try:
        return HashAlgorithm(spelled)
    except ValueError:
        raise InvalidUri("algorithm", "algorithm must be SHA1, SHA256, SHA512 or MD5") from None


def _read_number(params: dict[str, str], key: str, complaint: str) -> int | None:
    if key not in params:
        return None
    value = params[key]
    if not _WHOLE_NUMBER.fullmatch(value):
        raise InvalidUri(key, complaint)
    return int(value)


def _read_pin(kind: OtpKind, params: dict[str, str], typed: str | None) -> str | None:
    if kind not in (OtpKind.MOTP, OtpKind.YANDEX):
        return None
    value = params.get("pin", "")
    if not value:
        if typed is None:
            raise InvalidUri("pin", f"{kind} needs a PIN and the uri carries none: ask for it")
        return typed
    if value.isascii() and value.isdigit():
        return value
    try:
        return base32_secret(value, "pin", error=InvalidUri).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUri("pin", "pin must be digits, or base32 of them") from None


def _emit_label(issuer: str, name: str) -> str:
    quoted_name = quote(name, safe=_SAFE)
    if issuer:
        return f"{quote(issuer, safe=_SAFE)}:{quoted_name}"
    if ":" in name:
        return f":{quoted_name}"
    return quoted_name
