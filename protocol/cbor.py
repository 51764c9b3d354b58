"""CBOR (RFC 8949) encoding of op bodies, with decoding that never leaks library errors."""

from __future__ import annotations

import io
from typing import Any

import cbor2

from .errors import MalformedPayload


def dumps(value: Any) -> bytes:
    """Deterministic CBOR (RFC 8949 section 4.2): the same value gives the same bytes."""
    return cbor2.dumps(value, canonical=True)


def loads(data: bytes, what: str) -> Any:
    """Decode one CBOR item from a peer; anything unreadable is a MalformedPayload."""
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream).decode()
    except Exception as exc:
        raise MalformedPayload(f"{what} is not valid CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise MalformedPayload(f"{what} has {len(data) - stream.tell()} stray bytes after it")
    return value
