"""CBOR (RFC 8949) encoding of op bodies, with decoding that never leaks library errors.

Only the CBOR Twofold writes is read: integers (major types 0 and 1, so within
-2^64 to 2^64 - 1), byte and text strings, arrays, maps, false, true, null and
floats. Tags (bignums, dates, regular expressions, shared references, sets...)
and other simple values are refused before anything is built: no Twofold
message holds one, and each is a way for a stranger's bytes to become an object
no check expects (an integer too long to print, a cycle, a compiled pattern).
"""

from __future__ import annotations

import io
from typing import Any, Final

import cbor2

from .errors import MalformedPayload

MAX_DEPTH: Final = 400  # cbor2's own limit; deeper input is cbor2's to refuse
_SIMPLE_KEPT: Final = frozenset({20, 21, 22, 25, 26, 27})  # false, true, null, floats
_BREAK: Final = 0xFF


class TrailingBytes(MalformedPayload):
    """One whole CBOR item, followed by bytes that belong to none."""


def dumps(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 section 4.2): the same value gives the same bytes."""
    return cbor2.dumps(value, canonical=True)


def loads(data: bytes, what: str) -> Any:
    """Decode one CBOR item from a peer; anything unreadable is a MalformedPayload."""
    _refuse_foreign(data, what)
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except cbor2.CBORDecodeError as exc:  # what cbor2 raises for any bytes it cannot read
        raise MalformedPayload(f"{what} is not valid CBOR: {str(exc)[:200]}") from exc
    if stream.tell() != len(data):
        raise TrailingBytes(f"{what} has {len(data) - stream.tell()} stray bytes after it")
    return value


def _refuse_foreign(data: bytes, what: str) -> None:
    """Walk the item's heads (string contents are skipped) and refuse a tag or a simple
    value Twofold never writes, and a map that names a key twice or keys by a container.
    Bytes that are not well formed are left for cbor2 to refuse: this walk stops where it
    can go no further.

    A map's duplicate key would be read as the decoder likes (cbor2 keeps the last value,
    another implementation the first): RFC 8949 calls such a map invalid, and so a signed
    body meaning two things to two readers is refused. Keys are compared as the values the
    decoder makes of them, so what it would merge is what is refused (1 written in two
    widths, 1 and 1.0, 1 and true)."""
    pos, end = 0, len(data)
    pending = [1]  # items still to read in each open container; -1: until a break
    taken: list[set[object] | None] = [None]  # each open map's keys so far, by value
    read = [0]  # items read so far in each open container
    while pending:
        if pending[-1] == 0:
            pending.pop()
            taken.pop()
            read.pop()
            continue
        if pos >= end or len(pending) > MAX_DEPTH + 1:
            return
        head = data[pos]
        start = pos
        pos += 1
        if head == _BREAK:
            if pending[-1] != -1:
                return
            pending.pop()
            taken.pop()
            read.pop()
            continue
        if pending[-1] > 0:
            pending[-1] -= 1
        keys = taken[-1] if read[-1] % 2 == 0 else None
        read[-1] += 1
        major, info = head >> 5, head & 31
        if major == 6:
            raise MalformedPayload(f"{what} holds a CBOR tag, which Twofold never writes")
        if major == 7:
            if info not in _SIMPLE_KEPT:
                raise MalformedPayload(
                    f"{what} holds a CBOR simple value other than false, true or null"
                )
            pos += (0, 2, 4, 8)[info - 24] if info >= 25 else 0
            if pos > end:
                return  # cut short: cbor2's to refuse
            if keys is not None:  # a float or false/true/null: its value, whatever its width
                _note_key(keys, cbor2.loads(data[start:pos]), what)
            continue
        if info < 24:
            argument = info
        elif info <= 27:
            size = 1 << (info - 24)
            argument = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        elif info == 31 and major >= 2:
            argument = -1
        else:
            return
        if keys is not None and (major >= 4 or argument < 0):
            raise MalformedPayload(f"{what} has a map keyed by a container or a split string")
        if major in (2, 3):
            if argument < 0:
                pending.append(-1)
                taken.append(None)
                read.append(0)
            else:
                pos += argument
                if keys is not None:
                    content: bytes | str = data[pos - argument : pos]
                    if major == 3:
                        try:
                            content = data[pos - argument : pos].decode("utf-8")
                        except UnicodeDecodeError:
                            return  # cbor2's to refuse
                    _note_key(keys, content, what)
        elif major == 4:
            pending.append(argument)
            taken.append(None)
            read.append(0)
        elif major == 5:
            pending.append(argument * 2 if argument >= 0 else -1)
            taken.append(set())
            read.append(0)
        else:
            _note_key(keys, argument if major == 0 else -1 - argument, what)


def _note_key(keys: set[object] | None, key: object, what: str) -> None:
    """One more key of the open map (None: the item is no map key)."""
    if keys is None:
        return
    if key in keys:
        raise MalformedPayload(f"{what} has a map that names one key twice")
    keys.add(key)
