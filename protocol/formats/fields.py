"""Typed reads from JSON that another app wrote, each failing with an error that names the field.

Exports in the wild drift between app versions: a number written as a string,
a field left out. These getters accept exactly what the callers say they
accept and raise `MalformedEntry` otherwise, so a reader never trips over a
KeyError or a TypeError that would stop the whole import.

Before a file's JSON is built, its shape is measured on the bytes in linear
time (`_measure`): nesting deeper than `MAX_JSON_DEPTH` or more than
`MAX_JSON_CONTAINERS` objects and lists is refused, since a document is built
at some 25 times its size when it is all small containers (a 16 MiB file of
900-deep arrays took 5.75 s and 771 MiB to refuse). Real exports nest 4 to 7
deep (Bitwarden's item, login, uris, uri is the deepest) and hold a few
containers per entry; 10,000 entries of the most nested (a Bitwarden item
with its login, uris, fields and history) stay under 200,000. Within
`parsed_once`, the same bytes object is parsed once, however many times it is
asked for: detection and then the reader share the document.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import accumulate
from typing import Any, Final

from ..errors import InputError, UnreadableImport
from .entries import check_size

MAX_JSON_DEPTH: Final = 32
MAX_JSON_CONTAINERS: Final = 1_000_000

_MISSING: Any = object()
_CHUNK: Final = 1 << 16
_QUOTE: Final = bytes(1 if byte == ord('"') else 0 for byte in range(256))
_BRACKET: Final = bytes(1 if byte in b"[{" else 2 if byte in b"]}" else 0 for byte in range(256))
_NOT_SHAPE: Final = bytes(byte for byte in range(256) if byte not in b'"[]{}')
_STEPS: Final = bytes.maketrans(b"\x01\x02", b"\x01\xff")
_ONES: Final = int.from_bytes(b"\x01" * _CHUNK, "little")


class MalformedEntry(InputError):
    """One entry of an import file lacks a field or holds the wrong type."""


class _NotJson(Exception):
    """The bytes are not JSON at all; the caller words it (or, detecting, looks elsewhere)."""


class _Held:
    """The one document `parsed_once` keeps, and the very bytes object it was parsed from."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.doc: Any = _MISSING


_HELD: ContextVar[_Held | None] = ContextVar("twofold_parsed_json", default=None)


@contextmanager
def parsed_once(data: bytes) -> Iterator[None]:
    """Within the block, `data` (this very object) is parsed as JSON at most once."""
    token = _HELD.set(_Held(data))
    try:
        yield
    finally:
        _HELD.reset(token)


def load_json(data: bytes, what: str) -> Any:
    """Parse a whole file as JSON, or say plainly that it is not a `what` file."""
    try:
        return _document(data, f"this is not {what}")
    except _NotJson as error:
        raise UnreadableImport(f"this is not {what}: {error}") from None


def json_or_none(data: bytes) -> Any:
    """The file's JSON document for detection, or None when it is no JSON at all; a file
    whose JSON is over the bounds is still refused, with the reason."""
    try:
        return _document(data, "the file cannot be read")
    except _NotJson:
        return None


def _document(data: bytes, refusal: str) -> Any:
    held = _HELD.get()
    if held is not None and held.data is data and held.doc is not _MISSING:
        return held.doc
    check_size(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _NotJson("it is not UTF-8 text") from None
    _measure(data, refusal)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise _NotJson("the JSON nests too deeply") from None
    except ValueError as error:
        raise _NotJson(f"the JSON is broken ({error})") from None
    if held is not None and held.data is data:
        held.doc = doc
    return doc


def _measure(data: bytes, refusal: str) -> None:
    """Refuse JSON nested or containing more than any export, reading the bytes once.

    Only quotes and brackets matter, so the rest is dropped first (escaped
    backslashes and quotes made harmless before). A bracket is inside a string
    when an odd number of quotes come before it: that parity is a prefix XOR,
    done per 64 KiB chunk with a big integer holding a byte per position (log2
    of the chunk steps, each in C), so no Python code runs per byte or per
    string. Outside strings, depth is the running sum of +1 and -1 steps.
    """
    if b"\\" in data:
        data = data.replace(b"\\\\", b"  ").replace(b'\\"', b"  ")
    shape = data.translate(None, _NOT_SHAPE)
    inside = 0
    depth = deepest = containers = 0
    for start in range(0, len(shape), _CHUNK):
        chunk = shape[start : start + _CHUNK]
        size = len(chunk)
        parity = int.from_bytes(chunk.translate(_QUOTE), "little")
        shift = 8
        while shift < 8 * size:
            parity ^= parity << shift
            shift <<= 1
        if inside:
            parity ^= _ONES
        inside = (parity >> (8 * size - 8)) & 1
        codes = int.from_bytes(chunk.translate(_BRACKET), "little")
        outside = (codes & ~(parity * 3)).to_bytes(size, "little")
        steps = outside.translate(_STEPS, b"\x00")
        containers += steps.count(1)
        if containers > MAX_JSON_CONTAINERS:
            raise UnreadableImport(
                f"{refusal}: its JSON holds more than {MAX_JSON_CONTAINERS:,} objects and "
                "lists, which no export does"
            )
        if not steps:
            continue
        sums = list(accumulate(array("b", steps), initial=depth))
        deepest = max(deepest, max(sums))
        if deepest > MAX_JSON_DEPTH:
            raise UnreadableImport(
                f"{refusal}: its JSON nests {deepest} or more levels deep, and no export "
                f"nests more than {MAX_JSON_DEPTH}"
            )
        if min(sums) < 0:
            raise _NotJson("the JSON is broken (a bracket closes what was never opened)")
        depth = sums[-1]
    if depth:
        raise _NotJson("the JSON is broken (a bracket is never closed: the file is cut short)")


def load_json_text(text: str, what: str) -> Any:
    """Parse JSON that was itself inside a file (a decrypted payload), within the same bounds
    as a whole file."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a JSON escape one level up
        raise UnreadableImport(f"this is not {what}: it holds a lone surrogate") from None
    return load_json(data, what)


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
    digits = isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
    if lenient and digits and len(value) < 20:  # "²".isdigit(), and int("²") raises
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
