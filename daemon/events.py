"""What happens in the daemon, told to whoever listens: the API's event stream feeds on it.

Publishing never blocks and never fails: each listener has a bounded queue,
and one that falls too far behind is cut off (its stream ends, and the client
reconnects and refetches), so a stalled browser tab cannot hold memory or
slow the vault down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Any, Final

log = logging.getLogger(__name__)

QUEUE_LIMIT: Final = 256
KINDS: Final = ("accounts", "devices", "peers", "sync", "pairing", "lock")


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its kind (the SSE event name), a JSON-able body, and a serial number."""

    id: int
    kind: str
    data: dict[str, Any]


class Listener:
    """One subscriber's queue; `None` in it means the stream must end."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_LIMIT)

    def put(self, event: Event | None) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    async def get(self) -> Event | None:
        return await self._queue.get()

    def stop(self) -> None:
        """End the stream, making room for the end if the queue is full."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of events to listeners, each with its own bounded queue."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()
        self._serial = itertools.count(1)

    @property
    def listened(self) -> bool:
        """Whether anyone listens, so a publisher can skip working out what to say."""
        return bool(self._listeners)

    def subscribe(self) -> Listener:
        listener = Listener(self)
        self._listeners.add(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    def publish(self, kind: str, **data: Any) -> None:
        """Tell every listener; one whose queue is full is dropped and told to stop."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = Event(next(self._serial), kind, data)
        for listener in list(self._listeners):
            if not listener.put(event):
                log.info("an event listener fell %d events behind; closing it", QUEUE_LIMIT)
                self._listeners.discard(listener)
                listener.stop()

    def close(self) -> None:
        """End every stream (daemon shutdown)."""
        for listener in list(self._listeners):
            listener.stop()
        self._listeners.clear()
