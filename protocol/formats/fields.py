"""Typed reads from JSON that another app wrote, each failing with an error that names the field.

Exports in the wild drift between app versions: a number written as a string,
a field left out. These getters accept exactly what the callers say they
accept and raise `MalformedEntry` otherwise, so a reader never trips over a
KeyError or a TypeError that would stop the whole import.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError, UnreadableImport
from .entries import check_size

_MISSING: Any = object()


class MalformedEntry(InputError):
    """One entry of an import file lacks a field or holds the wrong type."""


def load_json(data: bytes, what: str) -> Any:
    """Parse a whole file as JSON, or say plainly that it is not a `what` file."""
    check_size(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableImport(f"this is not {what}: it is not UTF-8 text") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise UnreadableImport(f"this is not {what}: the JSON nests too deeply") from None
    except ValueError as error:
        raise UnreadableImport(f"this is not {what}: the JSON is broken ({error})") from None


def load_json_text(text: str, what: str) -> Any:
    """Parse JSON that was itself inside a file (a decrypted payload)."""
    return load_json(text.encode("utf-8"), what)


def get_obj(doc: object, key: str, *, default: Any = _MISSING) -> dict[str, Any]:
    value = _get(doc, key, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, dict):
        raise MalformedEntry(key, f"{key} must be a JSON object")
    return value


def get_list(doc: object, key: str, *, default: Any = _MISSING) -> list[Any]:
    value = _get(doc, key, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, list):
        raise MalformedEntry(key, f"{key} must be a JSON list")
    return value


def get_str(doc: object, key: str, *, default: Any = _MISSING) -> str:
    value = _get(doc, key, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if not isinstance(value, str):
        raise MalformedEntry(key, f"{key} must be text")
    return value


def get_int(doc: object, key: str, *, default: Any = _MISSING, lenient: bool = False) -> int:
    """A whole number; with `lenient`, also one written as a string of digits."""
    value = _get(doc, key, default)
    if value is default and default is not _MISSING:
        return value  # type: ignore[no-any-return]
    if lenient and isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedEntry(key, f"{key} must be a whole number")
    return value


def require_obj(value: object, what: str) -> dict[str, Any]:
    """An entry itself must be an object before any field of it is read."""
    if not isinstance(value, dict):
        raise MalformedEntry(None, f"{what} is not a JSON object")
    return value


def _get(doc: object, key: str, default: Any) -> Any:
    if not isinstance(doc, dict):
        raise MalformedEntry(key, f"expected a JSON object holding {key}")
    if key not in doc or doc[key] is None:
        if default is _MISSING:
            raise MalformedEntry(key, f"{key} is missing")
        return default
    return doc[key]
