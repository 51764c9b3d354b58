"""The daemon's live events (GET /events, server-sent events), read line by line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from .models import JsonObject, _Fields, _mismatch


@dataclass(frozen=True)
class Event:
    """One event: `kind` is hello, accounts, devices, peers, sync, pairing or lock (the vault
    locked or unlocked, in passphrase mode; see the spec)."""

    kind: str
    data: JsonObject = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True)
class SignInLink:
    """A one-time link that signs a browser in to the web page; it works once, briefly."""

    url: str = field(repr=False)
    expires_at: datetime

    @classmethod
    def from_json(cls, obj: object) -> Self:
        f = _Fields("a sign-in link", obj)
        return cls(url=f.text("url"), expires_at=f.time("expires_at"))


async def read_events(lines: AsyncIterable[bytes]) -> AsyncIterator[Event]:
    """Parse a text/event-stream (the WHATWG rules this daemon's stream needs: event, data,
    id, comments, blank-line dispatch) into events."""
    kind, event_id = "message", None
    data: list[str] = []
    async for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield Event(kind, _payload("\n".join(data)), event_id)
            kind, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id" and value.isdigit():
            event_id = int(value)


def _payload(text: str) -> JsonObject:
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise _mismatch(f"the daemon sent an event whose data is not JSON: {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise _mismatch("the daemon sent an event whose data is not a JSON object")
    return value
